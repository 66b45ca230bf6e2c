import type * as client from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type StandinIdp,
  type StandinSamlIdp,
  startStandinIdp,
  startStandinSamlIdp,
} from '../../../standin-idp/src/index.js';
import { upstreamUrls } from '../federation/connector-source.js';
import { launchBrowser, screenshot, waitForText } from '../test-support/browser.js';
import { buildAuth, captureRedirects, discover, exchange } from '../test-support/oidc-client.js';
import { freePort, startTestServer, type TestServer } from '../test-support/server.js';

const SCHEME = 'com.acme.desktop:/oauth2redirect';
const UPSTREAM_CLIENT = { client_id: 'latchkey', client_secret: 'upstream-secret' };
const KINDS = ['google', 'oidc', 'saml'] as const;
const RULES = ['organization_domains', 'any_verified', 'any'] as const;
type Kind = (typeof KINDS)[number];
type Rule = (typeof RULES)[number];

/** The people at the upstream: none of them has an email in the organizations' domains. */
const GUEST = { email: 'gus@elsewhere.test', password: 'gus-pw', name: 'Gus Guest' };
const UNVERIFIED = { email: 'una@elsewhere.test', password: 'una-pw', emailVerified: false };
const NAMELESS = { email: 'nobody@elsewhere.test', password: 'nobody-pw' };

const orgId = (kind: Kind, rule: Rule) => `${kind}-${rule.replace(/_/g, '-')}`;
const domainOf = (kind: Kind, rule: Rule) => `${orgId(kind, rule)}.test`;

/**
 * `policy.accept_identities`, one rule for Google, OpenID Connect and SAML: in Debian's Chromium, a
 * person types an email of the organization on Latchkey, then signs in at the organization's IdP
 * (the stand-ins) as an account whose email is outside the organization's domains or unverified.
 */
describe('the identity rule, for every connector kind and every setting', () => {
  let server: TestServer;
  let issuer: string;
  let google: StandinIdp;
  let oidc: StandinIdp;
  const saml = new Map<Rule, StandinSamlIdp>();
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let redirects: ReturnType<typeof captureRedirects>;
  let desktop: client.Configuration;

  beforeAll(async () => {
    issuer = `http://127.0.0.1:${await freePort()}`;
    const redirect_uris = [`${issuer}/upstream/callback`];
    const users = [GUEST, UNVERIFIED, NAMELESS];
    google = await startStandinIdp({
      profile: 'google',
      clients: [{ ...UPSTREAM_CLIENT, redirect_uris }],
      users,
    });
    oidc = await startStandinIdp({
      profile: 'google',
      clients: [{ ...UPSTREAM_CLIENT, redirect_uris }],
      users,
    });
    for (const rule of RULES) {
      const urls = upstreamUrls(issuer, `${orgId('saml', rule)}-saml`);
      saml.set(
        rule,
        await startStandinSamlIdp({
          spEntityId: urls.samlEntityId,
          acsUrl: urls.samlAcs,
          users: [GUEST, NAMELESS],
        }),
      );
    }
    const connection = (kind: Kind, rule: Rule) => {
      if (kind === 'google')
        return `{ type: google, client_id: latchkey, client_secret: upstream-secret, issuer: "${google.issuer}" }`;
      if (kind === 'oidc')
        return `{ type: oidc, client_id: latchkey, client_secret: upstream-secret, issuer: "${oidc.issuer}" }`;
      return `{ type: saml, idp_metadata_url: "${saml.get(rule)?.metadataUrl}" }`;
    };
    const organizations = KINDS.flatMap((kind) =>
      RULES.map(
        (rule) => `
  - id: ${orgId(kind, rule)}
    name: Org ${orgId(kind, rule)}
    domains: [${domainOf(kind, rule)}]
    connection: ${connection(kind, rule)}
    policy: { accept_identities: ${rule} }`,
      ),
    ).join('');
    const yaml = `
clients:
  - id: acme-desktop
    name: Acme Desktop
    redirect_uris: [${SCHEME}]
organizations:${organizations}
argon2: { memory_cost: 1024, time_cost: 1, parallelism: 1 }
`;
    server = await startTestServer({ yaml, env: { LATCHKEY_ISSUER: issuer } });
    browser = await launchBrowser();
    desktop = await discover(issuer, 'acme-desktop');
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
    for (const idp of saml.values()) await idp.close();
  });

  let usersBefore = 0;
  async function usersOf(organizationId: string): Promise<number> {
    const rows = await server.parts.database.db
      .selectFrom('users')
      .select('id')
      .where('organization_id', '=', organizationId)
      .execute();
    return rows.length;
  }

  /** Latchkey's email page with an address of the organization, then the IdP as `who`. */
  async function signInAs(kind: Kind, rule: Rule, who: { email: string; password: string }) {
    usersBefore = await usersOf(orgId(kind, rule));
    const pending = await buildAuth(desktop, SCHEME);
    await page.goto(pending.url.toString());
    await page.getByLabel('Work email').fill(`someone@${domainOf(kind, rule)}`);
    await page.getByRole('button', { name: 'Continue' }).click();
    if (kind === 'saml') {
      await page.waitForURL((url) => url.href.startsWith(saml.get(rule)?.ssoUrl ?? '-'));
      await page.locator('input[name=email]').fill(who.email);
      await page.locator('input[name=password]').fill(who.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
    } else {
      const idp = kind === 'google' ? google : oidc;
      await page.waitForURL((url) => url.href.startsWith(idp.issuer));
      // The hinted address is not an account there: the IdP asks for one.
      await page.fill('#email', who.email);
      await page.click('#next');
      await page.fill('#password', who.password);
      await page.click('#next');
    }
    return pending;
  }

  async function refusals(organizationId: string) {
    const events = await server.parts.repos.audit.query({ action: 'upstream_sign_in', limit: 500 });
    return events.filter((e) => e.organizationId === organizationId && e.outcome === 'failure');
  }

  async function expectRefused(
    kind: Kind,
    rule: Rule,
    text: RegExp,
    claim: string,
    reason = 'identity_not_accepted',
  ) {
    await waitForText(page.locator('[role=alert]'), text);
    expect(await page.locator('h1').innerText()).toBe('Sign-in did not finish');
    await screenshot(page, 'identity-rule', `${kind}-${rule}-refused`);
    const [event] = await refusals(orgId(kind, rule));
    expect(event?.details).toMatchObject({ reason, connection: `${orgId(kind, rule)}-${kind}`, claim });
    if (reason === 'identity_not_accepted') expect(event?.details.rule).toBe(rule);
    // Nothing was created or linked for the refused person.
    expect(await usersOf(orgId(kind, rule))).toBe(usersBefore);
  }

  /** The handoff page: "Signed in as" names the person, never the internal user id. */
  async function expectSignedIn(pending: Awaited<ReturnType<typeof signInAs>>, label: string) {
    await waitForText(page.locator('#handoff'), 'Launch Acme Desktop');
    const identity = await page.locator('.identity').innerText();
    expect(identity).toBe(`Signed in as ${label}`);
    const waiting = redirects.next();
    await page.locator('#handoff').click();
    const tokens = await exchange(desktop, pending, await waiting);
    const user = await server.parts.repos.users.findById(String(tokens.claims()?.sub));
    expect(identity).not.toContain(String(user?.id));
    return user;
  }

  for (const kind of KINDS) {
    it(`${kind}, organization_domains (the default): an email outside the domains is refused, naming the claim`, async () => {
      await signInAs(kind, 'organization_domains', GUEST);
      if (kind === 'google') {
        // Google's form of the rule: the verified ID token's hosted domain (`hd`) must be the organization's.
        await expectRefused(
          kind,
          'organization_domains',
          /does not belong to your organization/,
          'hd',
          'wrong_hosted_domain',
        );
      } else {
        await expectRefused(kind, 'organization_domains', /outside .*’s domains/, 'email');
      }
    });

    it(`${kind}, any_verified: a guest with a vouched-for email of another domain signs in`, async () => {
      const pending = await signInAs(kind, 'any_verified', GUEST);
      const user = await expectSignedIn(pending, GUEST.name);
      expect(user?.organizationId).toBe(orgId(kind, 'any_verified'));
      // The foreign email never becomes the account's email (it would route nobody, and link no one).
      expect(user?.email).toBeNull();
    });

    it(`${kind}, any: an account without a name is shown by the upstream's label`, async () => {
      const pending = await signInAs(kind, 'any', NAMELESS);
      await expectSignedIn(pending, NAMELESS.email);
    });
  }

  for (const kind of ['google', 'oidc'] as const) {
    it(`${kind}, any_verified: an unverified email is refused (claim email_verified)`, async () => {
      await signInAs(kind, 'any_verified', UNVERIFIED);
      if (kind === 'google') {
        await expectRefused(
          kind,
          'any_verified',
          /has not verified the email/,
          'email_verified',
          'email_unverified',
        );
      } else {
        await expectRefused(kind, 'any_verified', /did not confirm the email address/, 'email_verified');
      }
    });

    it(`${kind}, any: an unverified email signs in`, async () => {
      const pending = await signInAs(kind, 'any', UNVERIFIED);
      await expectSignedIn(pending, UNVERIFIED.email);
    });
  }
});
