/**
 * Whole-flow test support: the real `latchkey serve` and `latchkey admin` processes on a fresh
 * database, the real `latchkey-desktop` processes with a private profile, and a `$BROWSER` hook that
 * hands every URL the CLI would open to the Chromium the test drives.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { type CliResult, runCli } from '../../packages/cli/src/test-support/run-cli.js';
import {
  createTestDatabaseUrl,
  type TestDatabaseKind,
} from '../../packages/server/src/test-support/databases.js';
import { freePort, TEST_SECRET } from '../../packages/server/src/test-support/server.js';
import { startTlsProxy, type TlsProxy } from '../../packages/server/src/test-support/tls-proxy.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SERVER_BIN = path.join(REPO_ROOT, 'packages/server/bin/latchkey.js');
const BROWSER_HOOK = fileURLToPath(new URL('./browser-hook.mjs', import.meta.url));

export const API = 'https://api.acme.test';
export const DESKTOP_SCHEME_REDIRECT = 'com.acme.desktop:/oauth2redirect';
/** The line `--no-browser` prints: the authorization request of the server under test. */
export const AUTH_URL_LINE = /^http:\/\/127\.0\.0\.1:\d+\/auth\?/;

/** Temporary folders made by this process; removed by {@link cleanUp}. */
const temporary: string[] = [];

export async function tempDir(prefix = 'latchkey-e2e-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  temporary.push(dir);
  return dir;
}

export async function cleanUp(): Promise<void> {
  for (const dir of temporary.splice(0)) await rm(dir, { recursive: true, force: true });
}

/** A queue of values delivered by one side and awaited by the other, with a timeout. */
export function queue<T>(what: string) {
  const ready: T[] = [];
  const waiters: ((value: T) => void)[] = [];
  return {
    push(value: T) {
      const waiter = waiters.shift();
      if (waiter) waiter(value);
      else ready.push(value);
    },
    next(timeoutMs = 20_000): Promise<T> {
      if (ready.length > 0) return Promise.resolve(ready.shift() as T);
      return new Promise<T>((resolve, reject) => {
        const waiter = (value: T) => {
          clearTimeout(timer);
          resolve(value);
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`no ${what} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
  };
}

export interface BrowserHook {
  /** `BROWSER` and the hook's address: add to a CLI's environment. */
  env: Record<string, string>;
  /** The next URL a CLI asked the system browser to open. */
  next(timeoutMs?: number): Promise<string>;
  close(): Promise<void>;
}

/**
 * A `$BROWSER` for the CLI under test: `latchkey-desktop login` opens the authorization URL the way it
 * does on a desktop (through `$BROWSER`, as xdg-open would), and the URL arrives here for Playwright.
 */
export async function startBrowserHook(): Promise<BrowserHook> {
  const urls = queue<string>('URL handed to the browser');
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      urls.push(body);
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    env: {
      BROWSER: `${process.execPath} ${BROWSER_HOOK}`,
      E2E_BROWSER_HOOK: `http://127.0.0.1:${port}/`,
    },
    next: (timeoutMs) => urls.next(timeoutMs),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A fresh desktop "user profile" for `latchkey-desktop`: file store and cache in a temp HOME. */
export async function desktopProfile(
  issuer: string,
  options: { clientId?: string; redirectUri?: string } = {},
): Promise<Record<string, string>> {
  const dir = await tempDir('latchkey-e2e-profile-');
  return {
    HOME: dir,
    LATCHKEY_ISSUER: issuer,
    LATCHKEY_CLIENT_ID: options.clientId ?? 'acme-desktop',
    LATCHKEY_REDIRECT_URI: options.redirectUri ?? DESKTOP_SCHEME_REDIRECT,
    LATCHKEY_STORE: 'file',
    LATCHKEY_STORE_DIR: path.join(dir, 'tokens'),
    LATCHKEY_CACHE_DIR: path.join(dir, 'cache'),
    LATCHKEY_FILE_STORE_KEY: 'e2e profile key',
    LATCHKEY_RESOURCES: API,
  };
}

export interface LatchkeyProcess {
  issuer: string;
  /** The TLS-terminating proxy in front, when `tlsProxy` was asked for; `issuer` is its URL. */
  proxy?: TlsProxy;
  databaseUrl: string;
  /** Environment for `latchkey` commands against this server (admin, migrate). */
  env: Record<string, string>;
  configPath: string;
  output(): string;
  /** SIGTERM, then waits for a graceful exit; resolves the exit code. */
  stop(): Promise<number | null>;
  /** Starts it again on the same issuer and database (after {@link stop}). */
  restart(): Promise<void>;
  dispose(): Promise<void>;
}

/** Environment for child processes: this process's, minus any LATCHKEY_* setting meant for others. */
function childEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('LATCHKEY_')) delete env[key];
  return { ...env, ...extra };
}

/** Polls `url` until it answers 200. */
export async function waitForHttp(url: string, timeoutMs = 30_000, isAlive: () => boolean = () => true) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (!isAlive()) throw new Error(`the process behind ${url} exited`);
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Starts `latchkey serve` (the compiled bin) as its own process on 127.0.0.1 with a fresh SQLite or
 * PostgreSQL database and the given configuration file.
 */
export async function startLatchkey(options: {
  yaml: string;
  kind?: TestDatabaseKind;
  /** Chosen beforehand when others must know it (an upstream IdP's redirect URI). */
  issuer?: string;
  /**
   * Put a TLS-terminating proxy (test-support/tls-proxy.ts) in front: the issuer becomes its https
   * URL, the server listens on its own port and trusts the proxy's forwarding headers.
   */
  tlsProxy?: boolean;
}): Promise<LatchkeyProcess> {
  const dir = await tempDir('latchkey-e2e-server-');
  const database = await createTestDatabaseUrl(options.kind ?? 'sqlite', dir);
  const configPath = path.join(dir, 'latchkey.yaml');
  await writeFile(configPath, options.yaml);
  const proxy = options.tlsProxy ? await startTlsProxy() : undefined;
  const directPort = await freePort();
  const direct = `http://127.0.0.1:${directPort}`;
  proxy?.setTarget(direct);
  const issuer = proxy?.url ?? options.issuer ?? direct;
  const env = {
    LATCHKEY_ISSUER: issuer,
    ...(proxy ? { LATCHKEY_PORT: String(directPort), LATCHKEY_TRUSTED_PROXIES: '127.0.0.1' } : {}),
    LATCHKEY_DATABASE_URL: database.url,
    LATCHKEY_SECRET: TEST_SECRET,
    LATCHKEY_CONFIG: configPath,
    LATCHKEY_LOG_LEVEL: 'warn',
  };
  let child: ChildProcess | undefined;
  let exited: Promise<number | null> = Promise.resolve(null);
  let output = '';
  const start = async () => {
    const proc = spawn(process.execPath, [SERVER_BIN, 'serve'], {
      cwd: dir,
      env: childEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let alive = true;
    exited = new Promise((resolve) =>
      proc.on('close', (code) => {
        alive = false;
        resolve(code);
      }),
    );
    proc.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    proc.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    try {
      await waitForHttp(`${proxy ? direct : issuer}/readyz`, 30_000, () => alive);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${output}`);
    }
  };
  await start();
  const stop = async () => {
    child?.kill('SIGTERM');
    child = undefined;
    return exited;
  };
  return {
    issuer,
    ...(proxy ? { proxy } : {}),
    databaseUrl: database.url,
    env,
    configPath,
    output: () => output,
    stop,
    restart: start,
    async dispose() {
      await proxy?.close();
      await stop();
      await database.drop();
    },
  };
}

/** Runs `latchkey <args>` (the compiled server CLI) against a server's database. */
export function runLatchkey(server: LatchkeyProcess, args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [SERVER_BIN, ...args], {
      env: childEnv(server.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    proc.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    proc.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Collects the Location of every redirect to a URL starting with `prefix`: for a private-use scheme
 * this is exactly what the OS hands to the app after the browser's "Open the app?" prompt.
 */
export function watchRedirects(context: BrowserContext, prefix: string) {
  const urls = queue<string>(`redirect to ${prefix}`);
  context.on('response', (response) => {
    const location = response.headers().location;
    if (location?.startsWith(prefix)) urls.push(location);
  });
  return urls;
}

/** Clicks the handoff button and resolves the app URL the click produced. */
export async function clickHandoff(
  page: Page,
  redirects: ReturnType<typeof watchRedirects>,
): Promise<string> {
  const next = redirects.next();
  await page.locator('#handoff').click();
  return next;
}

export { freePort, runCli };

/**
 * Saves a screenshot under test-results/<suite>/, and (for the journey's README pictures) under
 * `docs/journey/` when asked. Docs pictures are written when missing or when
 * `LATCHKEY_UPDATE_JOURNEY=1`, so a routine test run does not rewrite committed images.
 */
export async function shoot(page: Page, suite: string, name: string, docs = false): Promise<void> {
  const results = path.join(REPO_ROOT, 'test-results', suite);
  await mkdir(results, { recursive: true });
  const file = path.join(results, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  if (!docs) return;
  const target = path.join(REPO_ROOT, 'docs', 'journey', `${name}.png`);
  if (process.env.LATCHKEY_UPDATE_JOURNEY === '1' || !existsSync(target)) {
    await mkdir(path.dirname(target), { recursive: true });
    await page.screenshot({ path: target, fullPage: true });
  }
}
