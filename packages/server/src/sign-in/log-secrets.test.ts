import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../test-support/browser.js';
import { buildAuth, captureRedirects, discover, exchange, refreshRaw } from '../test-support/oidc-client.js';
import { startTestServer, type TestServer } from '../test-support/server.js';

const SCHEME = 'com.acme.desktop:/oauth2redirect';
const PASSWORD = 'correct horse battery staple';

/**
 * At every log level, trace included, the log carries nothing that signs anyone in: no password,
 * authorization code, refresh or access token, session or interaction cookie, CSRF token.
 */
describe('the log at trace level', () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startTestServer({ logLevel: 'trace' });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
  });

  it('holds no password, code, token or cookie value after a sign-in and a refresh', async () => {
    const desktop = await discover(server.issuer, 'acme-desktop');
    const context = await browser.newContext();
    const redirects = captureRedirects(context, SCHEME);
    const page = await context.newPage();
    const pending = await buildAuth(desktop, SCHEME);
    await page.goto(pending.url.toString());
    await page.getByLabel('Work email').fill('bob@beta.test');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#handoff').waitFor();
    const waiting = redirects.next();
    await page.locator('#handoff').click();
    const callback = await waiting;
    const code = new URL(callback).searchParams.get('code') as string;
    const tokens = await exchange(desktop, pending, callback);
    const refreshed = await refreshRaw(server.issuer, 'acme-desktop', tokens.refresh_token as string);
    expect(refreshed.status).toBe(200);
    // The interaction cookies (lk_interaction, lk_resume) hold the interaction's uid, which its URL carries by design; their
    // signatures (`….sig`) are what ties an interaction to the browser, and those must not leak.
    const cookies = (await context.cookies())
      .filter((c) => !/^lk_(interaction|resume)$/.test(c.name))
      .map((c) => c.value)
      .filter((v) => v.length >= 16);
    expect(cookies.length).toBeGreaterThan(2);
    await context.close();

    const log = server.logLines.join('\n');
    expect(log.length).toBeGreaterThan(1000);
    const secrets = [
      PASSWORD,
      code,
      tokens.refresh_token as string,
      tokens.access_token,
      refreshed.json?.refresh_token as string,
      refreshed.json?.access_token as string,
      ...cookies,
    ];
    for (const secret of secrets) expect(log.includes(secret), secret.slice(0, 12)).toBe(false);
    expect(log).not.toMatch(/[?&]code=/);
  });
});
