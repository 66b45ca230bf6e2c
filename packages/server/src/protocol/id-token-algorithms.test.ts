import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from 'jose';
import * as client from 'openid-client';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../test-support/browser.js';
import { testDatabaseKinds } from '../test-support/databases.js';
import { BrowserTokenSource, refreshRaw } from '../test-support/oidc-client.js';
import { startTestServer, type TestServer } from '../test-support/server.js';

const BOB = { email: 'bob@beta.test', password: 'correct horse battery staple' };
const API = 'https://api.acme.test';

/**
 * Each client's ID tokens are signed with the algorithm it registered (`id_token_signed_response_alg`):
 * acme-desktop declares ES256 (an app on our SDK), acme-meetings says nothing and gets OpenID
 * Connect's default, RS256, which is all some libraries (go-oidc) accept unless told otherwise.
 */
describe.each(testDatabaseKinds())('ID token signing algorithms on %s', (kind) => {
  let server: TestServer;
  let browser: Browser;
  let desktop: BrowserTokenSource;
  let meetings: BrowserTokenSource;
  let meetingsConfig: client.Configuration;

  /** openid-client told which algorithm the client takes (as go-oidc takes only RS256 by default). */
  async function discoverWith(clientId: string, alg: 'RS256' | 'ES256') {
    return client.discovery(
      new URL(server.issuer),
      clientId,
      { id_token_signed_response_alg: alg },
      client.None(),
      {
        execute: [client.allowInsecureRequests],
      },
    );
  }

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer({ kind }), launchBrowser()]);
    meetingsConfig = await discoverWith('acme-meetings', 'RS256');
    const desktopConfig = await discoverWith('acme-desktop', 'ES256');
    desktop = new BrowserTokenSource(await browser.newContext(), desktopConfig, BOB);
    meetings = new BrowserTokenSource(await browser.newContext(), meetingsConfig, BOB);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
  });

  async function jwks(): Promise<JSONWebKeySet> {
    return (await (await fetch(`${server.issuer}/jwks`)).json()) as JSONWebKeySet;
  }

  function keyOf(set: JSONWebKeySet, kid: string | undefined) {
    return set.keys.find((k) => k.kid === kid);
  }

  it('the JWKS publishes an RS256 and an ES256 signing key; discovery lists both', async () => {
    const set = await jwks();
    expect(set.keys.map((k) => `${k.kty}/${k.alg}/${k.use}`).sort()).toEqual([
      'EC/ES256/sig',
      'RSA/RS256/sig',
    ]);
    for (const key of set.keys) expect(key).not.toHaveProperty('d');
    const metadata = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as {
      id_token_signing_alg_values_supported: string[];
    };
    expect(metadata.id_token_signing_alg_values_supported).toEqual(
      expect.arrayContaining(['RS256', 'ES256']),
    );
  });

  it('a client that registered no algorithm gets RS256 ID tokens, at sign-in and at refresh', async () => {
    const tokens = await meetings.tokens();
    const set = await jwks();
    const header = decodeProtectedHeader(tokens.id_token as string);
    expect(header.alg).toBe('RS256');
    expect(keyOf(set, header.kid)?.kty).toBe('RSA');
    await jwtVerify(tokens.id_token as string, createLocalJWKSet(set), {
      issuer: server.issuer,
      audience: 'acme-meetings',
      algorithms: ['RS256'],
    });
    const refreshed = await client.refreshTokenGrant(meetingsConfig, tokens.refresh_token as string);
    expect(decodeProtectedHeader(refreshed.id_token as string).alg).toBe('RS256');
  });

  it('a client that registered ES256 (our SDK’s apps) keeps ES256 ID tokens', async () => {
    const tokens = await desktop.tokens();
    const header = decodeProtectedHeader(tokens.id_token as string);
    expect(header.alg).toBe('ES256');
    expect(keyOf(await jwks(), header.kid)?.kty).toBe('EC');
    const refreshed = await refreshRaw(server.issuer, 'acme-desktop', tokens.refresh_token as string);
    expect(decodeProtectedHeader(refreshed.json?.id_token as string).alg).toBe('ES256');
  });

  it('access tokens for an API stay RFC 9068 JWTs (ES256) whatever the client’s ID token algorithm', async () => {
    const tokens = await meetings.tokens({ resource: API, scope: 'openid offline_access calls' });
    const raw = await refreshRaw(server.issuer, 'acme-meetings', tokens.refresh_token as string, {
      resource: API,
      scope: 'openid calls',
    });
    expect(raw.status, raw.text).toBe(200);
    const { protectedHeader, payload } = await jwtVerify(
      raw.json?.access_token as string,
      createLocalJWKSet(await jwks()),
      { issuer: server.issuer, audience: API, typ: 'at+jwt' },
    );
    expect(protectedHeader.alg).toBe('ES256');
    expect(payload.client_id).toBe('acme-meetings');
    expect(decodeProtectedHeader(raw.json?.id_token as string).alg).toBe('RS256');
  });

  it('key rotation replaces both kinds; each client is signed by the new key of its algorithm', async () => {
    const meetingsTokens = await meetings.tokens();
    const desktopTokens = await desktop.tokens();
    const oldRsa = decodeProtectedHeader(meetingsTokens.id_token as string).kid;
    const oldEc = decodeProtectedHeader(desktopTokens.id_token as string).kid;

    const fresh = await server.keys.rotate({ activateInMs: 0, keepOldForMs: 60_000 });
    expect(await server.reloadKeys()).toBe(true);
    const freshSig = fresh.filter((k) => k.use === 'sig');
    expect(freshSig.map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);

    const m = await refreshRaw(server.issuer, 'acme-meetings', meetingsTokens.refresh_token as string);
    const d = await refreshRaw(server.issuer, 'acme-desktop', desktopTokens.refresh_token as string);
    const mHeader = decodeProtectedHeader(m.json?.id_token as string);
    const dHeader = decodeProtectedHeader(d.json?.id_token as string);
    expect(mHeader).toMatchObject({ alg: 'RS256', kid: freshSig.find((k) => k.alg === 'RS256')?.kid });
    expect(dHeader).toMatchObject({ alg: 'ES256', kid: freshSig.find((k) => k.alg === 'ES256')?.kid });
    // The retired keys stay published for what they signed.
    const set = await jwks();
    expect(keyOf(set, oldRsa)).toBeDefined();
    expect(keyOf(set, oldEc)).toBeDefined();
    await jwtVerify(meetingsTokens.id_token as string, createLocalJWKSet(set), { algorithms: ['RS256'] });
  });
});
