import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { REPO_ROOT } from './harness.js';

let built: Promise<void> | undefined;

/**
 * Compiles every package the e2e tests spawn (incremental `tsc -b`, quick when nothing changed), so
 * `npx vitest run --project e2e` on its own runs the current code, as `npm test` (which builds first) does.
 */
export function buildAll(): Promise<void> {
  built ??= promisify(execFile)(
    'npx',
    [
      'tsc',
      '-b',
      'packages/server',
      'packages/desktop',
      'packages/cli',
      'packages/standin-idp',
      'packages/demo',
    ],
    { cwd: REPO_ROOT },
  ).then(
    () => undefined,
    (error: { stdout?: string; message: string }) => {
      throw new Error(`The build failed:\n${error.stdout ?? error.message}`);
    },
  );
  return built;
}
