/**
 * `latchkey-desktop watch` against a real Latchkey server: the CLI (its own process, the bundle)
 * signed in through the loopback flow, `watch` running, the user disabled with the admin CLI. The
 * CLI prints the sign-out with its reason, from the server's signed event over the stream that took
 * the session's DPoP proof (not the refresh fallback), and exits 3.
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli, runCli, startCli } from '../packages/cli/src/test-support/run-cli.js';
import { baseEnv, buildServer, latchkey } from '../packages/server/src/cli/test-support/run-latchkey.js';
import { startTestServer, TEST_SECRET, type TestServer } from '../packages/server/src/test-support/server.js';
import { API, AUTH_URL_LINE, cleanUp, desktopProfile } from './support/harness.js';
import { httpBrowser } from './support/http-browser.js';

const BOB = { email: 'bob@beta.test', password: 'correct horse battery staple' };

let server: TestServer;
let adminEnv: Record<string, string>;

beforeAll(async () => {
  await buildServer();
  await buildCli();
  server = await startTestServer({ kind: 'sqlite' });
  adminEnv = baseEnv({ LATCHKEY_DATABASE_URL: server.config.databaseUrl, LATCHKEY_SECRET: TEST_SECRET });
}, 240_000);

afterAll(async () => {
  await server?.dispose();
  await cleanUp();
});

describe('latchkey-desktop watch', () => {
  it('prints the server’s sign-out with its reason, signed, over the DPoP-bound stream, and exits 3', async () => {
    const profile = await desktopProfile(server.issuer);
    const login = startCli(['login', '--flow', 'loopback', '--no-browser'], profile);
    await httpBrowser(BOB)(await login.waitForLine(AUTH_URL_LINE));
    expect((await login.exited).code).toBe(0);

    // The session is DPoP-bound: its access token carries the key's thumbprint.
    const token = await runCli(['token', '--resource', API, '--json'], profile);
    expect(token.code, token.stderr).toBe(0);
    const claims = decodeJwt((JSON.parse(token.stdout) as { access_token: string }).access_token);
    expect((claims.cnf as { jkt?: string } | undefined)?.jkt).toMatch(/^[\w-]{43}$/);

    const watching = startCli(['watch', '--json'], profile);
    try {
      await watching.waitForLine(/^Watching the sign-in of bob@beta\.test/);
      // Let the stream connect (an access token, then the request with its proof).
      await new Promise((r) => setTimeout(r, 1_500));
      const disabled = await latchkey(['admin', 'users', 'disable', BOB.email], {
        cwd: process.cwd(),
        env: adminEnv,
      });
      expect(disabled.code, disabled.stderr).toBe(0);
      const result = await Promise.race([
        watching.exited,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('watch did not exit')), 15_000)),
      ]);
      expect(result.code, result.stderr).toBe(3);
      // `verified: true` and the reason only come from the server's signed event on the stream; the
      // refresh fallback would say `refresh_rejected`, unverified.
      expect(JSON.parse(result.stdout)).toMatchObject({
        status: 'signed-out',
        reason: 'user_disabled',
        verified: true,
        initiatingEntity: 'admin',
        loginHint: BOB.email,
      });
    } finally {
      watching.kill();
      await latchkey(['admin', 'users', 'enable', BOB.email], { cwd: process.cwd(), env: adminEnv });
    }
  }, 90_000);

  it('prints the human line: the reason and that the server signed it', async () => {
    const profile = await desktopProfile(server.issuer);
    const login = startCli(['login', '--flow', 'loopback', '--no-browser'], profile);
    await httpBrowser(BOB)(await login.waitForLine(AUTH_URL_LINE));
    expect((await login.exited).code).toBe(0);
    const watching = startCli(['watch'], profile);
    try {
      await watching.waitForLine(/^Watching the sign-in of bob@beta\.test/);
      await new Promise((r) => setTimeout(r, 1_500));
      const disabled = await latchkey(['admin', 'users', 'disable', BOB.email], {
        cwd: process.cwd(),
        env: adminEnv,
      });
      expect(disabled.code, disabled.stderr).toBe(0);
      const line = await watching.waitForLine(/^Signed out: /, 15_000);
      expect(line).toContain('(user_disabled, signed by the server)');
      expect(line).toContain(`Run: latchkey-desktop login --email ${BOB.email}`);
      expect((await watching.exited).code).toBe(3);
    } finally {
      watching.kill();
      await latchkey(['admin', 'users', 'enable', BOB.email], { cwd: process.cwd(), env: adminEnv });
    }
  }, 90_000);
});
