import * as client from 'openid-client';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StandinIdp, startStandinIdp } from '../../../standin-idp/src/index.js';
import { launchBrowser, waitForText } from '../test-support/browser.js';
import {
  BrowserTokenSource,
  buildAuth,
  captureRedirects,
  discover,
  exchange,
} from '../test-support/oidc-client.js';
import { freePort, startTestServer, type TestServer } from '../test-support/server.js';

const SCHEME = 'com.acme.desktop:/oauth2redirect';
const UPSTREAM_CLIENT = { client_id: 'latchkey', client_secret: 'upstream-secret' };

/**
 * `preferred_username` (OpenID Connect Core §5.1, released with the `profile` scope): MSAL shows it
 * as the account's user name and showed an empty one without it. A local user's is the email; a
 * federated user's is what the organization's IdP sent (Entra: the UPN), else the email.
 */
describe('preferred_username in the ID token and UserInfo', () => {
  let server: TestServer;
  let entra: StandinIdp;
  let browser: Browser;
  let desktop: client.Configuration;

  beforeAll(async () => {
    const issuer = `http://127.0.0.1:${await freePort()}`;
    entra = await startStandinIdp({
      profile: 'entra',
      clients: [{ ...UPSTREAM_CLIENT, redirect_uris: [`${issuer}/upstream/callback`] }],
      users: [
        {
          email: 'bob@contoso.test',
          password: 'bob-pw',
          name: 'Bob',
          username: 'bob.b@contoso.onmicrosoft.test',
        },
      ],
    });
    const yaml = `
clients:
  - id: acme-desktop
    name: Acme Desktop
    redirect_uris: [${SCHEME}, http://127.0.0.1/callback]
organizations:
  - id: beta
    name: Beta LLC
    domains: [beta.test]
    connection: { type: local }
  - id: contoso
    name: Contoso
    domains: [contoso.test]
    connection:
      type: oidc
      issuer: "${entra.issuer}"
      client_id: latchkey
      client_secret: upstream-secret
      entra_tenant_id: ${entra.tenantId}
users:
  - { email: carol@beta.test, password: "carol's long password", name: Carol }
argon2: { memory_cost: 1024, time_cost: 1, parallelism: 1 }
`;
    server = await startTestServer({ yaml, env: { LATCHKEY_ISSUER: issuer } });
    browser = await launchBrowser();
    desktop = await discover(issuer, 'acme-desktop');
  });

  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
    await entra?.close();
  });

  it('a local user’s is the email', async () => {
    const carol = new BrowserTokenSource(await browser.newContext(), desktop, {
      email: 'carol@beta.test',
      password: "carol's long password",
    });
    const tokens = await carol.tokens();
    const claims = tokens.claims();
    expect(claims?.preferred_username).toBe('carol@beta.test');
    const info = await client.fetchUserInfo(desktop, tokens.access_token, claims?.sub as string);
    expect(info.preferred_username).toBe('carol@beta.test');
  });

  it('without the profile scope it is not released', async () => {
    const carol = new BrowserTokenSource(await browser.newContext(), desktop, {
      email: 'carol@beta.test',
      password: "carol's long password",
    });
    const tokens = await carol.tokens({ scope: 'openid email offline_access' });
    expect(tokens.claims()?.preferred_username).toBeUndefined();
  });

  it('a federated user’s is the upstream’s (Entra’s UPN), at sign-in and after a refresh', async () => {
    const context = await browser.newContext();
    const redirects = captureRedirects(context, SCHEME);
    const page = await context.newPage();
    const pending = await buildAuth(desktop, SCHEME);
    await page.goto(pending.url.toString());
    await page.getByLabel('Work email').fill('bob@contoso.test');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL((url) => url.href.startsWith(entra.issuer));
    await waitForText(page.locator('#who'), 'bob@contoso.test');
    await page.fill('#password', 'bob-pw');
    await page.click('#next');
    await waitForText(page.locator('#handoff'), 'Launch Acme Desktop');
    const waiting = redirects.next();
    await page.locator('#handoff').click();
    const tokens = await exchange(desktop, pending, await waiting);
    await context.close();
    expect(tokens.claims()?.preferred_username).toBe('bob.b@contoso.onmicrosoft.test');
    const refreshed = await client.refreshTokenGrant(desktop, tokens.refresh_token as string);
    expect(refreshed.claims()?.preferred_username).toBe('bob.b@contoso.onmicrosoft.test');
    const info = await client.fetchUserInfo(desktop, refreshed.access_token, tokens.claims()?.sub as string);
    expect(info.preferred_username).toBe('bob.b@contoso.onmicrosoft.test');
  });
});
