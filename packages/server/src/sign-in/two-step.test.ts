import type * as client from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPasswordResetLink } from '../domain/reset-links.js';
import { accountKey } from '../domain/throttle/throttle.js';
import { createRecoveryCodes } from '../domain/two-step/credentials.js';
import { generateTotpCode } from '../domain/two-step/totp.js';
import { launchBrowser, screenshot, waitForText } from '../test-support/browser.js';
import { testDatabaseKinds } from '../test-support/databases.js';
import {
  buildAuth,
  captureRedirects,
  discover,
  exchange,
  type PendingAuth,
} from '../test-support/oidc-client.js';
import { freePort, startTestServer, type TestServer } from '../test-support/server.js';

const SCHEME = 'com.acme.desktop:/oauth2redirect';
const BOB_TOTP = 'JBSWY3DPEHPK3PXP';
const PW = 'correct horse battery staple';

const YAML = `
clients:
  - id: acme-desktop
    name: Acme Desktop
    redirect_uris: [com.acme.desktop:/oauth2redirect, http://127.0.0.1/callback]
organizations:
  - id: beta
    name: Beta LLC
    domains: [beta.test]
    connection: { type: local }
  - id: gamma
    name: Gamma Inc
    domains: [gamma.test]
    connection: { type: local }
    policy: { require_2sv: true }
users:
  - { email: bob@beta.test, password: "${PW}", totp_secret: ${BOB_TOTP} }
  - { email: carol@beta.test, password: "${PW}" }
  - { email: erin@beta.test, password: "${PW}" }
  - { email: dave@gamma.test, password: "${PW}" }
argon2: { memory_cost: 1024, time_cost: 1, parallelism: 1 }
`;

type VirtualCredential = Record<string, unknown>;

describe.each(testDatabaseKinds().slice(0, 1))('2-step verification and account pages on %s', (kind) => {
  let server: TestServer;
  let issuer: string;
  let browser: Browser;
  let desktop: client.Configuration;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    // WebAuthn refuses IP addresses as relying party ids: this server's issuer is http://localhost.
    const port = await freePort();
    server = await startTestServer({
      kind,
      yaml: YAML,
      env: { LATCHKEY_ISSUER: `http://localhost:${port}` },
    });
    issuer = server.config.issuer;
    browser = await launchBrowser();
    desktop = await discover(issuer, 'acme-desktop');
  }, 60_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await server?.dispose();
  });

  /** A fresh browser (no session), as a first sign-in on a new machine. */
  async function freshPage(): Promise<{
    context: BrowserContext;
    page: Page;
    next: (prefix: string) => Promise<string>;
  }> {
    const context = await browser.newContext();
    contexts.push(context);
    const redirects = captureRedirects(context, '');
    const page = await context.newPage();
    const next = async (prefix: string) => {
      for (;;) {
        const url = await redirects.next();
        if (url.startsWith(prefix)) return url;
      }
    };
    return { context, page, next };
  }

  async function withAuthenticator(page: Page, credentials: VirtualCredential[] = []) {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
      },
    });
    for (const credential of credentials) {
      await cdp.send('WebAuthn.addCredential', { authenticatorId, credential: credential as never });
    }
    return {
      credentials: async () =>
        (await cdp.send('WebAuthn.getCredentials', { authenticatorId }))
          .credentials as unknown as VirtualCredential[],
    };
  }

  async function emailAndPassword(page: Page, pending: PendingAuth, email: string, password = PW) {
    await page.goto(pending.url.toString());
    await page.getByLabel('Work email').fill(email);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  async function handoff(page: Page, next: (prefix: string) => Promise<string>, pending: PendingAuth) {
    await page.locator('#handoff').waitFor();
    const waiting = next(SCHEME);
    await page.locator('#handoff').click();
    const tokens = await exchange(desktop, pending, await waiting);
    return (tokens.claims() ?? {}) as Record<string, unknown>;
  }

  const userId = async (email: string) => (await server.parts.repos.users.findByEmail(email))?.id as string;

  let usedCode = '';

  it('password + TOTP: amr pwd, otp, mfa and the mfa acr', async () => {
    const { page, next } = await freshPage();
    const pending = await buildAuth(desktop, SCHEME);
    await emailAndPassword(page, pending, 'bob@beta.test');
    await waitForText(page.locator('h1'), '2-step verification');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('code');
    await screenshot(page, 'two-step', '01-totp');
    usedCode = await generateTotpCode({ secret: BOB_TOTP });
    await page.getByLabel('Code from your authenticator app').fill(usedCode);
    await page.getByRole('button', { name: 'Verify' }).click();
    await screenshot(page, 'two-step', '02-handoff');
    const claims = await handoff(page, next, pending);
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(claims.acr).toBe('urn:latchkey:acr:mfa');
  });

  it('a wrong TOTP code and a replayed one are refused with readable messages', async () => {
    const { page } = await freshPage();
    const pending = await buildAuth(desktop, SCHEME);
    await emailAndPassword(page, pending, 'bob@beta.test');
    const wrong = usedCode === '000000' ? '111111' : '000000';
    await page.getByLabel('Code from your authenticator app').fill(wrong);
    await page.getByRole('button', { name: 'Verify' }).click();
    await waitForText(page.getByRole('alert'), /That code is not right/);
    await screenshot(page, 'two-step', '03-totp-wrong');
    await page.getByLabel('Code from your authenticator app').fill(usedCode);
    await page.getByRole('button', { name: 'Verify' }).click();
    await waitForText(page.getByRole('alert'), /That code was already used/);
    await screenshot(page, 'two-step', '04-totp-replayed');
    const events = await server.parts.repos.audit.query({
      userId: await userId('bob@beta.test'),
      action: 'second_factor',
    });
    expect(events.some((e) => e.outcome === 'failure' && e.details.reason === 'replayed')).toBe(true);
  });

  it('a recovery code through "Try another way", with how many remain on the handoff page', async () => {
    const codes = await createRecoveryCodes(
      { credentials: server.parts.repos.credentials, recoveryCodeKey: server.parts.recoveryCodeKey },
      await userId('bob@beta.test'),
    );
    const { page, next } = await freshPage();
    const pending = await buildAuth(desktop, SCHEME);
    await emailAndPassword(page, pending, 'bob@beta.test');
    await page.getByRole('link', { name: 'Try another way' }).click();
    await screenshot(page, 'two-step', '05-choose');
    await page.getByRole('link', { name: 'Recovery code' }).click();
    await page.getByLabel('Recovery code').fill(codes[3] as string);
    await screenshot(page, 'two-step', '06-recovery');
    await page.getByRole('button', { name: 'Verify' }).click();
    await waitForText(page.getByRole('status'), /You have 9 left\. Make new ones/);
    await screenshot(page, 'two-step', '07-recovery-notice');
    const claims = await handoff(page, next, pending);
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
    // Single use.
    const again = await freshPage();
    await emailAndPassword(again.page, await buildAuth(desktop, SCHEME), 'bob@beta.test');
    await again.page.getByRole('link', { name: 'Try another way' }).click();
    await again.page.getByRole('link', { name: 'Recovery code' }).click();
    await again.page.getByLabel('Recovery code').fill(codes[3] as string);
    await again.page.getByRole('button', { name: 'Verify' }).click();
    await waitForText(again.page.getByRole('alert'), /not valid or was already used/);
  });

  it('require_2sv: a user without a method enrolls TOTP, gets 10 recovery codes once, then continues', async () => {
    const { page, next } = await freshPage();
    const pending = await buildAuth(desktop, SCHEME);
    await emailAndPassword(page, pending, 'dave@gamma.test');
    await waitForText(page.locator('h1'), 'Set up 2-step verification');
    await page.locator('.qr svg').waitFor();
    await screenshot(page, 'two-step', '08-enroll');
    const key = (await page.locator('#totp-key').innerText()).replace(/\s/g, '');
    await page.getByLabel('Code from your authenticator app').fill('000000');
    await page.getByRole('button', { name: 'Confirm' }).click();
    await waitForText(page.getByRole('alert'), /That code is not right/);
    await page.getByLabel('Code from your authenticator app').fill(await generateTotpCode({ secret: key }));
    await page.getByRole('button', { name: 'Confirm' }).click();
    await waitForText(page.locator('h1'), 'Save your recovery codes');
    expect(await page.locator('#recovery-codes li').count()).toBe(10);
    const href = await page.getByRole('link', { name: 'Download codes' }).getAttribute('href');
    expect(href).toMatch(/^data:text\/plain/);
    expect(decodeURIComponent(href as string)).toContain(
      await page.locator('#recovery-codes li').first().innerText(),
    );
    await screenshot(page, 'two-step', '09-recovery-codes');
    await page.getByRole('button', { name: 'I saved my codes' }).click();
    const claims = await handoff(page, next, pending);
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
    const methods = await server.parts.repos.credentials.methodsOf(await userId('dave@gamma.test'));
    expect(methods).toMatchObject({ totp: true, recoveryCodes: 10 });
  });

  let carolCredentials: VirtualCredential[] = [];

  it('account page: signed-out link, add a passkey, change password, list and end sessions', async () => {
    const { page, next } = await freshPage();
    const authenticator = await withAuthenticator(page);
    await page.goto(`${issuer}/account`);
    await screenshot(page, 'two-step', '10-account-signed-out');
    await page.getByRole('link', { name: 'Sign in to manage your account' }).click();
    await page.getByLabel('Work email').fill('carol@beta.test');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Password').fill(PW);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#handoff').click();
    await waitForText(page.locator('h1'), 'Your account');
    await screenshot(page, 'two-step', '11-account');

    // A passkey (the first 2SV method also brings recovery codes).
    await page.locator('#add-passkey').click();
    await waitForText(page.locator('h1'), 'Save your recovery codes');
    await page.getByRole('link', { name: 'I saved my codes' }).click();
    await waitForText(page.locator('#passkeys'), /Passkey added/);
    // The owner can tell where it was added from.
    await waitForText(page.locator('#passkeys'), /from .+ at 127\.0\.0\.1/);
    carolCredentials = await authenticator.credentials();
    expect(carolCredentials).toHaveLength(1);

    // An app signed in before the password change (say, on a laptop a thief now holds).
    const before = await buildAuth(desktop, SCHEME);
    const beforePage = await page.context().newPage();
    await beforePage.goto(before.url.toString());
    await beforePage.locator('#handoff').waitFor();
    const beforeWaiting = next(SCHEME);
    await beforePage.locator('#handoff').click();
    const beforeTokens = await exchange(desktop, before, await beforeWaiting);
    await beforePage.close();

    // Password change: wrong current password, then right.
    await page.getByLabel('Current password').fill('nope');
    await page.getByLabel('New password', { exact: true }).fill('a brand new passphrase');
    await page.getByLabel('Repeat the new password').fill('a brand new passphrase');
    await page.getByRole('button', { name: 'Change password' }).click();
    await waitForText(page.getByRole('alert').first(), /current password is not right/);
    await page.getByLabel('Current password').fill(PW);
    await page.getByLabel('New password', { exact: true }).fill('a brand new passphrase');
    await page.getByLabel('Repeat the new password').fill('a brand new passphrase');
    await page.getByRole('button', { name: 'Change password' }).click();
    await waitForText(page.getByRole('status'), /Your password was changed\./);
    await screenshot(page, 'two-step', '12-account-changed');
    // The change ended the app's refresh token; this browser stayed signed in.
    const { refreshTokenGrant: refreshBefore } = await import('openid-client');
    await expect(refreshBefore(desktop, beforeTokens.refresh_token as string)).rejects.toThrow();
    await waitForText(page.locator('h1'), 'Your account');

    // An app signed in as Carol shows up and can be ended.
    const pending = await buildAuth(desktop, SCHEME);
    const appPage = await page.context().newPage();
    await appPage.goto(pending.url.toString());
    await appPage.locator('#handoff').waitFor();
    const waiting = next(SCHEME);
    await appPage.locator('#handoff').click();
    const tokens = await exchange(desktop, pending, await waiting);
    await page.goto(`${issuer}/account`);
    await waitForText(page.locator('#sessions'), /Acme Desktop/);
    await waitForText(page.locator('#sessions'), /this browser/);
    await page.getByRole('button', { name: /Sign out: Acme Desktop/ }).click();
    await waitForText(page.getByRole('status'), 'The session was ended.');
    const { refreshTokenGrant } = await import('openid-client');
    await expect(refreshTokenGrant(desktop, tokens.refresh_token as string)).rejects.toThrow();
    const events = await server.parts.repos.audit.query({ userId: await userId('carol@beta.test') });
    expect(events.map((e) => e.action)).toEqual(
      expect.arrayContaining(['password_change', 'enroll_2sv', 'session_end']),
    );
  });

  it('password + passkey as the second step (virtual authenticator): amr pwd, hwk, mfa', async () => {
    const { page, next } = await freshPage();
    const authenticator = await withAuthenticator(page, carolCredentials);
    const pending = await buildAuth(desktop, SCHEME);
    await emailAndPassword(page, pending, 'carol@beta.test', 'a brand new passphrase');
    await waitForText(page.locator('h1'), 'Use your passkey');
    await screenshot(page, 'two-step', '13-passkey');
    await page.getByRole('button', { name: 'Use passkey' }).click();
    const claims = await handoff(page, next, pending);
    expect(claims.amr).toEqual(['pwd', 'hwk', 'mfa']);
    expect(claims.acr).toBe('urn:latchkey:acr:mfa');
    // The signature counter moved on; a copy with the old counter would be refused as a clone.
    carolCredentials = await authenticator.credentials();
  });

  it('passkey sign-in from the email page, no email typed', async () => {
    const { page, next } = await freshPage();
    await withAuthenticator(page, carolCredentials);
    const pending = await buildAuth(desktop, SCHEME);
    await page.goto(pending.url.toString());
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await screenshot(page, 'two-step', '14-passkey-signed-in');
    const claims = await handoff(page, next, pending);
    expect(claims.email).toBe('carol@beta.test');
    expect(claims.amr).toEqual(['hwk', 'mfa']);
    expect(claims.acr).toBe('urn:latchkey:acr:mfa');
  });

  /** Submits the password form and waits for the answer page (the previous page's alert would match too). */
  async function submitPassword(page: Page): Promise<void> {
    await Promise.all([
      // The post answers 303 (Post/Redirect/Get): wait for the page it leads to.
      page.waitForResponse(
        (r) => r.request().method() === 'GET' && /\/interaction\/[^/]+(\/[a-z-]+)?$/.test(r.url()),
      ),
      page.getByRole('button', { name: 'Sign in' }).click(),
    ]);
    await page.waitForLoadState();
  }

  it('wrong passwords are throttled with a readable wait and an audit event; an admin clear lifts it', async () => {
    const { page, next } = await freshPage();
    const pending = await buildAuth(desktop, SCHEME);
    await emailAndPassword(page, pending, 'erin@beta.test', 'wrong');
    await waitForText(page.getByRole('alert'), 'Wrong password. Try again.');
    await screenshot(page, 'two-step', '15-wrong-password');
    let text = '';
    for (let i = 0; i < 12 && !/Too many attempts/.test(text); i += 1) {
      await page.getByLabel('Password').fill('wrong');
      await submitPassword(page);
      text = await waitForText(page.getByRole('alert'), /Wrong password|Too many attempts/);
    }
    expect(text).toMatch(/^Too many attempts\. Wait \d+ seconds?, then try again\.$/);
    await screenshot(page, 'two-step', '16-throttled');
    // The first wait is 1 s, shorter than a slow machine takes to type and post the right password.
    // Each failure after a wait doubles it: wait it out and fail again until it is at least 4 s.
    const waitOf = (message: string) => Number(/Wait (\d+) second/.exec(message)?.[1] ?? 0);
    for (let i = 0; i < 4 && waitOf(text) < 4; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, waitOf(text) * 1000 + 300));
      for (const expected of [/Wrong password/, /Too many attempts/]) {
        await page.getByLabel('Password').fill('wrong');
        await submitPassword(page);
        text = await waitForText(page.getByRole('alert'), expected);
      }
    }
    expect(waitOf(text)).toBeGreaterThanOrEqual(4);
    // Even the right password waits.
    await page.getByLabel('Password').fill(PW);
    await submitPassword(page);
    await waitForText(page.getByRole('alert'), /Too many attempts/);
    const erin = await userId('erin@beta.test');
    const events = await server.parts.repos.audit.query({ action: 'throttled' });
    expect(events.length).toBeGreaterThan(0);
    const mine = await server.parts.repos.audit.query({ userId: erin, action: 'password' });
    expect(mine.some((e) => e.details.reason === 'throttled')).toBe(true);

    await server.parts.throttle.clear(accountKey(erin));
    await page.getByLabel('Password').fill(PW);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const claims = await handoff(page, next, pending);
    expect(claims.amr).toEqual(['pwd']);
    expect(claims.acr).toBe('urn:latchkey:acr:pwd');
  });

  it('a one-time reset link sets a new password once', async () => {
    const link = await createPasswordResetLink(
      { actionTokens: server.parts.repos.actionTokens, audit: server.parts.audit, issuer },
      await userId('erin@beta.test'),
    );
    const { page } = await freshPage();
    await page.goto(link);
    await waitForText(page.locator('h1'), 'Set a new password');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('new-password');
    await screenshot(page, 'two-step', '17-reset');
    await page.getByLabel('New password', { exact: true }).fill('reset passphrase 123');
    await page.getByLabel('Repeat the new password').fill('reset passphrase 123');
    await page.getByRole('button', { name: 'Set password' }).click();
    await waitForText(page.locator('h1'), 'Password changed');
    await page.goto(link);
    await waitForText(page.locator('h1'), 'Link not valid');
    const tokens = await server.parts.database.db.selectFrom('action_tokens').select('token_hash').execute();
    expect(tokens.some((t) => link.endsWith(t.token_hash))).toBe(false);
  });

  it('pages fit a narrow window and announce errors', async () => {
    const { page } = await freshPage();
    await page.setViewportSize({ width: 360, height: 740 });
    const pending = await buildAuth(desktop, SCHEME);
    await emailAndPassword(page, pending, 'bob@beta.test');
    await page.getByLabel('Code from your authenticator app').waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    expect(overflow).toBe(false);
    expect(await page.locator('[role=alert][aria-live]').count()).toBeGreaterThan(0);
    await screenshot(page, 'two-step', '18-narrow');
  });
});
