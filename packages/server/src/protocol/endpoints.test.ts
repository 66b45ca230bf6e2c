import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from 'jose';
import * as client from 'openid-client';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, waitForText } from '../test-support/browser.js';
import { testDatabaseKinds } from '../test-support/databases.js';
import { BrowserTokenSource, discover, postForm, refreshRaw } from '../test-support/oidc-client.js';
import { BASE_YAML, startTestServer, type TestServer } from '../test-support/server.js';

const BOB = { email: 'bob@beta.test', password: 'correct horse battery staple' };
const CLIENT = 'acme-desktop';
const WEB_SECRET = 'acme-web-secret-0123456789abcdef';
const API = 'https://api.acme.test';

/** BASE_YAML plus a confidential web client (a resource server that introspects tokens). */
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

describe.each(testDatabaseKinds())('protocol endpoints on %s', (kind) => {
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

  const webAuth = `Basic ${Buffer.from(`acme-web:${WEB_SECRET}`).toString('base64')}`;

  async function introspect(token: string) {
    const response = await postForm(
      `${server.issuer}/token/introspection`,
      { token },
      { authorization: webAuth, accept: 'application/json' },
    );
    expect(response.status, response.text).toBe(200);
    return response.json as Record<string, unknown>;
  }

  async function jwks(): Promise<JSONWebKeySet> {
    return (await (await fetch(`${server.issuer}/jwks`)).json()) as JSONWebKeySet;
  }

  it('userinfo answers with the opaque access token', async () => {
    const tokens = await bob.tokens();
    // No `resource` asked for: the access token is opaque and good for userinfo only.
    expect(tokens.access_token.split('.')).toHaveLength(1);
    const sub = tokens.claims()?.sub as string;
    const info = await client.fetchUserInfo(desktop, tokens.access_token, sub);
    expect(info).toMatchObject({ sub, email: BOB.email, email_verified: true, org_id: 'beta' });

    const refused = await fetch(`${server.issuer}/me`, { headers: { authorization: 'Bearer not-a-token' } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain('invalid_token');
  });

  it('introspection (RFC 7662) for a confidential client shows active and inactive tokens', async () => {
    const tokens = await bob.tokens();
    const refreshToken = tokens.refresh_token as string;
    const active = await introspect(refreshToken);
    expect(active).toMatchObject({ active: true, client_id: CLIENT });
    expect(active.sub).toBe(tokens.claims()?.sub);
    expect(await introspect(tokens.access_token)).toMatchObject({ active: true, client_id: CLIENT });

    // Rotated: the old refresh token is no longer active (even inside the reuse grace window).
    const rotated = await refreshRaw(server.issuer, CLIENT, refreshToken);
    expect(rotated.status).toBe(200);
    expect(await introspect(refreshToken)).toEqual({ active: false });
    expect(await introspect(rotated.json?.refresh_token as string)).toMatchObject({ active: true });
    expect(await introspect('garbage')).toEqual({ active: false });

    // A wrong secret is refused.
    const wrong = await postForm(
      `${server.issuer}/token/introspection`,
      { token: refreshToken },
      { authorization: `Basic ${Buffer.from('acme-web:wrong').toString('base64')}` },
    );
    expect(wrong.status).toBe(401);
    expect(wrong.json?.error).toBe('invalid_client');
  });

  it('revocation (RFC 7009) of a refresh token: refresh refused, introspection inactive', async () => {
    const tokens = await bob.tokens();
    const refreshToken = tokens.refresh_token as string;
    await client.tokenRevocation(desktop, refreshToken, { token_type_hint: 'refresh_token' });
    const refused = await refreshRaw(server.issuer, CLIENT, refreshToken);
    expect(refused.status).toBe(400);
    expect(refused.json?.error).toBe('invalid_grant');
    expect(await introspect(refreshToken)).toEqual({ active: false });
    // Revoking an unknown token is not an error (RFC 7009 §2.2).
    await client.tokenRevocation(desktop, 'no-such-token');
  });

  it('RP-initiated logout ends the browser session, but a desktop refresh token survives it', async () => {
    const tokens = await bob.tokens();
    const page = await context.newPage();
    const logout = client.buildEndSessionUrl(desktop, { id_token_hint: tokens.id_token as string });
    await page.goto(logout.toString());
    await waitForText(page.locator('h1'), 'Sign out?');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await waitForText(page.locator('h1'), 'Signed out');

    // The browser session is gone: the next sign-in asks for credentials again.
    const again = await context.newPage();
    await again.goto((await client.buildAuthorizationUrl(desktop, authParams())).toString());
    await again.getByLabel('Work email').waitFor();
    expect(await again.locator('#handoff').count()).toBe(0);
    await again.close();
    await page.close();

    // The desktop app's refresh token does not expire with the session (oidc-provider: expiresWithSession overridden).
    const refreshed = await refreshRaw(server.issuer, CLIENT, tokens.refresh_token as string);
    expect(refreshed.status, refreshed.text).toBe(200);
    // Sign in again for the tests that follow.
    bob = new BrowserTokenSource(context, desktop, BOB);
    await bob.code();
  });

  function authParams(): Record<string, string> {
    return {
      redirect_uri: bob.redirectUri,
      scope: 'openid',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    };
  }

  describe('device authorization grant (RFC 8628)', () => {
    async function start() {
      const device = await client.initiateDeviceAuthorization(desktop, {
        scope: 'openid email offline_access',
      });
      expect(device.verification_uri_complete).toContain(device.user_code);
      // Poll as a device would (faster than the advertised interval, to keep the test short).
      const polling = client
        .pollDeviceAuthorizationGrant(desktop, { ...device, interval: 0.25 })
        .then((tokens) => ({ tokens }))
        .catch((error: unknown) => ({ error }));
      const page = await context.newPage();
      await page.goto(device.verification_uri_complete as string);
      // The code is pre-filled from verification_uri_complete.
      expect(await page.locator('#user_code').inputValue()).toBe(device.user_code);
      await page.getByRole('button', { name: 'Continue' }).click();
      // The browser session signs in; RFC 8628 §5.4: the one confirmation names the app and the code.
      await waitForText(page.locator('#handoff'), 'Allow');
      await waitForText(page.locator('h1'), 'Connect Acme Desktop?');
      await waitForText(page.locator('main, body').first(), new RegExp(device.user_code.replace('-', '-?')));
      return { device, polling, page };
    }

    it('approved in the browser: the device polls and gets tokens', async () => {
      const { polling, page } = await start();
      await page.locator('#handoff').click();
      await waitForText(page.locator('h1'), 'Device connected');
      await page.close();
      const result = await polling;
      expect('tokens' in result, String((result as { error?: unknown }).error)).toBe(true);
      const tokens = (
        result as { tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers }
      ).tokens;
      expect(tokens.refresh_token).toBeTruthy();
      expect(tokens.claims()?.email).toBe(BOB.email);
      // The device's refresh token rotates like any other.
      const refreshed = await refreshRaw(server.issuer, CLIENT, tokens.refresh_token as string);
      expect(refreshed.status, refreshed.text).toBe(200);
    });

    it('denied in the browser: the device gets access_denied', async () => {
      const { polling, page } = await start();
      await page.getByRole('button', { name: 'Deny' }).click();
      await page.waitForLoadState();
      await page.close();
      const result = await polling;
      expect('error' in result).toBe(true);
      const error = (result as { error: { error?: string; code?: string } }).error;
      expect(error.error).toBe('access_denied');
    });
  });

  describe('signing key rotation', () => {
    it('a key activated now signs new tokens, the old one stays published and verifies what it signed', async () => {
      const signedIn = await bob.tokens({ resource: API, scope: 'openid offline_access calls' });
      // The token endpoint mints a JWT for the API when the app names it (RFC 8707).
      const beforeRaw = await refreshRaw(server.issuer, CLIENT, signedIn.refresh_token as string, {
        resource: API,
        scope: 'openid calls',
      });
      expect(beforeRaw.status, beforeRaw.text).toBe(200);
      const before = beforeRaw.json as { id_token: string; access_token: string; refresh_token: string };
      const oldKid = decodeProtectedHeader(before.id_token).kid;
      const oldAccessToken = before.access_token;
      expect(oldAccessToken.split('.')).toHaveLength(3); // RFC 9068 JWT for the API

      const fresh = await server.keys.rotate({ activateInMs: 0, keepOldForMs: 60_000 });
      expect(await server.reloadKeys()).toBe(true);
      const newKids = fresh.filter((k) => k.use === 'sig').map((k) => k.kid);

      const published = (await jwks()).keys.map((k) => k.kid);
      expect(published).toEqual(expect.arrayContaining([oldKid, ...newKids]));
      for (const key of (await jwks()).keys) expect(key).not.toHaveProperty('d');

      const after = await refreshRaw(server.issuer, CLIENT, before.refresh_token, {
        resource: API,
        scope: 'openid calls',
      });
      expect(after.status, after.text).toBe(200);
      const newIdKid = decodeProtectedHeader(after.json?.id_token as string).kid;
      expect(newKids).toContain(newIdKid);
      expect(newIdKid).not.toBe(oldKid);
      expect(newKids).toContain(decodeProtectedHeader(after.json?.access_token as string).kid);

      // Both generations verify offline against the published JWKS.
      const keySet = createLocalJWKSet(await jwks());
      await jwtVerify(oldAccessToken, keySet, { issuer: server.issuer, audience: API });
      await jwtVerify(after.json?.access_token as string, keySet, { issuer: server.issuer, audience: API });
      await jwtVerify(before.id_token, keySet, { issuer: server.issuer, audience: CLIENT });

      // The browser session (cookies signed with the old cookie key) still works: one click.
      await bob.code();
    });

    it('a key that activates later is published at once but does not sign yet', async () => {
      const current = decodeProtectedHeader((await bob.tokens()).id_token as string).kid;
      const pending = await server.keys.rotate({ activateInMs: 60_000, keepOldForMs: 60_000 });
      await server.reloadKeys();
      const pendingKids = pending.filter((k) => k.use === 'sig').map((k) => k.kid);
      const published = (await jwks()).keys.map((k) => k.kid);
      expect(published).toEqual(expect.arrayContaining([current, ...pendingKids]));

      const tokens = await bob.tokens();
      const kid = decodeProtectedHeader(tokens.id_token as string).kid;
      expect(kid).toBe(current);
      expect(pendingKids).not.toContain(kid);
    });
  });
});
