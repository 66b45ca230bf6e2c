import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** The CLI's bin script; it runs the compiled `dist/main.js`. */
export const CLI_BIN = fileURLToPath(new URL('../../bin/latchkey-desktop.cjs', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/**
 * Compiles the SDK and the CLI (incremental `tsc -b`) and bundles the CLI, so spawned processes run
 * current code: the bin script runs the bundle, which `tsc` alone leaves stale.
 */
export async function buildCli(): Promise<void> {
  await promisify(execFile)('npx', ['tsc', '-b', 'packages/desktop', 'packages/cli'], { cwd: REPO_ROOT });
  await promisify(execFile)(process.execPath, ['packages/cli/scripts/bundle.mjs'], { cwd: REPO_ROOT });
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  readonly pid: number | undefined;
  /** Resolves with the first line of stdout or stderr matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  readonly exited: Promise<CliResult>;
  kill(signal?: NodeJS.Signals): void;
}

function cliEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(base)) if (key.startsWith('LATCHKEY_')) delete base[key];
  // The local socket goes in the cache directory unless a test sets its own runtime dir.
  delete base.XDG_RUNTIME_DIR;
  return { ...base, ...env };
}

/** Starts `latchkey-desktop <args>` in its own process (the compiled CLI). */
export function startCli(args: string[], env: Record<string, string | undefined> = {}): CliProcess {
  const child = spawn(process.execPath, [CLI_BIN, ...args], {
    env: cliEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const watchers: { pattern: RegExp; resolve(line: string): void }[] = [];
  const scan = (text: string) => {
    for (const line of text.split('\n')) {
      for (const watcher of [...watchers]) {
        if (watcher.pattern.test(line)) {
          watchers.splice(watchers.indexOf(watcher), 1);
          watcher.resolve(line);
        }
      }
    }
  };
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    scan(stdout);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    scan(stderr);
  });
  const exited = new Promise<CliResult>((resolve) => {
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return {
    pid: child.pid,
    exited,
    kill: (signal = 'SIGTERM') => void child.kill(signal),
    waitForLine(pattern, timeoutMs = 20_000) {
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `No line matching ${pattern} within ${timeoutMs} ms.\nstdout: ${stdout}\nstderr: ${stderr}`,
              ),
            ),
          timeoutMs,
        );
        const done = (line: string) => {
          clearTimeout(timer);
          resolve(line);
        };
        const existing = `${stdout}\n${stderr}`.split('\n').find((line) => pattern.test(line));
        if (existing) return done(existing);
        watchers.push({ pattern, resolve: done });
        void exited.then((result) => {
          clearTimeout(timer);
          reject(
            new Error(
              `The CLI exited (${result.code}) before printing ${pattern}.\nstdout: ${result.stdout}\nstderr: ${result.stderr}`,
            ),
          );
        });
      });
    },
  };
}

/** Runs `latchkey-desktop <args>` to completion. */
export function runCli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return startCli(args, env).exited;
}
