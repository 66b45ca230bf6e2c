import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../test-support/server.js';
import { baseEnv, buildServer, REPO_ROOT, startLatchkey } from './test-support/run-latchkey.js';

const onNode20 = process.versions.node.startsWith('20.');
const FILTER = pathToFileURL(path.join(REPO_ROOT, 'packages/server/dist/cli/runtime-warning.js')).href;
let cwd = '';

beforeAll(async () => {
  await buildServer();
  cwd = await mkdtemp(path.join(os.tmpdir(), 'latchkey-runtime-'));
}, 240_000);
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

/** Runs a module script with Node, from the server package (where oidc-provider resolves). */
async function nodeScript(source: string): Promise<string> {
  const { stderr } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', source], {
    cwd: path.join(REPO_ROOT, 'packages/server'),
    env: baseEnv(),
  });
  return stderr;
}

describe.runIf(onNode20)('oidc-provider\'s "Unsupported runtime" line on Node 20', () => {
  it('is printed by the engine itself (what the filter exists for)', async () => {
    expect(await nodeScript("await import('oidc-provider');")).toMatch(
      /oidc-provider WARNING: Unsupported runtime/,
    );
  });

  it("is not in `latchkey serve`'s output (the command that loads the engine)", async () => {
    const port = await freePort();
    const server = startLatchkey(['serve'], { cwd, env: baseEnv({ LATCHKEY_PORT: String(port) }) });
    try {
      await server.waitFor(/127\.0\.0\.1:\d+/);
    } finally {
      server.child.kill('SIGTERM');
    }
    await server.exited;
    expect(server.output()).not.toMatch(/Unsupported runtime/);
  });

  it("is the only line dropped: other warnings, the engine's included, still print", async () => {
    const stderr = await nodeScript(
      `await import(${JSON.stringify(FILTER)}); await import('oidc-provider');
       console.warn('oidc-provider WARNING: a different warning');
       console.warn('Unsupported runtime.', 'with two arguments');`,
    );
    expect(stderr).not.toMatch(/WARNING: Unsupported runtime/);
    expect(stderr).toMatch(/oidc-provider WARNING: a different warning/);
    expect(stderr).toMatch(/Unsupported runtime\. with two arguments/);
  });
});
