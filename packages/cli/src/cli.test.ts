import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../desktop/src/test-support/chromium.js';
import { driveAuthorization } from '../../desktop/src/test-support/drive.js';
import { startSecretService } from '../../desktop/src/test-support/secret-service.js';
import {
  startTestOp,
  TEST_API,
  TEST_CLIENT_ID,
  TEST_SCHEME_REDIRECT,
  TEST_USER,
  type TestOp,
} from '../../desktop/src/test-support/test-op.js';
import { buildCli, runCli, startCli } from './test-support/run-cli.js';

const URL_LINE = /^http:\/\/127\.0\.0\.1:\d+\/auth\?/;
let op: TestOp;
const directories: string[] = [];

async function tempDir(prefix = 'latchkey-cli-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  directories.push(dir);
  return dir;
}

/** A fresh "user profile": file store + cache directory, configured through the environment. */
async function profile(issuer = op.issuer): Promise<Record<string, string>> {
  const dir = await tempDir();
  return {
    LATCHKEY_ISSUER: issuer,
    LATCHKEY_CLIENT_ID: TEST_CLIENT_ID,
    LATCHKEY_REDIRECT_URI: TEST_SCHEME_REDIRECT,
    LATCHKEY_STORE: 'file',
    LATCHKEY_STORE_DIR: join(dir, 'tokens'),
    LATCHKEY_CACHE_DIR: join(dir, 'cache'),
    LATCHKEY_FILE_STORE_KEY: 'cli test key',
    LATCHKEY_RESOURCES: TEST_API,
    HOME: dir,
  };
}

/** Signs a profile in without a browser window (scheme flow, URL handed over by `open-url`). */
async function signIn(env: Record<string, string>): Promise<void> {
  const login = startCli(['login', '--flow', 'scheme', '--no-browser'], env);
  const redirect = await driveAuthorization(await login.waitForLine(URL_LINE));
  expect((await runCli(['open-url', redirect], env)).code).toBe(0);
  expect((await login.exited).code).toBe(0);
}

beforeAll(async () => {
  await buildCli();
  op = await startTestOp();
}, 120_000);

afterAll(async () => {
  await op?.close();
  for (const dir of directories) await rm(dir, { recursive: true, force: true });
});

describe('login', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('loopback flow driven in Chromium', async () => {
    const env = await profile();
    const login = startCli(['login', '--flow', 'loopback', '--no-browser', '--email', TEST_USER.email], env);
    const url = await login.waitForLine(URL_LINE);
    expect(new URL(url).searchParams.get('login_hint')).toBe(TEST_USER.email);
    const page = await browser.newPage();
    await page.goto(url);
    await page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(await page.textContent('h1')).toBe('Signed in');
    expect(await page.textContent('p')).toContain('You are signed in — return to latchkey-desktop.');
    await page.close();
    const result = await login.exited;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Signed in as ${TEST_USER.email}.`);
    // A new process signs in silently from the stored refresh token.
    const whoami = await runCli(['whoami', '--json'], env);
    expect(whoami.code).toBe(0);
    expect(JSON.parse(whoami.stdout)).toMatchObject({
      status: 'signed-in',
      account: { email: TEST_USER.email },
    });
  });

  it('scheme flow: open-url in a separate process forwards the URL to the waiting login', async () => {
    const env = await profile();
    const login = startCli(['login', '--flow', 'scheme', '--no-browser', '--json'], env);
    const redirect = await driveAuthorization(await login.waitForLine(URL_LINE));
    expect(redirect.startsWith(`${TEST_SCHEME_REDIRECT}?`)).toBe(true);
    const forwarded = await runCli(['open-url', redirect, '--json'], env);
    expect(forwarded.code).toBe(0);
    expect(JSON.parse(forwarded.stdout)).toMatchObject({
      handledBy: 'running-app',
      account: { email: TEST_USER.email },
    });
    const result = await login.exited;
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      status: 'signed-in',
      account: { email: TEST_USER.email },
    });
  });

  it('scheme flow, cold start: open-url finishes the sign-in when login is gone', async () => {
    const env = await profile();
    const login = startCli(['login', '--flow', 'scheme', '--no-browser'], env);
    const url = await login.waitForLine(URL_LINE);
    login.kill('SIGKILL');
    await login.exited;
    const redirect = await driveAuthorization(url);
    const cold = await runCli(['open-url', redirect], env);
    expect(cold.code).toBe(0);
    expect(cold.stdout).toContain(`Signed in as ${TEST_USER.email}.`);
    expect((await runCli(['whoami'], env)).stdout).toContain(TEST_USER.email);
    // The same URL again: its pending sign-in is used up.
    const again = await runCli(['open-url', redirect], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/No sign-in is waiting/);
  });

  it('device flow', async () => {
    const env = await profile();
    const login = startCli(['login', '--flow', 'device'], env);
    const code = (await login.waitForLine(/^ {4}[A-Z]{4}-[A-Z]{4}$/)).trim();
    await op.approveDeviceCode(code);
    const result = await login.exited;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Signed in as ${TEST_USER.email}.`);
    // How long the code works, in words and as a time of day (the server's device code lifetime).
    expect(result.stderr).toMatch(/The code expires in \d+ (minutes|seconds) \(at \d\d:\d\d\)\./);
    // Not a terminal: no QR code, unless asked for (the demo pipes the output to label it).
    expect(result.stderr).not.toMatch(/[▀▄█]/);
  });

  it('device flow with LATCHKEY_DESKTOP_QR=1 draws the QR code through a pipe', async () => {
    const env = await profile();
    const login = startCli(['login', '--flow', 'device'], { ...env, LATCHKEY_DESKTOP_QR: '1' });
    const code = (await login.waitForLine(/^ {4}[A-Z]{4}-[A-Z]{4}$/)).trim();
    await op.approveDeviceCode(code);
    const result = await login.exited;
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/[▀▄█]{10}/);
  });
});

describe('tokens', () => {
  it('token prints an access token for a resource from a new process', async () => {
    const env = await profile();
    await signIn(env);
    const result = await runCli(['token', '--resource', TEST_API, '--json'], env);
    expect(result.code).toBe(0);
    const { access_token: token } = JSON.parse(result.stdout);
    expect(JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).aud).toBe(TEST_API);
    const plain = await runCli(['token'], env);
    expect(plain.stdout.trim()).toMatch(/^\S+$/);
  });

  it('two processes refreshing at once both succeed (cross-process lock)', async () => {
    const env = await profile();
    await signIn(env);
    const before = op.tokenRequests.refresh_token ?? 0;
    const results = await Promise.all([1, 2, 3].map(() => runCli(['token'], env)));
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    // Each process presented the token the one before it stored: three rotations, no reuse.
    expect((op.tokenRequests.refresh_token ?? 0) - before).toBe(3);
    expect((await runCli(['whoami'], env)).code).toBe(0);
  });

  it('a revoked sign-in falls back to interaction with the last email', async () => {
    const env = await profile();
    await signIn(env);
    await op.revokeUser();
    const result = await runCli(['token', '--json'], env);
    expect(result.code).toBe(3);
    expect(JSON.parse(result.stdout)).toMatchObject({
      code: 'interaction_required',
      loginHint: TEST_USER.email,
    });
    expect(result.stderr).toContain(`latchkey-desktop login --email ${TEST_USER.email}`);
    const whoami = await runCli(['whoami'], env);
    expect(whoami.code).toBe(3);
  });

  it('whoami asks the server: a revoked sign-in is not reported as signed in', async () => {
    const env = await profile();
    await signIn(env);
    await op.revokeUser();
    const whoami = await runCli(['whoami', '--json'], env);
    expect(whoami.code).toBe(3);
    expect(JSON.parse(whoami.stdout)).toEqual({ status: 'signed-out', loginHint: TEST_USER.email });
  });

  it('offline start reports offline, not signed out', async () => {
    const offlineOp = await startTestOp();
    const env = await profile(offlineOp.issuer);
    await signIn(env);
    await offlineOp.close();
    const result = await runCli(['whoami', '--json'], env);
    expect(result.code).toBe(5);
    expect(JSON.parse(result.stdout)).toMatchObject({
      status: 'offline',
      account: { email: TEST_USER.email },
    });
  });

  it('logout revokes and clears', async () => {
    const env = await profile();
    await signIn(env);
    const result = await runCli(['logout', '--everywhere', '--no-browser'], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Signed out.');
    expect(result.stderr).toMatch(/session\/end\?.*id_token_hint=/);
    expect((await runCli(['whoami'], env)).code).toBe(3);
  });

  it('logout with nothing stored says so (not "server could not be reached")', async () => {
    const env = await profile();
    const result = await runCli(['logout'], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Not signed in on this device: nothing to revoke.');
    expect(result.stdout).not.toContain('could not be reached');
    const json = await runCli(['logout', '--json'], env);
    expect(JSON.parse(json.stdout)).toEqual({
      status: 'signed-out',
      revoked: false,
      revocation: 'not-signed-in',
    });
    // The same with the server down: what happened is still "nothing was stored".
    const down = await runCli(['logout'], { ...env, LATCHKEY_ISSUER: 'http://127.0.0.1:9' });
    expect(down.code).toBe(0);
    expect(down.stdout).toContain('Not signed in on this device: nothing to revoke.');
  });

  it('logout with the server down says the sign-in was only forgotten here', async () => {
    const downOp = await startTestOp();
    const env = await profile(downOp.issuer);
    await signIn(env);
    await downOp.close();
    const result = await runCli(['logout'], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('the server could not be reached');
    expect((await runCli(['whoami'], env)).code).toBe(3);
  });
});

describe('stores and setup', () => {
  it('explains a missing keychain and names the file store', async () => {
    const env = await profile();
    const result = await runCli(['whoami', '--store', 'keychain'], {
      ...env,
      DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus',
    });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain('--store file');
  });

  it('login without a usable keychain fails before the browser, and names the file store', async () => {
    const env = await profile();
    const login = startCli(['login', '--store', 'keychain', '--no-browser'], {
      ...env,
      DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus',
    });
    const timer = setTimeout(() => login.kill('SIGKILL'), 15_000);
    const result = await login.exited.finally(() => clearTimeout(timer));
    expect(result.stderr).not.toContain('Open this URL');
    expect(result.code).toBe(4);
    expect(result.stderr).toContain('--store file');
  });

  it('keeps the refresh token in the keychain (Secret Service) when one runs', async (context) => {
    const secretService = await startSecretService({ applyToProcess: false });
    if (!secretService.available) {
      console.warn(`[cli keychain] skipped: ${secretService.reason}`);
      context.skip();
    }
    try {
      const env = { ...(await profile()), LATCHKEY_STORE: 'keychain', ...secretService.env };
      await signIn(env);
      expect((await runCli(['whoami'], env)).stdout).toContain(TEST_USER.email);
      expect((await runCli(['logout'], env)).code).toBe(0);
    } finally {
      await secretService.stop();
    }
  });

  it('register-scheme registers with xdg-mime in a temporary HOME', async () => {
    const env = await profile();
    const result = await runCli(['register-scheme'], {
      ...env,
      XDG_DATA_HOME: undefined,
      XDG_CONFIG_HOME: undefined,
    });
    expect(result.code, result.stderr).toBe(0);
    const { stdout } = await promisify(execFile)(
      'xdg-mime',
      ['query', 'default', 'x-scheme-handler/com.example.app'],
      {
        env: { PATH: process.env.PATH, HOME: env.HOME },
      },
    );
    expect(stdout.trim()).toBe('latchkey-com.example.app.desktop');
    const entry = await readFile(
      join(env.HOME as string, '.local/share/applications/latchkey-com.example.app.desktop'),
      'utf8',
    );
    expect(entry).toMatch(
      /^Exec=.*latchkey-desktop\.cjs --issuer http:\/\/127\.0\.0\.1:\d+ .* open-url -- %u$/m,
    );
  });

  it('prints usage for unknown commands and missing configuration', async () => {
    expect((await runCli(['frobnicate'], await profile())).code).toBe(2);
    const missing = await runCli(['whoami'], { HOME: await tempDir() });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('LATCHKEY_ISSUER');
  });
});
