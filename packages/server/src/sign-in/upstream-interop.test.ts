import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as client from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type StandinIdp, startStandinIdp } from '../../../standin-idp/src/index.js';
import { publicJwkOf } from '../federation/connectors/client-auth.js';
import { launchBrowser, screenshot, waitForText } from '../test-support/browser.js';
import { buildAuth, captureRedirects, discover, exchange } from '../test-support/oidc-client.js';
import { freePort, startTestServer, type TestServer } from '../test-support/server.js';

const SCHEME = 'com.acme.desktop:/oauth2redirect';
const SECRET = 'upstream-secret';
const ALICE = { email: 'alice@acme.test', password: 'alice-pw', name: 'Alice Liddell' };

/**
 * OpenID Providers that are not built like Google, in Debian's Chromium: claims only at UserInfo, a
 * token endpoint that takes only `client_secret_post`, one that takes only `private_key_jwt`, and a
 * connection whose client authentication the provider refuses (the person is told to ask their
 * administrator; the administrator reads what the provider said in the log and the audit trail).
 */
describe('sign-in through OpenID Providers with other habits', () => {
  let server: TestServer;
  let issuer: string;
  let userinfoOnly: StandinIdp;
  let postOnly: StandinIdp;
  let keyOnly: StandinIdp;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let redirects: ReturnType<typeof captureRedirects>;
  let desktop: client.Configuration;

  beforeAll(async () => {
    issuer = `http://127.0.0.1:${await freePort()}`;
    const redirect_uris = [`${issuer}/upstream/callback`];
    const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      format: 'pem',
      type: 'pkcs8',
    }) as string;
    const keyFile = join(mkdtempSync(join(tmpdir(), 'latchkey-key-')), 'upstream-client.pem');
    writeFileSync(keyFile, key, { mode: 0o600 });
    userinfoOnly = await startStandinIdp({
      profile: 'google',
      profileClaimsInUserinfoOnly: true,
      clients: [{ client_id: 'latchkey', client_secret: SECRET, redirect_uris }],
      users: [ALICE],
    });
    postOnly = await startStandinIdp({
      profile: 'google',
      tokenEndpointAuthMethods: ['client_secret_post'],
      clients: [
        {
          client_id: 'latchkey-app',
          client_secret: SECRET,
          redirect_uris,
          token_endpoint_auth_method: 'client_secret_post',
        },
      ],
      users: [
        { email: 'bob@post.test', password: 'bob-pw', name: 'Bob' },
        { email: 'carol@broken.test', password: 'carol-pw' },
      ],
    });
    keyOnly = await startStandinIdp({
      profile: 'google',
      tokenEndpointAuthMethods: ['private_key_jwt'],
      clients: [
        {
          client_id: 'latchkey',
          redirect_uris,
          token_endpoint_auth_method: 'private_key_jwt',
          jwks: { keys: [(await publicJwkOf({ pem: key })) as Record<string, unknown>] },
        },
      ],
      users: [{ email: 'dan@key.test', password: 'dan-pw', name: 'Dan' }],
    });
    const yaml = `
clients:
  - id: acme-desktop
    name: Acme Desktop
    redirect_uris: [${SCHEME}]
organizations:
  - id: acme
    name: Acme Corp
    domains: [acme.test]
    connection: { type: oidc, issuer: "${userinfoOnly.issuer}", client_id: latchkey, client_secret: ${SECRET} }
  - id: post
    name: Post Ltd
    domains: [post.test]
    connection: { type: oidc, issuer: "${postOnly.issuer}", client_id: latchkey-app, client_secret: ${SECRET} }
  - id: broken
    name: Broken Inc
    domains: [broken.test]
    connection:
      type: oidc
      issuer: "${postOnly.issuer}"
      client_id: latchkey-app
      client_secret: ${SECRET}
      token_endpoint_auth_method: client_secret_basic
  - id: key
    name: Key GmbH
    domains: [key.test]
    connection:
      type: oidc
      issuer: "${keyOnly.issuer}"
      client_id: latchkey
      private_key_file: ${keyFile}
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
    for (const idp of [userinfoOnly, postOnly, keyOnly]) await idp?.close();
  });

  async function signIn(email: string, password: string, idp: StandinIdp) {
    const pending = await buildAuth(desktop, SCHEME);
    await page.goto(pending.url.toString());
    await page.getByLabel('Work email').fill(email);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL((url) => url.href.startsWith(idp.issuer));
    await waitForText(page.locator('#who'), email);
    await page.fill('#password', password);
    await page.click('#next');
    return pending;
  }

  async function handoff(pending: Awaited<ReturnType<typeof signIn>>) {
    await waitForText(page.locator('#handoff'), 'Launch Acme Desktop');
    const waiting = redirects.next();
    await page.locator('#handoff').click();
    return exchange(desktop, pending, await waiting);
  }

  it('a provider that puts email and name in UserInfo only: the person arrives with both', async () => {
    const tokens = await handoff(await signIn(ALICE.email, ALICE.password, userinfoOnly));
    expect(tokens.claims()).toMatchObject({ email: ALICE.email, name: ALICE.name });
    const identity = await server.parts.repos.users.findIdentity(
      'acme-oidc',
      userinfoOnly.accountIdOf(ALICE.email),
    );
    const user = await server.parts.repos.users.findById(identity?.userId ?? '');
    expect(user).toMatchObject({ email: ALICE.email, name: ALICE.name });
  });

  it('a provider that accepts only client_secret_post: picked from its discovery document', async () => {
    const tokens = await handoff(await signIn('bob@post.test', 'bob-pw', postOnly));
    expect(tokens.claims()?.email).toBe('bob@post.test');
  });

  it('a provider that accepts only private_key_jwt: the key from private_key_file', async () => {
    const tokens = await handoff(await signIn('dan@key.test', 'dan-pw', keyOnly));
    expect(tokens.claims()?.email).toBe('dan@key.test');
  });

  it('a refused client authentication: a readable page for the person, the provider’s answer for the administrator', async () => {
    await signIn('carol@broken.test', 'carol-pw', postOnly);
    await waitForText(page.locator('[role=alert]'), /misconfigured.*ask your administrator/i);
    expect(await page.locator('h1').innerText()).toBe('Sign-in did not finish');
    const body = await page.content();
    // The provider's own words are for the administrator, not for the page.
    expect(body).not.toContain('invalid_client');
    expect(body).not.toContain('could not be verified');
    await screenshot(page, 'upstream', 'client-auth-refused');

    const events = await server.parts.repos.audit.query({ action: 'upstream_sign_in', limit: 50 });
    const event = events.find((e) => e.details.reason === 'client_authentication_failed');
    expect(event).toMatchObject({ organizationId: 'broken', outcome: 'failure' });
    expect(event?.details).toMatchObject({
      connection: 'broken-oidc',
      providerStatus: 401,
      providerError: 'invalid_client',
      providerErrorDescription: expect.stringContaining('Basic is not accepted'),
    });
    const line = server.logLines.find((l) => l.includes('refused Latchkey’s client authentication'));
    expect(line).toBeTruthy();
    expect(JSON.parse(line as string)).toMatchObject({
      connection: 'broken-oidc',
      providerError: 'invalid_client',
    });
    expect(line).not.toContain(SECRET);
  });
});
