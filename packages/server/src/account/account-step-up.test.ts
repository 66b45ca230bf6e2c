import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, waitForText } from '../test-support/browser.js';
import { startTestServer, type TestServer } from '../test-support/server.js';

/**
 * The account page trusts a browser session for changes to how a person signs in only while its
 * sign-in is recent: a borrowed or forgotten-open browser cannot add an authenticator, a passkey or
 * new recovery codes without the password (and 2-step) again.
 */
describe('account page step-up', () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    server = await startTestServer();
    browser = await launchBrowser();
    page = await (await browser.newContext()).newPage();
    page.setDefaultTimeout(8000);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
  });

  const bobId = async () => (await server.parts.repos.users.findByEmail('bob@beta.test'))?.id as string;

  /** Moves the browser session's sign-in an hour into the past, as if the browser had been left open. */
  async function ageSession(seconds: number) {
    const { db } = server.parts.database;
    const rows = await db
      .selectFrom('oidc_records')
      .select(['id', 'payload'])
      .where('model', '=', 'Session')
      .where('account_id', '=', await bobId())
      .execute();
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      const payload = JSON.parse(row.payload) as { loginTs: number };
      payload.loginTs -= seconds;
      await db
        .updateTable('oidc_records')
        .set({ payload: JSON.stringify(payload) })
        .where('model', '=', 'Session')
        .where('id', '=', row.id)
        .execute();
    }
  }

  async function recoveryCodeEvents() {
    return (await server.parts.repos.audit.query({ action: 'recovery_codes_created', limit: 50 })).length;
  }

  it('a stale sign-in must sign in again before new recovery codes or an authenticator app; a fresh one need not', async () => {
    await page.goto(`${server.issuer}/account`);
    await page.getByRole('link', { name: 'Sign in to manage your account' }).click();
    await page.getByLabel('Work email').fill('bob@beta.test');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Password').fill('correct horse battery staple');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#handoff').click();
    await waitForText(page.locator('h1'), 'Your account');

    await ageSession(3600);
    const before = await recoveryCodeEvents();
    await page.getByRole('button', { name: 'Make new recovery codes' }).click();
    await waitForText(page.locator('h1'), 'Confirm it is you');
    expect(await recoveryCodeEvents()).toBe(before);
    await page.goto(`${server.issuer}/account/totp`);
    await waitForText(page.locator('h1'), 'Confirm it is you');

    // Signing in again: the email is known, the password is asked, then back to the account page.
    await page.getByRole('link', { name: 'Sign in again' }).click();
    await page.getByLabel('Password').fill('correct horse battery staple');
    await page.getByRole('button', { name: 'Sign in' }).click();
    // The account page's own grant exists already: no Continue page this time.
    await waitForText(page.locator('h1'), 'Your account');
    await page.getByRole('button', { name: 'Make new recovery codes' }).click();
    await waitForText(page.locator('h1'), 'Save your recovery codes');
    expect(await recoveryCodeEvents()).toBe(before + 1);
  });

  it('Sign out everywhere can also remove what was added lately, and keeps what is older', async () => {
    const bob = await bobId();
    const { repos, database } = server.parts;
    await repos.credentials.setTotp(bob, 'JBSWY3DPEHPK3PXP');
    const old = await repos.credentials.addPasskey(bob, `old-${Date.now()}`, { counter: 0 });
    await database.db
      .updateTable('credentials')
      .set({ created_at: Date.now() - 30 * 24 * 60 * 60_000 })
      .where('id', '=', old)
      .execute();
    await page.goto(`${server.issuer}/account`);
    await page.getByLabel(/Also remove passkeys and authenticator apps added in the last 14 days/).check();
    await page.getByRole('button', { name: 'Sign out everywhere' }).click();
    await waitForText(page.locator('body'), /signed out everywhere/i);
    const methods = await repos.credentials.methodsOf(bob);
    expect(methods.totp).toBe(false);
    expect((await repos.credentials.passkeys(bob)).map((p) => p.id)).toEqual([old]);
    const ended = await repos.audit.query({ action: 'session_end_all', limit: 5 });
    expect(ended[0]?.details.removedCredentials).toBe(1);
  });
});
