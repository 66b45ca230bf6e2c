import type * as client from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type StandinIdp,
  type StandinSamlIdp,
  startStandinIdp,
  startStandinSamlIdp,
  totpCode,
} from '../../../standin-idp/src/index.js';
import { generateTotpCode } from '../domain/two-step/totp.js';
import { upstreamUrls } from '../federation/connector-source.js';
import { launchBrowser, waitForText } from '../test-support/browser.js';
import {
  buildAuth,
  captureRedirects,
  discover,
  exchange,
  type PendingAuth,
} from '../test-support/oidc-client.js';
import { freePort, startTestServer, type TestServer } from '../test-support/server.js';

const SCHEME = 'com.acme.desktop:/oauth2redirect';
const MEETINGS = 'com.acme.meetings:/oauth2redirect';
const TOTP = 'JBSWY3DPEHPK3PXP';
const UPSTREAM_CLIENT = { client_id: 'latchkey', client_secret: 'upstream-secret' };
const TWO_FACTOR_CLASS = 'urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract';

/**
 * The organization's policy holds for people who sign in through its IdP exactly as for local
 * accounts, because every first factor passes the sign-in table's policy step:
 * - `require_2sv`: accepted when the upstream proves a second factor (OIDC `amr`, SAML
 *   `AuthnContextClassRef`) or the connection vouches for its IdP (`trust_upstream`); otherwise
 *   Latchkey asks for its own second step, or its enrollment; `proof: latchkey` always asks;
 * - `allowed_clients`: also on the single sign-on path (a browser session, no credentials asked);
 * - throttling: the federated person's Latchkey second step is throttled like a local one.
 */
describe('federated sign-ins pass the organization policy', () => {
  let server: TestServer;
  let issuer: string;
  let google: StandinIdp;
  let oidc: StandinIdp;
  let saml: StandinSamlIdp;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let redirects: ReturnType<typeof captureRedirects>;
  let desktop: client.Configuration;
  let meetings: client.Configuration;

  beforeAll(async () => {
    issuer = `http://127.0.0.1:${await freePort()}`;
    const redirect_uris = [`${issuer}/upstream/callback`];
    google = await startStandinIdp({
      profile: 'google',
      clients: [{ ...UPSTREAM_CLIENT, redirect_uris }],
      users: [
        // Google's ID tokens carry no amr: its 2-step verification proves nothing to Latchkey.
        { email: 'gail@gstrict.test', password: 'gail-pw', totpSecret: TOTP },
        { email: 'tom@gtrust.test', password: 'tom-pw' },
        { email: 'paula@partial.test', password: 'paula-pw' },
      ],
    });
    oidc = await startStandinIdp({
      profile: 'entra',
      reportAmr: true,
      clients: [{ ...UPSTREAM_CLIENT, redirect_uris }],
      users: [
        { email: 'olga@ostrict.test', password: 'olga-pw', totpSecret: TOTP },
        { email: 'otto@ostrict.test', password: 'otto-pw' },
        { email: 'lena@olatchkey.test', password: 'lena-pw', totpSecret: TOTP },
      ],
    });
    const urls = upstreamUrls(issuer, 'sstrict-saml');
    saml = await startStandinSamlIdp({
      spEntityId: urls.samlEntityId,
      acsUrl: urls.samlAcs,
      users: [
        { email: 'sam@sstrict.test', password: 'sam-pw', authnContextClassRef: TWO_FACTOR_CLASS },
        { email: 'sue@sstrict.test', password: 'sue-pw' },
        { email: 'ruth@sstrict.test', password: 'ruth-pw', authnContextClassRef: 'urn:example:acr:strong' },
      ],
    });
    const google_ = () =>
      `{ type: google, client_id: latchkey, client_secret: upstream-secret, issuer: "${google.issuer}"`;
    const yaml = `
clients:
  - id: acme-desktop
    name: Acme Desktop
    redirect_uris: [${SCHEME}]
  - id: acme-meetings
    name: Acme Meetings
    redirect_uris: [${MEETINGS}]
organizations:
  - id: gstrict
    name: G Strict
    domains: [gstrict.test]
    connection: ${google_()} }
    policy: { require_2sv: true }
  - id: gtrust
    name: G Trusted
    domains: [gtrust.test]
    connection: ${google_()}, second_factor: { proof: trust_upstream } }
    policy: { require_2sv: true }
  - id: partial
    name: Partial
    domains: [partial.test]
    connection: ${google_()} }
    policy: { allowed_clients: [acme-meetings] }
  - id: ostrict
    name: O Strict
    domains: [ostrict.test]
    connection: { type: oidc, issuer: "${oidc.issuer}", client_id: latchkey, client_secret: upstream-secret, entra_tenant_id: ${oidc.tenantId} }
    policy: { require_2sv: true }
  - id: olatchkey
    name: O Latchkey
    domains: [olatchkey.test]
    connection: { type: oidc, issuer: "${oidc.issuer}", client_id: latchkey, client_secret: upstream-secret, entra_tenant_id: ${oidc.tenantId}, second_factor: { proof: latchkey } }
    policy: { require_2sv: true }
  - id: sstrict
    name: S Strict
    domains: [sstrict.test]
    connection: { type: saml, idp_metadata_url: "${saml.metadataUrl}", second_factor: { trusted_acr: ["urn:example:acr:strong"] } }
    policy: { require_2sv: true }
argon2: { memory_cost: 1024, time_cost: 1, parallelism: 1 }
`;
    server = await startTestServer({ yaml, env: { LATCHKEY_ISSUER: issuer } });
    browser = await launchBrowser();
    desktop = await discover(issuer, 'acme-desktop');
    meetings = await discover(issuer, 'acme-meetings');
  });

  beforeEach(async () => {
    await context?.close();
    context = await browser.newContext();
    redirects = captureRedirects(context, SCHEME);
    page = await context.newPage();
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.dispose();
    await google?.close();
    await oidc?.close();
    await saml?.close();
  });

  async function startAt(email: string, at: string, app = desktop, scheme = SCHEME) {
    const pending = await buildAuth(app, scheme);
    await page.goto(pending.url.toString());
    await page.getByLabel('Work email').fill(email);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL((url) => url.href.startsWith(at));
    return pending;
  }

  /** The OIDC stand-in's pages: password, then its own TOTP page when the user has one. */
  async function passOidc(password: string, totp?: string) {
    await page.fill('#password', password);
    await page.click('#next');
    if (totp) {
      await page.waitForSelector('form[data-step=totp]');
      await page.fill('#code', await totpCode(totp));
      await page.click('#next');
    }
  }

  async function passSaml(password: string) {
    await page.locator('input[name=password]').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  async function launch(pending: PendingAuth, app = desktop) {
    await waitForText(page.locator('#handoff'), /Launch Acme/);
    const waiting = redirects.next();
    await page.locator('#handoff').click();
    return (await exchange(app, pending, await waiting)).claims();
  }

  /** Latchkey's own enrollment: set up an authenticator app, save the codes; returns the TOTP secret. */
  async function enrollAtLatchkey(): Promise<string> {
    await waitForText(page.locator('h1'), 'Set up 2-step verification');
    const key = (await page.locator('#totp-key').innerText()).replace(/\s/g, '');
    await page.getByLabel('Code from your authenticator app').fill(await generateTotpCode({ secret: key }));
    await page.getByRole('button', { name: 'Confirm' }).click();
    await waitForText(page.locator('h1'), 'Save your recovery codes');
    await page.getByRole('button', { name: 'I saved my codes' }).click();
    return key;
  }

  async function audit(action: string) {
    return server.parts.repos.audit.query({ action, limit: 500 });
  }

  it('Google without proof of a second factor: Latchkey enrolls its own, then asks for it next time', async () => {
    let pending = await startAt('gail@gstrict.test', google.issuer);
    await passOidc('gail-pw', TOTP);
    const key = await enrollAtLatchkey();
    const first = await launch(pending);
    expect(first?.amr).toEqual(expect.arrayContaining(['fed', 'otp', 'mfa']));

    await context.close();
    context = await browser.newContext();
    redirects = captureRedirects(context, SCHEME);
    page = await context.newPage();
    pending = await startAt('gail@gstrict.test', google.issuer);
    await passOidc('gail-pw', TOTP);
    await waitForText(page.locator('h1'), /2-step verification/);
    // The authenticator moves on to the next 30-second step before a code is accepted twice.
    const code = await generateTotpCode({ secret: key, now: Date.now() + 30_000 });
    await page.locator('#code').fill(code);
    await page.getByRole('button', { name: 'Verify' }).click();
    const second = await launch(pending);
    expect(second?.amr).toEqual(expect.arrayContaining(['fed', 'otp', 'mfa']));
  });

  it('Google with second_factor.proof trust_upstream: no Latchkey second step', async () => {
    const pending = await startAt('tom@gtrust.test', google.issuer);
    await passOidc('tom-pw');
    const claims = await launch(pending);
    expect(claims?.amr).toEqual(expect.arrayContaining(['fed', 'mfa']));
    const signIn = (await audit('sign_in')).find((e) => e.details.secondFactor === 'trusted_connection');
    expect(signIn).toBeDefined();
  });

  it('OIDC: an amr with otp proves the second factor; a password-only amr gets Latchkey enrollment', async () => {
    let pending = await startAt('olga@ostrict.test', oidc.issuer);
    await passOidc('olga-pw', TOTP);
    const olga = await launch(pending);
    expect(olga?.amr).toEqual(expect.arrayContaining(['fed', 'pwd', 'otp', 'mfa']));

    await context.close();
    context = await browser.newContext();
    redirects = captureRedirects(context, SCHEME);
    page = await context.newPage();
    pending = await startAt('otto@ostrict.test', oidc.issuer);
    await passOidc('otto-pw');
    await enrollAtLatchkey();
    const otto = await launch(pending);
    expect(otto?.amr).toEqual(expect.arrayContaining(['fed', 'otp', 'mfa']));
    const methods = await server.parts.repos.credentials.methodsOf(
      (await server.parts.repos.users.findByEmail('otto@ostrict.test'))!.id,
    );
    expect(methods).toMatchObject({ totp: true, recoveryCodes: 10 });
  });

  it('OIDC with second_factor.proof latchkey: the upstream amr is not enough', async () => {
    const pending = await startAt('lena@olatchkey.test', oidc.issuer);
    await passOidc('lena-pw', TOTP);
    await enrollAtLatchkey();
    await launch(pending);
  });

  it('SAML: a two-factor AuthnContextClassRef (standard or trusted) proves it; PasswordProtectedTransport does not', async () => {
    let pending = await startAt('sam@sstrict.test', saml.ssoUrl);
    await passSaml('sam-pw');
    expect((await launch(pending))?.amr).toEqual(expect.arrayContaining(['fed', 'mfa']));

    await context.close();
    context = await browser.newContext();
    redirects = captureRedirects(context, SCHEME);
    page = await context.newPage();
    pending = await startAt('ruth@sstrict.test', saml.ssoUrl);
    await passSaml('ruth-pw');
    expect((await launch(pending))?.amr).toEqual(expect.arrayContaining(['fed', 'mfa']));

    await context.close();
    context = await browser.newContext();
    redirects = captureRedirects(context, SCHEME);
    page = await context.newPage();
    pending = await startAt('sue@sstrict.test', saml.ssoUrl);
    await passSaml('sue-pw');
    await enrollAtLatchkey();
    expect((await launch(pending))?.amr).toEqual(expect.arrayContaining(['fed', 'otp', 'mfa']));
  });

  it('allowed_clients holds on the single sign-on path too: a browser session does not open a forbidden app', async () => {
    const meetingsRedirects = captureRedirects(context, MEETINGS);
    const allowed = await startAt('paula@partial.test', google.issuer, meetings, MEETINGS);
    await passOidc('paula-pw');
    await waitForText(page.locator('#handoff'), 'Launch Acme Meetings');
    const waiting = meetingsRedirects.next();
    await page.locator('#handoff').click();
    await exchange(meetings, allowed, await waiting);

    // Same browser, live session: Acme Desktop is not allowed for Partial's people.
    const forbidden = await buildAuth(desktop, SCHEME);
    await page.goto(forbidden.url.toString());
    await waitForText(page.locator('[role=alert]'), /is not enabled for your organization/);
    expect(await page.locator('#handoff').count()).toBe(0);
    const refused = (await audit('sign_in')).find(
      (e) => e.outcome === 'failure' && e.details.reason === 'client_not_allowed',
    );
    expect(refused).toBeDefined();
  });

  it("a federated person's Latchkey second step is throttled like a local one", async () => {
    const pending = await startAt('gail@gstrict.test', google.issuer);
    await passOidc('gail-pw', TOTP);
    await waitForText(page.locator('h1'), /2-step verification/);
    let throttled = false;
    for (let i = 0; i < 12 && !throttled; i += 1) {
      await page.locator('#code').fill('000000');
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.locator('[role=alert]').waitFor();
      throttled = /Too many attempts/.test(await page.locator('[role=alert]').innerText());
    }
    expect(throttled).toBe(true);
    expect(pending).toBeDefined();
  });
});
