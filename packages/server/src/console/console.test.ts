import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seal, unseal } from '../crypto/sealed-values.js';
import { generateTotpCode } from '../domain/two-step/totp.js';
import { axeViolations } from '../test-support/axe.js';
import { launchBrowser, screenshot, waitForText } from '../test-support/browser.js';
import { testDatabaseKinds } from '../test-support/databases.js';
import { BrowserTokenSource, discover, refreshRaw } from '../test-support/oidc-client.js';
import { BASE_YAML, startTestServer, type TestServer } from '../test-support/server.js';
import type { ConsoleSession } from './session.js';

const PASSWORD = 'a long enough password';
const ALICE_TOTP = 'JBSWY3DPEHPK3PXP';
const SESSION_PURPOSE = 'admin-console-session';

/**
 * BASE_YAML (organization beta: bob, carol) plus gamma (dave, olivia) and delta (an OIDC connection
 * to an IdP that does not exist); alice@beta.test is an instance administrator who signs in with a
 * password and TOTP, olivia@gamma.test administers gamma only (whose `allowed_clients` lists only
 * Acme Desktop: the console is not one of its apps), carol is no administrator.
 */
const YAML = `${BASE_YAML.replace(
  'users:\n',
  `  - id: gamma
    name: Gamma Inc
    domains: [gamma.test]
    connection: { type: local }
    # Its people may use Acme Desktop only: the console, Latchkey's own, stays open to olivia.
    policy: { allowed_clients: [acme-desktop] }
  - id: delta
    name: Delta Corp
    domains: [delta.test]
    connection: { type: oidc, issuer: "https://idp.delta.invalid", client_id: delta-latchkey, client_secret: s3cret }
users:
  - { email: alice@beta.test, password: "${PASSWORD}", name: Alice Admin, totp_secret: ${ALICE_TOTP} }
  - { email: olivia@gamma.test, password: "${PASSWORD}", name: Olivia Orgadmin }
  - { email: dave@gamma.test, password: "${PASSWORD}", name: Dave }
`,
)}admin:
  administrators:
    - { email: alice@beta.test }
    - { email: olivia@gamma.test, organization: gamma }
`;

describe.each(testDatabaseKinds())('admin console in Chromium on %s', (kind) => {
  let server: TestServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let lastTotp = '';

  beforeAll(async () => {
    server = await startTestServer({ kind, yaml: YAML });
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await server?.dispose();
  });

  const userId = async (email: string) => (await server.parts.repos.users.findByEmail(email))?.id as string;

  async function freshPage(): Promise<Page> {
    // bypassCSP only so axe-core can be injected; the pages themselves load no script.
    const context = await browser.newContext({ bypassCSP: true });
    contexts.push(context);
    return context.newPage();
  }

  /** The normal sign-in pages, reached from /admin: email, password, (TOTP), then Continue. */
  async function signIn(page: Page, email: string, options: { totp?: string } = {}) {
    await page.goto(`${server.issuer}/admin/users`);
    await page.getByLabel('Work email').fill(email);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    if (options.totp) {
      await waitForText(page.locator('h1'), '2-step verification');
      // A TOTP code is accepted once: wait for the next one when a test signs in twice in a window.
      let code = await generateTotpCode({ secret: options.totp });
      while (code === lastTotp) {
        await new Promise((r) => setTimeout(r, 1000));
        code = await generateTotpCode({ secret: options.totp });
      }
      lastTotp = code;
      await page.getByLabel('Code from your authenticator app').fill(code);
      await page.getByRole('button', { name: 'Verify' }).click();
    }
    await page.locator('#handoff').click();
  }

  let alice: Page;

  it('an instance administrator signs in with password and TOTP, finds a user, disables them, and the user’s desktop app is refused at its next refresh', async () => {
    // Bob's desktop app holds a real refresh token first.
    const bobContext = await browser.newContext();
    contexts.push(bobContext);
    const desktop = await discover(server.issuer, 'acme-desktop');
    const bobApp = new BrowserTokenSource(bobContext, desktop, {
      email: 'bob@beta.test',
      password: 'correct horse battery staple',
    });
    const bobTokens = await bobApp.tokens({ scope: 'openid offline_access' });
    expect(bobTokens.refresh_token).toBeTruthy();

    alice = await freshPage();
    await signIn(alice, 'alice@beta.test', { totp: ALICE_TOTP });
    // Back where the console sent the sign-in from.
    await waitForText(alice.locator('h1'), 'Users');
    expect(new URL(alice.url()).pathname).toBe('/admin/users');
    await screenshot(alice, 'console', 'users');

    await alice.getByLabel('Email or name').fill('bob');
    await alice.getByRole('button', { name: 'Search' }).click();
    const rows = alice.locator('tbody tr');
    expect(await rows.count()).toBe(1);
    await alice.getByRole('link', { name: 'bob@beta.test' }).click();
    await waitForText(alice.locator('h1'), 'bob@beta.test');
    expect(await alice.locator('main').innerText()).toContain('Acme Desktop');
    await screenshot(alice, 'console', 'user');

    await alice.getByRole('button', { name: 'Disable user…' }).click();
    await waitForText(alice.locator('h1'), 'Disable');
    expect(await alice.locator('main').innerText()).toMatch(/refused at their next refresh/);
    await screenshot(alice, 'console', 'confirm-disable');
    // Nothing happened yet: the confirmation step stands between the click and the change.
    expect((await server.parts.repos.users.findByEmail('bob@beta.test'))?.status).toBe('active');
    await alice.getByRole('button', { name: 'Disable', exact: true }).click();
    await waitForText(alice.locator('[role=status]'), /The user is disabled/);
    expect((await server.parts.repos.users.findByEmail('bob@beta.test'))?.status).toBe('disabled');

    const refused = await refreshRaw(server.issuer, 'acme-desktop', bobTokens.refresh_token as string);
    expect(refused.status).toBe(400);
    expect(refused.json?.error).toBe('invalid_grant');

    // The audit log names the administrator, as the API does.
    const events = await server.parts.repos.audit.query({ action: 'user_disabled' });
    expect(events.at(-1)?.actor).toBe(await userId('alice@beta.test'));
  }, 120_000);

  it('an organization administrator sees only their organization; another organization’s user is not found and instance pages are refused', async () => {
    const olivia = await freshPage();
    await signIn(olivia, 'olivia@gamma.test');
    await waitForText(olivia.locator('h1'), 'Users');
    const text = await olivia.locator('main').innerText();
    expect(text).toContain('dave@gamma.test');
    expect(text).not.toContain('beta.test');
    const nav = await olivia.getByRole('navigation', { name: 'Console' }).innerText();
    expect(nav).toContain('Users');
    expect(nav).not.toMatch(/Apps|Signing keys|Audit log/);
    await screenshot(olivia, 'console', 'organization-admin-users');

    const carolId = await userId('carol@beta.test');
    const response = await olivia.goto(`${server.issuer}/admin/users/${carolId}`);
    expect(response?.status()).toBe(404);
    await waitForText(olivia.locator('h1'), 'Not found');
    expect(await olivia.locator('main').innerText()).not.toContain('carol');

    const keys = await olivia.goto(`${server.issuer}/admin/keys`);
    expect(keys?.status()).toBe(403);
    const orgs = await olivia.goto(`${server.issuer}/admin/organizations`);
    expect(orgs?.status()).toBe(200);
    expect(await olivia.locator('tbody tr').count()).toBe(1);
    const beta = await olivia.goto(`${server.issuer}/admin/organizations/beta`);
    expect(beta?.status()).toBe(404);
  }, 90_000);

  it('someone who is no administrator gets a readable refusal page and no console session', async () => {
    const carol = await browser.newContext({ bypassCSP: true });
    contexts.push(carol);
    const page = await carol.newPage();
    await page.goto(`${server.issuer}/admin`);
    await page.getByLabel('Work email').fill('carol@beta.test');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Password').fill("carol's long password");
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#handoff').click();
    await waitForText(page.locator('h1'), 'You are not an administrator');
    expect(await axeViolations(page)).toEqual([]);
    await screenshot(page, 'console', 'not-an-administrator');
    const cookies = await carol.cookies();
    expect(cookies.find((c) => c.name === 'lk_admin')).toBeUndefined();
    const again = await page.goto(`${server.issuer}/admin/users`);
    // No session: back to the sign-in, never a console page.
    expect(new URL(page.url()).pathname).not.toBe('/admin/users');
    expect(again?.status()).toBeLessThan(500);
  }, 90_000);

  it('refuses a POST without the session’s CSRF token or with a wrong one, and changes nothing', async () => {
    const carolId = await userId('carol@beta.test');
    const url = `${server.issuer}/admin/users/${carolId}/disable`;
    const without = await alice.request.post(url, { form: { confirmed: 'yes' }, maxRedirects: 0 });
    expect(without.status()).toBe(403);
    const wrong = await alice.request.post(url, {
      form: { confirmed: 'yes', _csrf: 'x'.repeat(32) },
      maxRedirects: 0,
    });
    expect(wrong.status()).toBe(403);
    expect(await wrong.text()).toContain('nothing was changed');
    expect((await server.parts.repos.users.findByEmail('carol@beta.test'))?.status).toBe('active');
    // The session cookie is SameSite=Lax, httpOnly and scoped to /admin.
    const cookie = (await alice.context().cookies()).find((c) => c.name === 'lk_admin');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/admin' });
  });

  it('renews an expired access token with the refresh token and rewrites the sealed cookie', async () => {
    const context = alice.context();
    const cookie = (await context.cookies()).find((c) => c.name === 'lk_admin');
    const session = unseal<ConsoleSession>(server.parts.secretBox, SESSION_PURPOSE, cookie?.value);
    expect(session?.sub).toBe(await userId('alice@beta.test'));
    const expired = { ...(session as ConsoleSession), accessTokenExpiresAt: Date.now() - 1000 };
    await context.addCookies([
      {
        ...(cookie as NonNullable<typeof cookie>),
        value: seal(server.parts.secretBox, SESSION_PURPOSE, expired, 60_000),
      },
    ]);
    const response = await alice.goto(`${server.issuer}/admin/users`);
    expect(response?.status()).toBe(200);
    const renewed = unseal<ConsoleSession>(
      server.parts.secretBox,
      SESSION_PURPOSE,
      (await context.cookies()).find((c) => c.name === 'lk_admin')?.value,
    );
    expect(renewed?.accessTokenExpiresAt).toBeGreaterThan(Date.now());
    expect(renewed?.accessToken).not.toBe(session?.accessToken);
    expect(renewed?.csrf).toBe(session?.csrf);
  });

  it('rotates keys, filters the audit log and tests a connection with a readable result', async () => {
    await alice.goto(`${server.issuer}/admin/keys`);
    const before = await alice.locator('tbody tr').count();
    await alice.getByLabel('Activation delay').fill('1h');
    await alice.getByRole('button', { name: 'Rotate keys' }).click();
    await waitForText(alice.locator('[role=status]'), /New keys are published/);
    expect(await alice.locator('tbody tr').count()).toBeGreaterThan(before);
    expect(await alice.locator('tbody').innerText()).toContain('pending');
    await screenshot(alice, 'console', 'keys');

    await alice.goto(`${server.issuer}/admin/audit`);
    await alice.getByLabel('Event').fill('user_disabled');
    await alice.getByRole('button', { name: 'Filter' }).click();
    const rows = await alice.locator('tbody tr').allInnerTexts();
    expect(rows.length).toBe(1);
    expect(rows[0]).toContain('bob@beta.test');
    await screenshot(alice, 'console', 'audit');

    await alice.goto(`${server.issuer}/admin/organizations/delta`);
    await alice.getByRole('button', { name: 'Test connection' }).click();
    await waitForText(alice.locator('#test-heading'), /something is wrong/, 20_000);
    expect(await alice.locator('section').innerText()).toMatch(/failed/);
    await screenshot(alice, 'console', 'connection-test');
  }, 90_000);

  it('every console page is axe-clean', async () => {
    const bobId = await userId('bob@beta.test');
    const pages = [
      '/admin',
      '/admin/users',
      `/admin/users/${bobId}`,
      '/admin/organizations',
      '/admin/organizations/beta',
      '/admin/apps',
      '/admin/keys',
      '/admin/audit',
    ];
    for (const path of pages) {
      await alice.goto(`${server.issuer}${path}`);
      expect(await axeViolations(alice), path).toEqual([]);
    }
    // The overview counts what the audit log holds (every sign-in of this test server so far).
    await alice.goto(`${server.issuer}/admin`);
    const signIns = (await server.parts.repos.audit.query({ action: 'sign_in' })).filter(
      (e) => e.outcome === 'success',
    ).length;
    expect(signIns).toBeGreaterThan(2);
    expect(await alice.locator('.tile .n').first().innerText()).toBe(String(signIns));
    await screenshot(alice, 'console', 'overview');
    // The confirmation page, then signing out ends the console session.
    await alice.goto(`${server.issuer}/admin/users/${await userId('carol@beta.test')}`);
    await alice.getByRole('button', { name: 'Revoke everything…' }).click();
    expect(await axeViolations(alice)).toEqual([]);
    await alice.getByRole('link', { name: 'Cancel' }).click();
    const held = unseal<ConsoleSession>(
      server.parts.secretBox,
      SESSION_PURPOSE,
      (await alice.context().cookies()).find((c) => c.name === 'lk_admin')?.value,
    );
    await alice.getByRole('button', { name: 'Sign out' }).click();
    await waitForText(alice.locator('h1'), 'Signed out of the admin console');
    expect(await axeViolations(alice)).toEqual([]);
    await alice.goto(`${server.issuer}/admin/keys`);
    expect(new URL(alice.url()).pathname).not.toBe('/admin/keys');
    // Signing out gave the console's grant back: its refresh token no longer works.
    const refused = await refreshRaw(server.issuer, 'latchkey-admin-console', held?.refreshToken as string);
    expect(refused.json?.error).toBe('invalid_grant');
  }, 90_000);
});
