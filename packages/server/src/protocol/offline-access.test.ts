import * as client from 'openid-client';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, waitForText } from '../test-support/browser.js';
import { testDatabaseKinds } from '../test-support/databases.js';
import { BrowserTokenSource, discover, postForm, routeLoopback } from '../test-support/oidc-client.js';
import { BASE_YAML, startTestServer, type TestServer } from '../test-support/server.js';

const BOB = { email: 'bob@beta.test', password: 'correct horse battery staple' };
const CLIENT = 'acme-desktop';
const WEB_SECRET = 'acme-web-secret-0123456789abcdef';

/** BASE_YAML plus a confidential web client that introspects tokens. */
const YAML = BASE_YAML.replace(
  'resources:\n',
  `  - id: acme-web
    name: Acme Web
    kind: web
    secret: ${WEB_SECRET}
    redirect_uris: ["https://app.acme.test/callback"]
resources:
`,
);

/**
 * A native app gets a refresh token whether or not it asked with prompt=consent (its handoff click
 * is the consent, RFC 8252 §8.6), so `offline_access` stays in what it was granted: MSAL and authlib
 * re-send the scope they asked for on every refresh, and a grant without it answered invalid_scope.
 */
describe.each(testDatabaseKinds())('offline_access for native apps on %s', (kind) => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let desktop: client.Configuration;
  let bob: BrowserTokenSource;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer({ kind, yaml: YAML }), launchBrowser()]);
    context = await browser.newContext();
    desktop = await discover(server.issuer, CLIENT);
    bob = new BrowserTokenSource(context, desktop, BOB);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
  });

  async function introspect(token: string) {
    const response = await postForm(
      `${server.issuer}/token/introspection`,
      { token },
      {
        authorization: `Basic ${Buffer.from(`acme-web:${WEB_SECRET}`).toString('base64')}`,
        accept: 'application/json',
      },
    );
    expect(response.status, response.text).toBe(200);
    return response.json as Record<string, unknown>;
  }

  /**
   * The refresh request MSAL Node sends when its access token has expired
   * (RefreshTokenClient.createTokenRequestBody): the scope it signed in with, `openid profile
   * offline_access` always added, client_info and its telemetry parameters.
   */
  function msalRefresh(refreshToken: string, scope = 'openid profile offline_access email') {
    return postForm(
      `${server.issuer}/token`,
      new URLSearchParams({
        client_id: CLIENT,
        redirect_uri: bob.redirectUri,
        scope,
        refresh_token: refreshToken,
        grant_type: 'refresh_token',
        client_info: '1',
        'x-client-SKU': 'msal.js.node',
        'x-client-VER': '3.8.1',
        'x-client-OS': 'linux',
        'x-client-CPU': 'x64',
        'x-ms-lib-capability': 'retry-after, h429',
        'x-client-current-telemetry': '5|61,0,,,|,',
        'x-client-last-telemetry': '5|0|||0,0',
      }).toString(),
      { 'x-client-sku': 'msal.js.node', 'x-client-ver': '3.8.1', 'client-request-id': crypto.randomUUID() },
    );
  }

  it('MSAL’s refresh request, re-sending offline_access, is answered with new tokens', async () => {
    // No prompt=consent in the request (MSAL, openid-client, AppAuth and authlib send none).
    const tokens = await bob.tokens({ scope: 'openid profile offline_access email' });
    expect(tokens.scope?.split(' ')).toContain('offline_access');
    const first = await msalRefresh(tokens.refresh_token as string);
    expect(first.status, first.text).toBe(200);
    expect(String(first.json?.scope).split(' ')).toContain('offline_access');
    // …and again with the rotated token, as the next silent refresh would.
    const second = await msalRefresh(first.json?.refresh_token as string);
    expect(second.status, second.text).toBe(200);
  });

  it('a pushed authorization request (RFC 9126) keeps offline_access', async () => {
    const verifier = client.randomPKCECodeVerifier();
    const pushed = await client.buildAuthorizationUrlWithPAR(desktop, {
      redirect_uri: 'http://127.0.0.1/callback',
      scope: 'openid email offline_access',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const page = await context.newPage();
    try {
      const arrived = new Promise<string>((resolve) => {
        void routeLoopback(context, 'http://127.0.0.1/callback', resolve);
      });
      await page.goto(pushed.toString());
      await page.locator('#handoff').click();
      const tokens = await client.authorizationCodeGrant(desktop, new URL(await arrived), {
        pkceCodeVerifier: verifier,
        idTokenExpected: true,
      });
      expect(tokens.scope?.split(' ')).toContain('offline_access');
    } finally {
      await page.close();
    }
  });

  it('introspection names offline_access in the refresh token’s scope', async () => {
    const tokens = await bob.tokens({ scope: 'openid email offline_access' });
    const active = await introspect(tokens.refresh_token as string);
    expect(active.active).toBe(true);
    expect((active.scope as string).split(' ')).toEqual(
      expect.arrayContaining(['openid', 'email', 'offline_access']),
    );
  });

  it('a device-flow app keeps offline_access too', async () => {
    const device = await client.initiateDeviceAuthorization(desktop, {
      scope: 'openid email offline_access',
    });
    const polling = client.pollDeviceAuthorizationGrant(desktop, device);
    const page = await context.newPage();
    await page.goto(device.verification_uri_complete as string);
    await page.getByRole('button', { name: 'Continue' }).click();
    await waitForText(page.locator('#handoff'), 'Allow');
    await page.locator('#handoff').click();
    await waitForText(page.locator('h1'), 'Device connected');
    await page.close();
    const tokens = await polling;
    expect(tokens.scope?.split(' ')).toContain('offline_access');
    const refreshed = await msalRefresh(tokens.refresh_token as string, 'openid email offline_access');
    expect(refreshed.status, refreshed.text).toBe(200);
  }, 60_000);

  it('a scope the app was never granted is still refused on refresh', async () => {
    const tokens = await bob.tokens({ scope: 'openid offline_access' });
    const wider = await postForm(`${server.issuer}/token`, {
      grant_type: 'refresh_token',
      client_id: CLIENT,
      refresh_token: tokens.refresh_token as string,
      scope: 'openid offline_access groups',
    });
    expect(wider.status).toBe(400);
    expect(wider.json?.error).toBe('invalid_scope');
  });

  it('prompt=none is left alone (offline_access is not added where consent cannot be asked)', async () => {
    const url = client.buildAuthorizationUrl(desktop, {
      redirect_uri: 'http://127.0.0.1/callback',
      scope: 'openid offline_access',
      prompt: 'none',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    });
    const response = await fetch(url, { redirect: 'manual' });
    // The engine answers prompt=none for a native app with an error redirect, not a 400 of ours.
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toContain('error=');
  });
});
