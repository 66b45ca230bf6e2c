import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateTotpCode } from '../domain/two-step/totp.js';
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
argon2: { memory_cost: 1024, time_cost: 1, parallelism: 1 }
`;

/**
 * Post/Redirect/Get in every step: each form post answers 303 to the step's own GET URL, so Reload
 * shows the step again (never resends a password or a code) and Back never asks to resubmit a form.
 */
describe('Back, Reload and a restored tab', () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer({ yaml: YAML }), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
  });

  /** Every document request the page makes, to prove Reload and Back send no form again. */
  function documentRequests(page: Page): string[] {
    const seen: string[] = [];
    page.on('request', (r) => {
      if (r.resourceType() === 'document') seen.push(`${r.method()} ${new URL(r.url()).pathname}`);
    });
    return seen;
  }

  it('each step has its own GET URL; Reload stays on it; a wrong code shows once; Back from Launch resends nothing', async () => {
    const page = await (await browser.newContext()).newPage();
    page.setDefaultTimeout(10_000);
    const desktop = await discover(server.issuer, 'acme-desktop');
    await page.goto((await buildAuth(desktop, SCHEME)).url.toString());
    await page.getByLabel('Work email').fill('bob@beta.test');
    await page.getByRole('button', { name: 'Continue' }).click();
    await waitForText(page.locator('h1'), 'Enter your password');
    expect(new URL(page.url()).pathname).toMatch(/^\/interaction\/[^/]+\/password$/);

    await page.getByLabel('Password').fill(PW);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await waitForText(page.locator('h1'), '2-step verification');
    const twoStepUrl = page.url();
    expect(new URL(twoStepUrl).pathname).toMatch(/^\/interaction\/[^/]+\/second-factor$/);

    const requests = documentRequests(page);
    await page.reload();
    await waitForText(page.locator('h1'), '2-step verification');
    expect(page.url()).toBe(twoStepUrl);

    await page.getByLabel('Code from your authenticator app').fill('000000');
    await page.getByRole('button', { name: 'Verify' }).click();
    await waitForText(page.getByRole('alert'), /not right/);
    expect(page.url()).toBe(twoStepUrl);
    // Reload after the error: the page again, the message said once, no code resent.
    await page.reload();
    await waitForText(page.locator('h1'), '2-step verification');
    expect((await page.locator('.alert.error').innerText()).trim()).toBe('');

    await page.getByLabel('Code from your authenticator app').fill(await generateTotpCode({ secret: TOTP }));
    await page.getByRole('button', { name: 'Verify' }).click();
    await waitForText(page.locator('#handoff'), 'Launch Acme Desktop');
    const launchUrl = page.url();

    await page.goBack();
    // Back from Launch: a GET of the earlier step's URL, which leads on to where the sign-in stands.
    await waitForText(page.locator('#handoff'), 'Launch Acme Desktop');
    expect(page.url()).toBe(launchUrl);
    // The only posts since the 2-step page: the wrong code and the right one (Reload and Back resent nothing).
    const uid = new URL(twoStepUrl).pathname.split('/')[2];
    expect(requests.filter((r) => r.startsWith('POST'))).toEqual([
      `POST /interaction/${uid}/2sv/totp`,
      `POST /interaction/${uid}/2sv/totp`,
    ]);
  });
});
