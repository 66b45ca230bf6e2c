import * as client from 'openid-client';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../test-support/browser.js';
import { testDatabaseKinds } from '../test-support/databases.js';
import {
  BrowserTokenSource,
  discover,
  exchange,
  postForm,
  type RawResponse,
  readRaw,
  refreshRaw,
} from '../test-support/oidc-client.js';
import { startTestServer, type TestServer } from '../test-support/server.js';

const BOB = { email: 'bob@beta.test', password: 'correct horse battery staple' };
const CLIENT = 'acme-desktop';

/**
 * Bad input of every kind: each gets the standard OAuth error, or a readable page when
 * nothing can be sent back to the app, and changes nothing.
 */
describe.each(testDatabaseKinds())('bad input on %s', (kind) => {
  let server: TestServer;
  let browser: Browser;
  let desktop: client.Configuration;
  let bob: BrowserTokenSource;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer({ kind }), launchBrowser()]);
    desktop = await discover(server.issuer, CLIENT);
    bob = new BrowserTokenSource(await browser.newContext(), desktop, BOB);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
  });

  function authorizeUrl(params: Record<string, string>): string {
    const url = new URL('/auth', server.issuer);
    const all = {
      client_id: CLIENT,
      response_type: 'code',
      scope: 'openid offline_access',
      redirect_uri: bob.redirectUri,
      state: 'state-1',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
      ...params,
    };
    for (const [key, value] of Object.entries(all)) if (value !== '') url.searchParams.set(key, value);
    return url.toString();
  }

  async function get(url: string): Promise<RawResponse> {
    return readRaw(await fetch(url, { redirect: 'manual' }));
  }

  /** A readable error page: HTML, a heading, no redirect anywhere, no internals. */
  function expectErrorPage(response: RawResponse) {
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(response.headers.get('location')).toBeNull();
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(response.text).toMatch(/<h1>[^<]+<\/h1>/);
    expect(response.text).not.toMatch(/\bat .+\.(js|ts):\d+|node_modules|Error: /);
  }

  /** The standard OAuth error delivered to the (valid) redirect URI, with no code. */
  function expectRedirectError(response: RawResponse, error: string) {
    expect(response.status).toBe(303);
    const location = new URL(response.headers.get('location') as string);
    expect(`${location.origin}${location.pathname}`).toBe(bob.redirectUri);
    expect(location.searchParams.get('error')).toBe(error);
    expect(location.searchParams.get('code')).toBeNull();
    expect(location.searchParams.get('state')).toBe('state-1');
  }

  function expectOAuthError(response: RawResponse, error: string, status = 400) {
    expect(response.status, response.text).toBe(status);
    expect(response.json?.error).toBe(error);
    expect(response.text).not.toMatch(/node_modules|\.js:\d+/);
  }

  async function userinfoStatus(accessToken: string): Promise<number> {
    const response = await fetch(`${server.issuer}/me`, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    await response.body?.cancel();
    return response.status;
  }

  it('unknown client: a readable page, no redirect', async () => {
    const response = await get(authorizeUrl({ client_id: 'no-such-app' }));
    expectErrorPage(response);
  });

  it('unregistered redirect URI: a readable page, no redirect', async () => {
    expectErrorPage(await get(authorizeUrl({ redirect_uri: 'com.evil.app:/oauth2redirect' })));
    expectErrorPage(await get(authorizeUrl({ redirect_uri: 'https://evil.example/callback' })));
  });

  it('a localhost loopback redirect is refused (RFC 8252 §8.3: IP literals only)', async () => {
    const port = new URL(bob.redirectUri).port;
    expectErrorPage(await get(authorizeUrl({ redirect_uri: `http://localhost:${port}/callback` })));
  });

  it('missing PKCE and `plain` PKCE are refused with invalid_request', async () => {
    expectRedirectError(
      await get(authorizeUrl({ code_challenge: '', code_challenge_method: '' })),
      'invalid_request',
    );
    expectRedirectError(
      await get(authorizeUrl({ code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' })),
      'invalid_request',
    );
  });

  it('wrong code_verifier: invalid_grant, and the code is not spent', async () => {
    const issued = await bob.code();
    const wrong = await postForm(`${server.issuer}/token`, {
      grant_type: 'authorization_code',
      client_id: CLIENT,
      code: issued.code,
      redirect_uri: bob.redirectUri,
      code_verifier: client.randomPKCECodeVerifier(),
    });
    expectOAuthError(wrong, 'invalid_grant');
    // Nothing changed: the app holding the right verifier still gets its tokens.
    const tokens = await exchange(desktop, issued.pending, issued.callback);
    expect(tokens.refresh_token).toBeTruthy();
  });

  it('replayed code: invalid_grant, and the tokens of the first exchange are revoked', async () => {
    const issued = await bob.code();
    const tokens = await exchange(desktop, issued.pending, issued.callback);
    expect(await userinfoStatus(tokens.access_token)).toBe(200);
    const replay = await postForm(`${server.issuer}/token`, {
      grant_type: 'authorization_code',
      client_id: CLIENT,
      code: issued.code,
      redirect_uri: bob.redirectUri,
      code_verifier: issued.pending.verifier,
    });
    expectOAuthError(replay, 'invalid_grant');
    expectOAuthError(
      await refreshRaw(server.issuer, CLIENT, tokens.refresh_token as string),
      'invalid_grant',
    );
    expect(await userinfoStatus(tokens.access_token)).toBe(401);
  });

  it('reused refresh token (its successor already used): invalid_grant, the family revoked', async () => {
    const first = (await bob.tokens()).refresh_token as string;
    const second = (await refreshRaw(server.issuer, CLIENT, first)).json?.refresh_token as string;
    const third = (await refreshRaw(server.issuer, CLIENT, second)).json?.refresh_token as string;
    expect(third).toBeTruthy();
    expectOAuthError(await refreshRaw(server.issuer, CLIENT, first), 'invalid_grant');
    expectOAuthError(await refreshRaw(server.issuer, CLIENT, third), 'invalid_grant');
  });

  it('wrong client_id for a refresh token: invalid_grant, and the token still works for its app', async () => {
    const token = (await bob.tokens()).refresh_token as string;
    expectOAuthError(await refreshRaw(server.issuer, 'acme-meetings', token), 'invalid_grant');
    expectOAuthError(await refreshRaw(server.issuer, 'no-such-app', token), 'invalid_client', 401);
    const ok = await refreshRaw(server.issuer, CLIENT, token);
    expect(ok.status, ok.text).toBe(200);
  });

  it('malformed token requests: standard errors', async () => {
    const token = `${server.issuer}/token`;
    expectOAuthError(await postForm(token, { client_id: CLIENT }), 'invalid_request');
    expectOAuthError(
      await postForm(token, { client_id: CLIENT, grant_type: 'password' }),
      'unsupported_grant_type',
    );
    expectOAuthError(
      await postForm(token, { client_id: CLIENT, grant_type: 'refresh_token', refresh_token: 'x' }),
      'invalid_grant',
    );
    // Not a form at all.
    const json = await readRaw(
      await fetch(token, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ grant_type: 'refresh_token', client_id: CLIENT }),
      }),
    );
    expect(json.status).toBeGreaterThanOrEqual(400);
    expect(json.status).toBeLessThan(500);
    expect(json.json?.error).toBe('invalid_request');
    // Broken percent-encoding and duplicated parameters.
    const broken = await postForm(token, 'grant_type=refresh_token&client_id=%E0%A4%A&refresh_token=%%%');
    expect(broken.status).toBeGreaterThanOrEqual(400);
    expect(broken.status).toBeLessThan(500);
    const dupes = await postForm(
      token,
      `grant_type=refresh_token&grant_type=authorization_code&client_id=${CLIENT}&refresh_token=x`,
    );
    expectOAuthError(dupes, 'invalid_request');
  });

  it('oversize bodies (> 64 KB) are refused with a 4xx, and the server keeps serving', async () => {
    const huge = `grant_type=refresh_token&client_id=${CLIENT}&refresh_token=${'a'.repeat(100_000)}`;
    for (const path of ['/token', '/token/revocation', '/token/introspection', '/device/auth']) {
      const response = await postForm(`${server.issuer}${path}`, huge);
      expect(response.status, `${path}: ${response.text.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
      expect(response.status, path).toBeLessThan(500);
      expect(response.json?.error, path).toBeTruthy();
    }
    const discovery = await fetch(`${server.issuer}/.well-known/openid-configuration`);
    expect(discovery.status).toBe(200);
    await discovery.body?.cancel();
  });

  it('refusals are logged, without the secrets that were sent', async () => {
    const log = server.logLines.join('\n');
    expect(log).toContain('protocol request refused');
    expect(log).not.toContain(BOB.password);
    expect(log).not.toMatch(/refresh_token=|code_verifier=/);
  });
});
