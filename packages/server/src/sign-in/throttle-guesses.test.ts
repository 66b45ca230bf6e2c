import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateTotpCode } from '../domain/two-step/totp.js';
import { throttledText } from '../pages/two-step-text.js';
import { launchBrowser, waitForText } from '../test-support/browser.js';
import { buildAuth, discover } from '../test-support/oidc-client.js';
import { startTestServer, type TestServer } from '../test-support/server.js';

const SCHEME = 'com.acme.desktop:/oauth2redirect';
const TOTP = 'JBSWY3DPEHPK3PXP';
const PW = 'correct horse battery staple';
const YAML = `
clients:
  - id: acme-desktop
    name: Acme Desktop
    redirect_uris: [com.acme.desktop:/oauth2redirect]
organizations:
  - { id: beta, name: Beta LLC, domains: [beta.test], connection: { type: local } }
users:
  - { email: bob@beta.test, password: "${PW}", totp_secret: ${TOTP} }
  - { email: tina@beta.test, password: "${PW}", totp_secret: ${TOTP} }
  - { email: lena@beta.test, password: "${PW}", totp_secret: ${TOTP} }
argon2: { memory_cost: 1024, time_cost: 1, parallelism: 1 }
`;

/** The throttle holds back guesses, never the one right answer; its wait reads as people write it. */
describe('throttling, 2-step and passwords', () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer({ yaml: YAML }), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
  });

  async function toPassword(email: string): Promise<Page> {
    const page = await (await browser.newContext()).newPage();
    page.setDefaultTimeout(10_000);
    const desktop = await discover(server.issuer, 'acme-desktop');
    await page.goto((await buildAuth(desktop, SCHEME)).url.toString());
    await page.getByLabel('Work email').fill(email);
    await page.getByRole('button', { name: 'Continue' }).click();
    await waitForText(page.locator('h1'), 'Enter your password');
    return page;
  }

  async function typePassword(page: Page, password: string): Promise<string> {
    await page.getByLabel('Password').fill(password);
    // One navigation: the post, its 303 and the step's page (Post/Redirect/Get) — done when that page loads.
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign in' }).click()]);
    await page.waitForLoadState();
    return (await page.locator('.alert').first().innerText()).trim();
  }

  it('"Wrong password" where only the password was typed; the wait in correct words, counting down on the page', async () => {
    const page = await toPassword('bob@beta.test');
    expect(await typePassword(page, 'nope')).toBe('Wrong password. Try again.');
    // Five failures are free; then each attempt waits (1 s, 2 s, 4 s…: how long depends on the machine's pace).
    let text = '';
    for (let i = 0; i < 12 && !/Too many/.test(text); i += 1) text = await typePassword(page, 'nope');
    const wait = /^Too many attempts\. Wait (\d+) (seconds?), then try again\.$/.exec(text);
    expect(wait, text).toBeTruthy();
    const [, count, unit] = wait as unknown as [string, string, string];
    expect(unit).toBe(count === '1' ? 'second' : 'seconds');
    expect(await page.locator('[data-countdown]').getAttribute('data-countdown')).toBe(count);
    // The page counts down by itself and says when trying again is possible.
    await waitForText(page.locator('.alert'), /You can try again now/, Number(count) * 1000 + 5_000);
  });

  it('waits read as people say them: 1 second, 2 seconds, 2 minutes', () => {
    expect(throttledText(1)).toBe('Too many attempts. Wait 1 second, then try again.');
    expect(throttledText(1_000)).toBe('Too many attempts. Wait 1 second, then try again.');
    expect(throttledText(1_001)).toBe('Too many attempts. Wait 2 seconds, then try again.');
    expect(throttledText(119_000)).toBe('Too many attempts. Wait 119 seconds, then try again.');
    expect(throttledText(120_000)).toBe('Too many attempts. Wait 2 minutes, then try again.');
  });

  it('a right 2-step code after earlier wrong passwords is accepted', async () => {
    const page = await toPassword('tina@beta.test');
    for (let i = 0; i < 5; i += 1) await typePassword(page, 'nope');
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await typePassword(page, PW);
    await waitForText(page.locator('h1'), '2-step verification');
    await page.getByLabel('Code from your authenticator app').fill(await generateTotpCode({ secret: TOTP }));
    await page.getByRole('button', { name: 'Verify' }).click();
    await waitForText(page.locator('#handoff'), 'Launch Acme Desktop');
  });

  it('a person whose only method is an authenticator app is told the way out of a lost phone', async () => {
    const page = await toPassword('lena@beta.test');
    await typePassword(page, PW);
    await waitForText(page.locator('h1'), '2-step verification');
    const text = await page.locator('main').innerText();
    expect(text).toMatch(
      /Lost your phone\? Ask your IT administrator to reset 2-step verification for lena@beta\.test/,
    );
    expect(text).toContain('latchkey admin users reset-2sv lena@beta.test');
  });
});
