import * as client from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type StandinIdp, startStandinIdp, totpCode } from '../../../standin-idp/src/index.js';
import { launchBrowser, screenshot, waitForText } from '../test-support/browser.js';
import { buildAuth, captureRedirects, discover, exchange } from '../test-support/oidc-client.js';
import { freePort, startTestServer, type TestServer } from '../test-support/server.js';

const SCHEME = 'com.acme.desktop:/oauth2redirect';
const TOTP = 'JBSWY3DPEHPK3PXP';
const UPSTREAM_CLIENT = { client_id: 'latchkey', client_secret: 'upstream-secret' };

/**
 * Email on Latchkey → the organization's IdP (stand-ins for Google and Entra ID on loopback) →
 * back → handoff click → code, in Debian's Chromium against real servers; and every way it can
 * fail ending on a readable page.
 */
describe('sign-in through an upstream OpenID Connect IdP', () => {
  let server: TestServer;
  let issuer: string;
  let google: StandinIdp;
  let entra: StandinIdp;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let redirects: ReturnType<typeof captureRedirects>;
  let desktop: client.Configuration;
  let closedPort: number;

  beforeAll(async () => {
    // The issuer is chosen first: the stand-ins must know Latchkey's redirect URI.
    issuer = `http://127.0.0.1:${await freePort()}`;
    closedPort = await freePort();
    const redirect_uris = [`${issuer}/upstream/callback`];
    google = await startStandinIdp({
      profile: 'google',
      clients: [{ ...UPSTREAM_CLIENT, redirect_uris }],
      users: [
        { email: 'alice@acme.test', password: 'alice-pw', totpSecret: TOTP, name: 'Alice', groups: ['eng'] },
        { email: 'unverified@acme.test', password: 'pw', emailVerified: false },
        { email: 'personal@acme.test', password: 'pw', hd: 'elsewhere.test' },
        { email: 'dave@acme.test', password: 'pw' },
        { email: 'erin@acme.test', password: 'pw' },
        { email: 'newbie@strict.test', password: 'pw' },
      ],
    });
    entra = await startStandinIdp({
      profile: 'entra',
      clients: [{ ...UPSTREAM_CLIENT, redirect_uris }],
      users: [
        { email: 'bob@contoso.test', password: 'bob-pw', totpSecret: TOTP, name: 'Bob', groups: ['g1'] },
      ],
    });
    const yaml = `
clients:
  - id: acme-desktop
    name: Acme Desktop
    redirect_uris: [${SCHEME}, http://127.0.0.1/callback]
organizations:
  - id: acme
    name: Acme Corp
    domains: [acme.test]
    connection: { type: google, client_id: latchkey, client_secret: upstream-secret, issuer: "${google.issuer}" }
    policy: { upstream_revalidate_interval: 1s }
  - id: strict
    name: Strict Inc
    domains: [strict.test]
    connection: { type: google, client_id: latchkey, client_secret: upstream-secret, issuer: "${google.issuer}" }
    policy: { jit_provisioning: false }
  - id: contoso
    name: Contoso
    domains: [contoso.test]
    connection:
      type: oidc
      issuer: "${entra.issuer}"
      client_id: latchkey
      client_secret: upstream-secret
      entra_tenant_id: ${entra.tenantId}
  - id: down
    name: Down Ltd
    domains: [down.test]
    connection: { type: google, client_id: latchkey, client_secret: x, issuer: "http://127.0.0.1:${closedPort}" }
argon2: { memory_cost: 1024, time_cost: 1, parallelism: 1 }
`;
    server = await startTestServer({ yaml, env: { LATCHKEY_ISSUER: issuer } });
    browser = await launchBrowser();
    desktop = await discover(issuer, 'acme-desktop');
  });

  // A fresh browser (no Latchkey or upstream session) and a new tab for every sign-in.
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
    await entra?.close();
  });

  /** Types the email on Latchkey's page and waits to arrive at the IdP. */
  async function startAt(email: string, idp: StandinIdp) {
    const pending = await buildAuth(desktop, SCHEME);
    await page.goto(pending.url.toString());
    await page.getByLabel('Work email').fill(email);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL((url) => url.href.startsWith(idp.issuer));
    return pending;
  }

  /** The stand-in's pages: the email is already there (login_hint); password, then TOTP if set. */
  async function passUpstream(email: string, password: string, totp?: string) {
    await waitForText(page.locator('#who'), email);
    await page.fill('#password', password);
    await page.click('#next');
    if (totp) {
      await page.waitForSelector('form[data-step=totp]');
      await page.fill('#code', await totpCode(totp));
      await page.click('#next');
    }
  }

  async function handoff(pending: Awaited<ReturnType<typeof startAt>>) {
    await waitForText(page.locator('#handoff'), 'Launch Acme Desktop');
    const waiting = redirects.next();
    await page.locator('#handoff').click();
    return exchange(desktop, pending, await waiting);
  }

  async function expectRefusal(text: RegExp, shot: string) {
    await waitForText(page.locator('[role=alert]'), text);
    expect(await page.locator('h1').innerText()).toBe('Sign-in did not finish');
    const body = await page.content();
    expect(body).not.toMatch(/at \w+ \(|node_modules|Error:/);
    await screenshot(page, 'upstream', shot);
    return page.getByRole('link', { name: 'Start again' });
  }

  async function auditActions(reason: string) {
    const events = await server.parts.repos.audit.query({ action: 'upstream_sign_in', limit: 200 });
    return events.filter((e) => e.details.reason === reason);
  }

  it('Google: email once on Latchkey, password and 2-step verification at the IdP, back, click, code', async () => {
    const pending = await startAt('alice@acme.test', google);
    await screenshot(page, 'upstream', 'google-01-password-prefilled');
    await passUpstream('alice@acme.test', 'alice-pw', TOTP);
    const tokens = await handoff(pending);
    const claims = tokens.claims();
    expect(claims?.email).toBe('alice@acme.test');
    expect(claims?.amr).toContain('fed');
    expect(tokens.refresh_token).toBeTruthy();

    const sent = google.requests.filter((r) => r.path === '/auth').at(-1)?.params;
    expect(sent).toMatchObject({
      login_hint: 'alice@acme.test',
      hd: 'acme.test',
      code_challenge_method: 'S256',
      redirect_uri: `${issuer}/upstream/callback`,
    });
    expect(sent?.code_challenge).toMatch(/^[\w-]{43}$/);
    expect(sent?.nonce).toBeTruthy();
    expect(sent?.state).toMatch(/^[\w-]{43}$/);

    // Linked by the upstream subject; the upstream refresh token is stored encrypted.
    const identity = await server.parts.repos.users.findIdentity(
      'acme-google',
      google.accountIdOf('alice@acme.test'),
    );
    expect(identity?.upstreamRefreshToken).toBeTruthy();
    const row = await server.parts.database.db
      .selectFrom('identities')
      .select('upstream_refresh_token')
      .where('id', '=', identity!.id)
      .executeTakeFirstOrThrow();
    expect(row.upstream_refresh_token).not.toContain(identity!.upstreamRefreshToken!);
  });

  it('the round trip belongs to the browser that started it: an IdP sign-in made in another browser cannot finish it', async () => {
    // The attacker starts a sign-in for the victim's email and stops at the IdP's page.
    const started: string[] = [];
    context.on('request', (request) => {
      const match = /\/interaction\/([^/]+)\/upstream$/.exec(new URL(request.url()).pathname);
      if (match) started.push(match[1] as string);
    });
    await startAt('erin@acme.test', google);
    // The genuine authorization request Latchkey sent to the IdP (its state is the round trip's).
    const sent = google.requests.filter((r) => r.path === '/auth').at(-1)?.params ?? {};
    const idpLink = `${google.issuer}/auth?${new URLSearchParams(sent).toString()}`;
    const uid = started.at(-1) as string;
    expect(uid).toBeTruthy();

    // The victim opens the genuine IdP link in their own browser and signs in there.
    const victim = await browser.newContext();
    try {
      const victimPage = await victim.newPage();
      victimPage.setDefaultTimeout(8000);
      await victimPage.goto(idpLink);
      await victimPage.fill('#password', 'pw');
      await victimPage.click('#next');
      await waitForText(victimPage.locator('[role=alert]'), /started in another browser/);
      expect(await victimPage.locator('a', { hasText: 'Start again' }).count()).toBe(0);
    } finally {
      await victim.close();
    }

    // The attacker's browser then tries to finish: the identity was wiped, no launch page, no code.
    await page.goto(`${issuer}/interaction/${uid}/upstream/complete`);
    await page.getByLabel('Work email').waitFor();
    expect(await page.locator('#handoff').count()).toBe(0);
    expect((await auditActions('other_browser')).length).toBeGreaterThanOrEqual(1);
    expect(await server.parts.repos.users.findByEmail('erin@acme.test')).toBeUndefined();
  });

  it('a replayed callback and a forged state end on a readable page', async () => {
    const callbacks: string[] = [];
    context.on('request', (request) => {
      if (request.url().startsWith(`${issuer}/upstream/callback`)) callbacks.push(request.url());
    });
    const pending = await startAt('alice@acme.test', google);
    await passUpstream('alice@acme.test', 'alice-pw', TOTP);
    await handoff(pending);
    expect(callbacks).toHaveLength(1);

    page = await context.newPage();
    await page.goto(callbacks[0]!);
    await expectRefusal(/does not match a sign-in started here, was already used/, 'replayed-callback');

    page = await context.newPage();
    await page.goto(`${issuer}/upstream/callback?state=forged&code=forged`);
    await expectRefusal(/does not match a sign-in started here/, 'forged-state');
    expect((await auditActions('state_mismatch')).length).toBeGreaterThanOrEqual(2);
  });

  it('Entra-style claims through the generic oidc connector: tenant pinned, account keyed by tid+oid', async () => {
    const pending = await startAt('bob@contoso.test', entra);
    await passUpstream('bob@contoso.test', 'bob-pw', TOTP);
    const tokens = await handoff(pending);
    // xms_edov vouches for the email, and contoso.test is the organization's domain.
    expect(tokens.claims()?.email).toBe('bob@contoso.test');
    const sent = entra.requests.filter((r) => r.path === '/auth').at(-1)?.params;
    expect(sent).toMatchObject({ login_hint: 'bob@contoso.test', code_challenge_method: 'S256' });
    expect(sent?.hd).toBeUndefined();
    const oid = entra.accountIdOf('bob@contoso.test');
    const identity = await server.parts.repos.users.findIdentity(
      'contoso-oidc',
      `${entra.tenantId}:${oid}`.toLowerCase(),
    );
    expect(identity?.profile.groups).toEqual(['g1']);
  });

  it('Cancel at the IdP (access_denied) ends on a readable page that offers to start again', async () => {
    await startAt('alice@acme.test', google);
    await page.click('#cancel');
    const again = await expectRefusal(/cancelled at the identity provider/, 'access-denied');
    await again.click();
    await waitForText(page.locator('h1'), 'Sign in to Acme Desktop');
    expect(await auditActions('access_denied')).not.toHaveLength(0);
  });

  it('a Google account outside the Workspace (wrong hd) is refused', async () => {
    await startAt('personal@acme.test', google);
    await passUpstream('personal@acme.test', 'pw');
    await expectRefusal(/does not belong to your organization/, 'wrong-hd');
    expect(await server.parts.repos.users.findByEmail('personal@acme.test')).toBeUndefined();
  });

  it('an unverified email is refused and creates nothing', async () => {
    await startAt('unverified@acme.test', google);
    await passUpstream('unverified@acme.test', 'pw');
    await expectRefusal(/has not verified the email/, 'email-unverified');
    expect(
      await server.parts.repos.users.findIdentity('acme-google', google.accountIdOf('unverified@acme.test')),
    ).toBeUndefined();
  });

  it('an unreachable IdP gives a readable page quickly, with start again', async () => {
    const pending = await buildAuth(desktop, SCHEME);
    await page.goto(pending.url.toString());
    await page.getByLabel('Work email').fill('someone@down.test');
    const started = Date.now();
    await page.getByRole('button', { name: 'Continue' }).click();
    await expectRefusal(/cannot be reached/, 'unreachable');
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(await auditActions('upstream_unreachable')).not.toHaveLength(0);
  });

  it('JIT provisioning off: an unknown user is refused, and no account appears', async () => {
    await startAt('newbie@strict.test', google);
    await passUpstream('newbie@strict.test', 'pw');
    await expectRefusal(/do not have a Latchkey account for Strict Inc/, 'jit-off');
    expect(await server.parts.repos.users.findByEmail('newbie@strict.test')).toBeUndefined();
  });

  it('a disabled user stays out: never re-enabled, never re-created', async () => {
    const first = await startAt('dave@acme.test', google);
    await passUpstream('dave@acme.test', 'pw');
    await handoff(first);
    const dave = await server.parts.repos.users.findByEmail('dave@acme.test');
    await server.parts.repos.users.setStatus(dave!.id, 'disabled');

    await context.close();
    context = await browser.newContext();
    page = await context.newPage();
    await startAt('dave@acme.test', google);
    await passUpstream('dave@acme.test', 'pw');
    await expectRefusal(/Your account is disabled/, 'disabled');
    expect((await server.parts.repos.users.findById(dave!.id))?.status).toBe('disabled');
    const all = await server.parts.repos.users.list({ organizationId: 'acme' });
    expect(all.filter((u) => u.email === 'dave@acme.test')).toHaveLength(1);
    expect(await auditActions('account_disabled')).not.toHaveLength(0);
  });

  it('refresh re-validates with the IdP and revokes everything once the IdP refuses the account', async () => {
    const pending = await startAt('erin@acme.test', google);
    await passUpstream('erin@acme.test', 'pw');
    let refreshToken = (await handoff(pending)).refresh_token!;

    // Past the interval, the IdP still vouches for her: the refresh succeeds.
    await new Promise((r) => setTimeout(r, 1_100));
    refreshToken = (await client.refreshTokenGrant(desktop, refreshToken)).refresh_token!;
    const erin = await server.parts.repos.users.findByEmail('erin@acme.test');
    let events = await server.parts.repos.audit.query({ action: 'upstream_revalidate', userId: erin!.id });
    expect(events.map((e) => e.outcome)).toEqual(['success']);

    google.setUserDisabled('erin@acme.test', true);
    await new Promise((r) => setTimeout(r, 1_100));
    await expect(client.refreshTokenGrant(desktop, refreshToken)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    events = await server.parts.repos.audit.query({ action: 'upstream_revalidate', userId: erin!.id });
    expect(events[0]).toMatchObject({ outcome: 'failure', details: { reason: 'upstream_revoked' } });
    // Everything of the user is gone, not only this token.
    const left = await server.parts.database.db
      .selectFrom('oidc_records')
      .select('model')
      .where('account_id', '=', erin!.id)
      .execute();
    expect(left.filter((r) => r.model === 'RefreshToken')).toHaveLength(0);
    google.setUserDisabled('erin@acme.test', false);
  });
});
