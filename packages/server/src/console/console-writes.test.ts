import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateTotpCode } from '../domain/two-step/totp.js';
import { axeViolations } from '../test-support/axe.js';
import { launchBrowser, screenshot, waitForText } from '../test-support/browser.js';
import { testDatabaseKinds } from '../test-support/databases.js';
import { BASE_YAML, startTestServer, type TestServer } from '../test-support/server.js';

const PASSWORD = 'a long enough password';
const ALICE_TOTP = 'JBSWY3DPEHPK3PXP';

/** BASE_YAML plus gamma (olivia administers it only); alice@beta.test is an instance administrator. */
const YAML = `${BASE_YAML.replace(
  'users:\n',
  `  - id: gamma
    name: Gamma Inc
    domains: [gamma.test]
    connection: { type: local }
users:
  - { email: alice@beta.test, password: "${PASSWORD}", name: Alice Admin, totp_secret: ${ALICE_TOTP} }
  - { email: olivia@gamma.test, password: "${PASSWORD}", name: Olivia Orgadmin }
`,
)}admin:
  administrators:
    - { email: alice@beta.test }
    - { email: olivia@gamma.test, organization: gamma }
`;

describe.each(testDatabaseKinds())('console writes in Chromium on %s', (kind) => {
  let server: TestServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    server = await startTestServer({ kind, yaml: YAML });
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await server?.dispose();
  });

  async function signIn(email: string, totp?: string): Promise<Page> {
    // bypassCSP only so axe-core can be injected; the pages themselves load no script.
    const context = await browser.newContext({ bypassCSP: true });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${server.issuer}/admin/organizations`);
    await page.getByLabel('Work email').fill(email);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    if (totp) {
      await waitForText(page.locator('h1'), '2-step verification');
      await page
        .getByLabel('Code from your authenticator app')
        .fill(await generateTotpCode({ secret: totp }));
      await page.getByRole('button', { name: 'Verify' }).click();
    }
    await page.locator('#handoff').click();
    await waitForText(page.locator('h1'), 'Organizations');
    return page;
  }

  const main = (page: Page) => page.locator('main').innerText();

  // One sign-in for the instance administrator: a TOTP code is accepted once per window.
  let aliceSignedIn: Page | undefined;
  async function alicePage(): Promise<Page> {
    aliceSignedIn ??= await signIn('alice@beta.test', ALICE_TOTP);
    await aliceSignedIn.goto(`${server.issuer}/admin/organizations`);
    return aliceSignedIn;
  }

  it('an instance administrator adds an organization, a domain, a policy, a user, makes them its administrator, and removes an app after confirming', async () => {
    const alice = await alicePage();

    // Organization
    await alice.getByLabel('Id', { exact: true }).fill('epsilon');
    await alice.getByLabel('Name', { exact: true }).fill('Epsilon Ltd');
    await alice.getByRole('button', { name: 'Add organization' }).click();
    await waitForText(alice.locator('h1'), 'Epsilon Ltd');
    await waitForText(alice.locator('[role=status]'), /organization is added/);
    expect((await server.parts.repos.organizations.findById('epsilon'))?.id).toBe('epsilon');

    // A domain to verify by DNS: shown unverified, with the TXT record to publish.
    await alice.getByLabel('Domain to add').fill('eps-dns.test');
    await alice.getByLabel(/Verify by DNS TXT record/).check();
    await alice.getByRole('button', { name: 'Add domain' }).click();
    await waitForText(alice.locator('[role=status]'), /domain is added/);
    const row = alice.locator('tr', { hasText: 'eps-dns.test' });
    expect(await row.innerText()).toMatch(/not verified/);
    expect(await row.locator('code').innerText()).toMatch(/\S{8,}/);
    expect(await alice.getByRole('button', { name: 'Verify eps-dns.test now' }).count()).toBe(1);
    // One the administrator vouches for: verified at once.
    await alice.getByLabel('Domain to add').fill('eps.test');
    await alice.getByRole('button', { name: 'Add domain' }).click();
    await waitForText(alice.locator('[role=status]'), /domain is added/);
    expect(
      await alice
        .locator('tr', { hasText: /^eps\.test/ })
        .first()
        .innerText(),
    ).toMatch(/verified/);
    expect(await axeViolations(alice)).toEqual([]);
    await screenshot(alice, 'console', 'organization-forms');

    // Policy
    // The form starts from the stored policy, in the file's keys.
    expect(JSON.parse(await alice.getByLabel('Policy (JSON)').inputValue()).require_2sv).toBe(false);
    await alice
      .getByLabel('Policy (JSON)')
      .fill('{ "require_2sv": true, "allowed_clients": ["acme-desktop"] }');
    await alice.getByRole('button', { name: 'Save policy' }).click();
    await waitForText(alice.locator('[role=status]'), /policy is saved/);
    const stored = (await server.parts.repos.organizations.findById('epsilon'))?.policy;
    expect(stored?.require2sv).toBe(true);
    expect(stored?.allowedClients).toEqual(['acme-desktop']);
    expect(JSON.parse(await alice.getByLabel('Policy (JSON)').inputValue()).require_2sv).toBe(true);

    // Remove a domain: the confirmation page first.
    await alice.getByRole('button', { name: 'Remove eps-dns.test…' }).click();
    await waitForText(alice.locator('h1'), 'Remove eps-dns.test');
    expect(await server.parts.repos.organizations.findDomain('eps-dns.test')).toBeDefined();
    await alice.getByRole('button', { name: 'Remove eps-dns.test', exact: true }).click();
    await waitForText(alice.locator('[role=status]'), /domain is removed/);
    expect(await server.parts.repos.organizations.findDomain('eps-dns.test')).toBeUndefined();

    // User
    await alice.getByRole('link', { name: 'Users' }).click();
    const addUser = alice.getByRole('form', { name: 'Add a user' });
    await addUser.getByLabel('Email', { exact: true }).fill('erin@eps.test');
    await addUser.getByLabel('Name', { exact: true }).fill('Erin');
    await addUser.getByLabel('Organization', { exact: true }).selectOption('epsilon');
    await addUser.getByLabel(/^Password/).fill(PASSWORD);
    await addUser.getByRole('button', { name: 'Add user' }).click();
    await waitForText(alice.locator('h1'), 'erin@eps.test');
    await waitForText(alice.locator('[role=status]'), /user is added/);
    expect((await server.parts.repos.users.findByEmail('erin@eps.test'))?.organizationId).toBe('epsilon');
    expect(await axeViolations(alice)).toEqual([]);
    await alice.getByLabel('New password').fill('another long enough password');
    await alice.getByRole('button', { name: 'Set password' }).click();
    await waitForText(alice.locator('[role=status]'), /password is set/);

    // Administrators: grant erin epsilon's administrator role.
    await alice.getByRole('link', { name: 'Administrators' }).click();
    await waitForText(alice.locator('h1'), 'Administrators');
    await alice.getByLabel('User (email or id)').fill('erin@eps.test');
    await alice.getByLabel('Role', { exact: true }).selectOption('epsilon');
    await alice.getByRole('button', { name: 'Grant' }).click();
    await waitForText(alice.locator('[role=status]'), /role is granted/);
    expect(await alice.locator('tr', { hasText: 'erin@eps.test' }).innerText()).toMatch(
      /administrator of epsilon/,
    );
    expect(await axeViolations(alice)).toEqual([]);
    await screenshot(alice, 'console', 'administrators');
    // A file-declared role offers no revoke button; a granted one is revoked after confirming.
    expect(await alice.locator('tr', { hasText: 'olivia@gamma.test' }).innerText()).toMatch(
      /change the file/,
    );
    await alice.getByRole('button', { name: 'Revoke erin@eps.test (administrator of epsilon)…' }).click();
    await waitForText(alice.locator('h1'), 'Revoke administrator');
    expect(await main(alice)).toMatch(/erin@eps\.test/);
    expect(await axeViolations(alice)).toEqual([]);
    await alice.getByRole('button', { name: 'Revoke', exact: true }).click();
    await waitForText(alice.locator('[role=status]'), /role is taken away/);
    expect(await alice.locator('tr', { hasText: 'erin@eps.test' }).count()).toBe(0);
    // Granted again, to stay: the organization has its administrator.
    await alice.getByLabel('User (email or id)').fill('erin@eps.test');
    await alice.getByLabel('Role', { exact: true }).selectOption('epsilon');
    await alice.getByRole('button', { name: 'Grant' }).click();
    await waitForText(alice.locator('[role=status]'), /role is granted/);

    // Apps: add one, then remove it through the confirmation.
    await alice.getByRole('link', { name: 'Apps' }).click();
    await alice.getByLabel('Client id').fill('eps-tool');
    await alice.getByLabel('Name', { exact: true }).fill('Eps Tool');
    await alice.getByLabel('Redirect URIs (one a line)').fill('http://127.0.0.1/callback');
    await alice.getByRole('button', { name: 'Add app' }).click();
    await waitForText(alice.locator('[role=status]'), /app is added/);
    expect(await axeViolations(alice)).toEqual([]);
    await alice.getByRole('button', { name: 'Remove Eps Tool…' }).click();
    await waitForText(alice.locator('h1'), 'Remove app');
    expect((await server.parts.repos.clients.list()).some((c) => c.id === 'eps-tool')).toBe(true);
    expect(await axeViolations(alice)).toEqual([]);
    await alice.getByRole('button', { name: 'Remove app', exact: true }).click();
    await waitForText(alice.locator('[role=status]'), /app is removed/);
    expect((await server.parts.repos.clients.list()).some((c) => c.id === 'eps-tool')).toBe(false);
    // A file-declared app offers no remove button.
    expect(await alice.getByRole('button', { name: 'Remove Acme Desktop…' }).count()).toBe(0);
  }, 180_000);

  it('shows the API’s validation errors and configuration-file refusals next to the form', async () => {
    const alice = await alicePage();
    await alice.getByRole('link', { name: 'Gamma Inc' }).click();
    await waitForText(alice.locator('h1'), 'Gamma Inc');
    await alice.getByLabel('Policy (JSON)').fill('{ "require_2sv": "maybe", "session_lifetime": [] }');
    const answer = alice.waitForResponse((r) => r.url().endsWith('/policy'));
    await alice.getByRole('button', { name: 'Save policy' }).click();
    expect((await answer).status()).toBe(400);
    const error = alice.locator('[role=alert], .alert.error').first();
    await waitForText(error, /require_2sv/);
    // The form is still there to correct the input.
    expect(await alice.getByLabel('Policy (JSON)').count()).toBe(1);
    expect(await axeViolations(alice)).toEqual([]);
    await screenshot(alice, 'console', 'policy-invalid');

    await alice.getByLabel('Policy (JSON)').fill('{ not json');
    await alice.getByRole('button', { name: 'Save policy' }).click();
    await waitForText(alice.locator('[role=alert], .alert.error').first(), /not valid JSON/);

    // Every problem of a connection at once (the API's problem details), beside the form.
    await alice.getByLabel('Connection (JSON)').fill('{ "type": "oidc" }');
    await alice.getByRole('button', { name: 'Save connection' }).click();
    const problems = await alice.locator('[role=alert], .alert.error').first().innerText();
    expect(problems).toMatch(/issuer/);
    expect(problems).toMatch(/client_id/);
    // A valid policy for a file-declared organization: the API's refusal says where to change it.
    await alice.getByLabel('Policy (JSON)').fill('{ "require_2sv": true }');
    await alice.getByRole('button', { name: 'Save policy' }).click();
    await waitForText(
      alice.locator('[role=alert], .alert.error').first(),
      /declared in the configuration file/,
    );
    expect((await server.parts.repos.organizations.findById('gamma'))?.policy.require2sv).toBe(false);

    // A form without the session's CSRF token changes nothing.
    const forged = await alice.request.post(`${server.issuer}/admin/organizations`, {
      form: { id: 'forged', name: 'Forged' },
      maxRedirects: 0,
    });
    expect(forged.status()).toBe(403);
    expect(await server.parts.repos.organizations.findById('forged')).toBeUndefined();

    // Gamma is declared in the configuration file: the API refuses, and says where to change it.
    await alice.getByRole('button', { name: 'Remove this organization…' }).click();
    await waitForText(alice.locator('h1'), 'Remove organization');
    await alice.getByRole('button', { name: 'Remove organization', exact: true }).click();
    await waitForText(
      alice.locator('[role=alert], .alert.error').first(),
      /gamma is declared in the configuration file/,
    );
    expect(await server.parts.repos.organizations.findById('gamma')).toBeDefined();

    // A bad email for a new user.
    await alice.getByRole('link', { name: 'Users' }).click();
    await alice
      .getByRole('form', { name: 'Add a user' })
      .getByLabel('Email', { exact: true })
      .fill('nobody@nowhere.invalid');
    await alice.getByRole('button', { name: 'Add user' }).click();
    await waitForText(alice.locator('[role=alert], .alert.error').first(), /\S/);
    expect(await server.parts.repos.users.findByEmail('nobody@nowhere.invalid')).toBeUndefined();
  }, 120_000);

  it('an organization administrator sees no instance-wide forms and gets 403 on the Administrators page', async () => {
    const olivia = await signIn('olivia@gamma.test');
    expect(await olivia.getByRole('link', { name: 'Administrators' }).count()).toBe(0);
    expect(await olivia.getByRole('button', { name: 'Add organization' }).count()).toBe(0);
    const response = await olivia.goto(`${server.issuer}/admin/administrators`);
    expect(response?.status()).toBe(403);
    expect(await main(olivia)).toMatch(/instance administrators/);
    expect(await axeViolations(olivia)).toEqual([]);

    await olivia.goto(`${server.issuer}/admin/organizations/gamma`);
    await waitForText(olivia.locator('h1'), 'Gamma Inc');
    expect(await olivia.getByLabel('Policy (JSON)').count()).toBe(0);
    expect(await olivia.getByRole('button', { name: 'Remove this organization…' }).count()).toBe(0);
    // What the role allows stays: adding a domain (verified by DNS, never vouched for).
    await olivia.getByLabel('Domain to add').fill('gamma-two.test');
    await olivia.getByRole('button', { name: 'Add domain' }).click();
    await waitForText(olivia.locator('[role=status]'), /domain is added/);
    expect(await olivia.locator('tr', { hasText: 'gamma-two.test' }).innerText()).toMatch(/not verified/);

    // SCIM provisioning for her organization: the token's value once, working, then revoked.
    await olivia.getByLabel('Label (where it is used)').fill('Entra ID');
    await olivia.getByRole('button', { name: 'Make a SCIM token' }).click();
    const value = await olivia.getByLabel('Token').inputValue();
    expect(value.length).toBeGreaterThan(30);
    expect(await axeViolations(olivia)).toEqual([]);
    const scimUsers = () =>
      fetch(`${server.issuer}/scim/v2/gamma/Users`, { headers: { authorization: `Bearer ${value}` } }).then(
        (r) => r.status,
      );
    expect(await scimUsers()).toBe(200);
    await olivia.goto(`${server.issuer}/admin/organizations/gamma`);
    expect(await olivia.content()).not.toContain(value);
    await olivia.getByRole('button', { name: 'Revoke Entra ID…' }).click();
    await waitForText(olivia.locator('h1'), 'Revoke SCIM token');
    expect(await scimUsers()).toBe(200); // nothing happens before the confirmation
    await olivia.getByRole('button', { name: 'Revoke SCIM token' }).click();
    await waitForText(olivia.locator('[role=status]'), /SCIM token is revoked/);
    expect(await scimUsers()).toBe(401);

    // Another organization's page: the API answers as if it did not exist.
    const other = await olivia.goto(`${server.issuer}/admin/organizations/beta`);
    expect(other?.status()).toBe(404);
  }, 120_000);
});
