import type * as client from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  SAML_RESPONSE_VARIANTS,
  type StandinSamlIdp,
  startStandinSamlIdp,
} from '../../../standin-idp/src/index.js';
import { upstreamUrls } from '../federation/connector-source.js';
import { launchBrowser, screenshot, waitForText } from '../test-support/browser.js';
import { createTestDatabaseUrl, testDatabaseKinds } from '../test-support/databases.js';
import { buildAuth, captureRedirects, discover, exchange } from '../test-support/oidc-client.js';
import { freePort, startTestServer, type TestServer } from '../test-support/server.js';

const SCHEME = 'com.acme.desktop:/oauth2redirect';
const CONNECTION = 'globex-saml';
// PostgreSQL, as a fleet runs; one shared SQLite file when a run is narrowed to SQLite.
const KIND = testDatabaseKinds().includes('postgres') ? 'postgres' : 'sqlite';

/**
 * SAML 2.0 upstream in Debian's Chromium with two Latchkey server instances on one PostgreSQL.
 *
 * A real fleet shares one issuer behind a load balancer; here both instances run with the same
 * LATCHKEY_ISSUER (process A's URL) and B listens on another port. The sign-in starts on B (the
 * AuthnRequest and the round-trip row are B's), the IdP posts to the issuer's ACS URL, which is A:
 * the response lands on the other instance and A finishes it from the database alone. Cookies are
 * scoped by host, not port, so the browser carries the interaction between them as it would
 * between two processes behind one name. (Both instances run in this test's Node process with
 * their own Fastify app, engine, database pool and SAML connector; nothing in memory is shared
 * between them on this path.)
 */
describe(`sign-in through an upstream SAML 2.0 IdP, two servers on one ${KIND} database`, () => {
  let a: TestServer;
  let b: TestServer;
  let issuer: string;
  let portB: number;
  let idp: StandinSamlIdp;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let redirects: ReturnType<typeof captureRedirects>;
  let desktop: client.Configuration;
  let dropDatabase: () => Promise<void>;

  beforeAll(async () => {
    issuer = `http://127.0.0.1:${await freePort()}`;
    portB = await freePort();
    const urls = upstreamUrls(issuer, CONNECTION);
    idp = await startStandinSamlIdp({
      spEntityId: urls.samlEntityId,
      acsUrl: urls.samlAcs,
      users: [
        { email: 'gina@globex.test', password: 'gina-pw', name: 'Gina', groups: ['ops'] },
        { email: 'hal@globex.test', password: 'hal-pw' },
      ],
    });
    const yaml = `
clients:
  - id: acme-desktop
    name: Acme Desktop
    redirect_uris: [${SCHEME}]
organizations:
  - id: globex
    name: Globex
    domains: [globex.test]
    connection: { type: saml, idp_metadata_url: "${idp.metadataUrl}" }
argon2: { memory_cost: 1024, time_cost: 1, parallelism: 1 }
`;
    const database = await createTestDatabaseUrl(KIND);
    dropDatabase = database.drop;
    a = await startTestServer({ yaml, databaseUrl: database.url, env: { LATCHKEY_ISSUER: issuer } });
    b = await startTestServer({
      yaml,
      databaseUrl: database.url,
      env: { LATCHKEY_ISSUER: issuer, LATCHKEY_PORT: String(portB) },
    });
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
    await b?.close();
    await a?.close();
    await dropDatabase?.();
    await idp?.close();
  });

  /** Starts on process B and stops at the IdP's sign-in page; returns the AuthnRequest URL. */
  async function startOnB(email: string) {
    const pending = await buildAuth(desktop, SCHEME);
    const onB = new URL(pending.url);
    onB.port = String(portB);
    await page.goto(onB.href);
    await page.getByLabel('Work email').fill(email);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL((url) => url.href.startsWith(idp.ssoUrl));
    return { pending, authnRequestUrl: page.url() };
  }

  it('publishes SP metadata per connection', async () => {
    const response = await fetch(upstreamUrls(issuer, CONNECTION).samlMetadata);
    expect(response.status).toBe(200);
    const xml = await response.text();
    expect(xml).toContain(`entityID="${issuer}/saml/${CONNECTION}"`);
    expect(xml).toContain(`Location="${issuer}/saml/${CONNECTION}/acs"`);
    expect((await fetch(`${issuer}/saml/nope/metadata`)).status).toBe(404);
  });

  it('email → IdP (email prefilled) → POST lands on the other server → handoff → code', async () => {
    const hits: string[] = [];
    context.on('request', (request) => hits.push(`${request.method()} ${request.url()}`));
    const { pending } = await startOnB('gina@globex.test');
    expect(await page.locator('input[name=email]').inputValue()).toBe('gina@globex.test');
    await screenshot(page, 'upstream', 'saml-01-idp');
    await page.locator('input[name=password]').fill('gina-pw');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await waitForText(page.locator('#handoff'), 'Launch Acme Desktop');
    const waiting = redirects.next();
    await page.locator('#handoff').click();
    const tokens = await exchange(desktop, pending, await waiting);
    expect(tokens.claims()?.email).toBe('gina@globex.test');
    expect(tokens.claims()?.amr).toContain('fed');

    // Started on B, answered on A.
    expect(
      hits.some((h) => h.startsWith(`GET http://127.0.0.1:${portB}/interaction/`) && h.endsWith('/upstream')),
    ).toBe(true);
    expect(hits).toContain(`POST ${issuer}/saml/${CONNECTION}/acs`);
    const acsLogged = (server: TestServer) =>
      server.logLines.some((l) => l.includes(`/saml/${CONNECTION}/acs`));
    expect(acsLogged(a)).toBe(true);
    expect(acsLogged(b)).toBe(false);
    const user = await a.parts.repos.users.findByEmail('gina@globex.test');
    expect(user).toBeDefined();
    expect(await a.parts.repos.users.groupsOf(user!.id)).toEqual(['ops']);
  });

  it('the round trip belongs to the browser that started it: a SAML response posted from another browser cannot finish it', async () => {
    // The attacker starts the sign-in for the victim's email and hands over the genuine IdP link.
    const { authnRequestUrl } = await startOnB('hal@globex.test');
    const victim = await browser.newContext();
    try {
      const victimPage = await victim.newPage();
      victimPage.setDefaultTimeout(10_000);
      await victimPage.goto(authnRequestUrl);
      await victimPage.locator('input[name=password]').fill('hal-pw');
      await victimPage.getByRole('button', { name: 'Sign in' }).click();
      await waitForText(victimPage.locator('[role=alert]'), /started in another browser/);
    } finally {
      await victim.close();
    }
    const refused = await a.parts.repos.audit.query({ action: 'upstream_sign_in', limit: 50 });
    expect(refused.some((e) => e.details.reason === 'other_browser')).toBe(true);
    expect(await a.parts.repos.users.findByEmail('hal@globex.test')).toBeUndefined();
  });

  // 'replayed' must follow a valid sign-in: it reuses the ID of the last assertion the IdP issued.
  const attacks = [
    'replayed',
    ...SAML_RESPONSE_VARIANTS.filter((v) => !v.startsWith('valid') && v !== 'replayed'),
  ] as const;

  it.each(attacks)('a crafted response (%s) is refused on a readable page', async (variant) => {
    const { authnRequestUrl } = await startOnB('hal@globex.test');
    const crafted = idp.craft(variant, authnRequestUrl, { email: 'hal@globex.test' });
    // The HTTP-POST binding from a page of another origin, as the IdP's auto-submitting form does it.
    const attr = (v: string) => v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
    const inputs = Object.entries(crafted.body)
      .map(([name, value]) => `<input type="hidden" name="${name}" value="${attr(String(value))}">`)
      .join('');
    await page.setContent(`<form method="post" action="${issuer}/saml/${CONNECTION}/acs">${inputs}</form>`);
    await Promise.all([
      page.waitForURL(`${issuer}/**`),
      page.locator('form').evaluate((form) => (form as HTMLFormElement).submit()),
    ]);
    await waitForText(page.locator('h1'), 'Sign-in did not finish');
    const alert = await page.locator('[role=alert]').innerText();
    expect(alert.length).toBeGreaterThan(20);
    expect(await page.content()).not.toMatch(/at \w+ \(|node_modules|Error:|<saml/);
    await page.getByRole('link', { name: 'Start again' }).waitFor();
    await screenshot(page, 'upstream', `saml-refused-${variant}`);
    expect(await a.parts.repos.users.findByEmail('hal@globex.test')).toBeUndefined();
  });

  it('refusals are audited with their reason', async () => {
    const events = await b.parts.repos.audit.query({ action: 'upstream_sign_in', limit: 500 });
    const reasons = new Set(events.filter((e) => e.outcome === 'failure').map((e) => e.details.reason));
    for (const reason of ['replayed', 'invalid_signature', 'wrong_audience', 'state_mismatch', 'expired']) {
      expect(reasons).toContain(reason);
    }
  });
});
