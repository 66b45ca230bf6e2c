import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import type * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Context, createContext } from '../context.js';
import { createDpopKey } from '../dpop.js';
import { NetworkError, OAuthError, toLatchkeyError, UnexpectedResponseError } from '../errors.js';
import { createMemoryStore } from '../stores/memory-store.js';
import { plainRefresh } from './plain-refresh.js';

/**
 * The plain refresh against a scripted token endpoint on loopback (real HTTP): what it sends, and
 * that every answer the server must not give is refused. The happy path against real servers is
 * covered by client.test.ts, dpop.test.ts and the CLI's tests (the SDK's default path).
 */
const CLIENT = 'desk';
let server: Server;
let issuer: string;
let cacheDir: string;
let signingKey: CryptoKey;
let jwk: JWK;
/** What the token endpoint answers next: status, body, headers. */
let answer: (
  form: URLSearchParams,
  headers: Record<string, string | string[] | undefined>,
) => {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
};
let requests: { form: URLSearchParams; headers: Record<string, string | string[] | undefined> }[] = [];
let jwksRequests = 0;
let servedKeys: JWK[] = [];

beforeAll(async () => {
  const pair = await generateKeyPair('ES256');
  signingKey = pair.privateKey;
  jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  servedKeys = [jwk];
  server = createServer((request, response) => {
    let text = '';
    request.on('data', (chunk) => {
      text += chunk;
    });
    request.on('end', () => {
      if (request.url === '/jwks') {
        jwksRequests += 1;
        response.setHeader('content-type', 'application/json');
        response.end(JSON.stringify({ keys: servedKeys }));
        return;
      }
      const form = new URLSearchParams(text);
      requests.push({ form, headers: request.headers });
      const next = answer(form, request.headers);
      response.writeHead(next.status, { 'content-type': 'application/json', ...next.headers });
      response.end(typeof next.body === 'string' ? next.body : JSON.stringify(next.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cacheDir = await mkdtemp(join(tmpdir(), 'latchkey-plain-refresh-'));
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(cacheDir, { recursive: true, force: true });
});

let ctx: Context;
let as: oauth.AuthorizationServer;

beforeEach(async () => {
  requests = [];
  jwksRequests = 0;
  servedKeys = [jwk];
  ctx = await createContext({
    issuer,
    clientId: CLIENT,
    store: createMemoryStore(),
    cacheDir: await mkdtemp(join(cacheDir, 'c-')),
    scopes: ['openid', 'offline_access'],
    resources: [],
    discoveryMaxAgeSeconds: 3600,
    userAgent: 'Acme Desktop/1.0 latchkey-desktop/0.1.0',
  });
  as = {
    issuer: `${issuer}/`,
    token_endpoint: `${issuer}/token`,
    jwks_uri: `${issuer}/jwks`,
    id_token_signing_alg_values_supported: ['ES256'],
  };
});

function idToken(claims: Record<string, unknown> = {}, key: CryptoKey = signingKey, kid = 'k1') {
  return new SignJWT({ sub: 'user-1', ...claims })
    .setProtectedHeader({ alg: 'ES256', kid })
    .setIssuer((claims.iss as string) ?? `${issuer}/`)
    .setAudience((claims.aud as string | string[]) ?? CLIENT)
    .setIssuedAt()
    .setExpirationTime((claims.exp as number) ?? '10m')
    .sign(key);
}

const ok = async (extra: Record<string, unknown> = {}) => ({
  status: 200,
  body: {
    access_token: 'at',
    token_type: 'DPoP',
    expires_in: 600,
    refresh_token: 'rt-2',
    scope: 'openid offline_access',
    id_token: await idToken(),
    ...extra,
  },
});

/** The refresh's outcome as the silent sign-in sees it (toLatchkeyError, as silent-sign-in.ts). */
async function refreshed(request: Partial<Parameters<typeof plainRefresh>[2]> = {}) {
  try {
    return await plainRefresh(ctx, as, { refreshToken: 'rt-1', ...request });
  } catch (error) {
    throw toLatchkeyError(error, 'Token refresh');
  }
}

describe('plain refresh (the silent sign-in without fetch)', () => {
  it('sends the refresh grant as a public client with a DPoP proof and the app’s User-Agent, and returns the validated claims', async () => {
    const response = await ok();
    answer = () => response;
    const dpopKey = await createDpopKey();
    const { tokens, claims } = await refreshed({ dpopKey, resource: 'https://api.example', scope: 'openid' });
    const sent = requests[0];
    expect(Object.fromEntries(sent?.form ?? [])).toEqual({
      grant_type: 'refresh_token',
      refresh_token: 'rt-1',
      client_id: CLIENT,
      resource: 'https://api.example',
      scope: 'openid',
    });
    expect(sent?.headers['user-agent']).toBe('Acme Desktop/1.0 latchkey-desktop/0.1.0');
    const proof = sent?.headers.dpop as string;
    expect(decodeProtectedHeader(proof)).toMatchObject({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty: 'EC' } });
    expect(decodeProtectedHeader(proof).jwk).not.toHaveProperty('d');
    expect(decodeJwt(proof)).toMatchObject({ htm: 'POST', htu: `${issuer}/token` });
    expect(tokens).toMatchObject({ access_token: 'at', token_type: 'dpop', refresh_token: 'rt-2' });
    expect(claims?.sub).toBe('user-1');
    // The JWKS was fetched once and is kept: the next refresh needs no key request.
    await refreshed();
    expect(jwksRequests).toBe(1);
  });

  it('retries once with the server’s DPoP nonce (RFC 9449 §8), and uses it from then on', async () => {
    const response = await ok();
    answer = (_form, headers) =>
      decodeJwt(headers.dpop as string).nonce === 'n-1'
        ? response
        : { status: 400, body: { error: 'use_dpop_nonce' }, headers: { 'dpop-nonce': 'n-1' } };
    const dpopKey = await createDpopKey();
    await refreshed({ dpopKey });
    expect(requests).toHaveLength(2);
    await refreshed({ dpopKey });
    expect(requests).toHaveLength(3);
  });

  it('hands an OAuth error back as one (invalid_grant: sign in again)', async () => {
    answer = () => ({
      status: 400,
      body: { error: 'invalid_grant', error_description: 'grant request is invalid' },
    });
    const error = await refreshed().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect(error).toMatchObject({ error: 'invalid_grant', status: 400 });
  });

  it('refuses a server error page or a malformed success as an unexpected response, not a sign-out', async () => {
    answer = () => ({ status: 502, body: '<html>Bad gateway</html>' });
    await expect(refreshed()).rejects.toBeInstanceOf(UnexpectedResponseError);
    for (const body of [
      '<html>ok</html>',
      { token_type: 'Bearer' },
      { access_token: 'at' },
      { access_token: 'at', token_type: 'mac' },
      { access_token: 'at', token_type: 'Bearer', expires_in: 'soon' },
      { access_token: 'at', token_type: 'Bearer', refresh_token: 7 },
      { access_token: 'at', token_type: 'Bearer', scope: ['openid'] },
    ]) {
      answer = () => ({ status: 200, body });
      await expect(refreshed(), JSON.stringify(body)).rejects.toBeInstanceOf(UnexpectedResponseError);
    }
  });

  it('refuses an ID token from another issuer, for another client, expired, unsigned by the issuer, or naming another party', async () => {
    const stranger = (await generateKeyPair('ES256')).privateKey;
    for (const [what, token] of [
      ['another issuer', await idToken({ iss: 'https://evil.example/' })],
      ['another client', await idToken({ aud: 'other-app' })],
      ['expired', await idToken({ exp: Math.floor(Date.now() / 1000) - 3600 })],
      ['a key the issuer does not have', await idToken({}, stranger)],
      ['several audiences without azp', await idToken({ aud: [CLIENT, 'other-app'] })],
      ['several audiences, azp another', await idToken({ aud: [CLIENT, 'other-app'], azp: 'other-app' })],
      ['auth_time not a number', await idToken({ auth_time: 'yesterday' })],
    ] as const) {
      const response = await ok({ id_token: token });
      answer = () => response;
      await expect(refreshed(), what).rejects.toBeInstanceOf(UnexpectedResponseError);
    }
    // A plain-http token endpoint for a non-loopback issuer is refused before anything is sent.
    const before = requests.length;
    as = { ...as, token_endpoint: 'http://sso.example.com/token' };
    const insecure = await createContext({
      issuer: 'https://sso.example.com',
      clientId: CLIENT,
      store: createMemoryStore(),
      cacheDir,
      scopes: [],
      resources: [],
      discoveryMaxAgeSeconds: 3600,
    });
    await expect(plainRefresh(insecure, as, { refreshToken: 'rt-1' })).rejects.toBeInstanceOf(
      UnexpectedResponseError,
    );
    expect(requests.length).toBe(before);
  });

  it('fetches the JWKS again when the server signs with a new key (rotation), once', async () => {
    answer = () => ({ status: 200, body: { access_token: 'at', token_type: 'Bearer' } });
    await refreshed();
    const next = await generateKeyPair('ES256');
    const nextJwk = { ...(await exportJWK(next.publicKey)), kid: 'k2', alg: 'ES256' };
    // The cache holds k1 (fetched for the first ID token below); the server then rotates to k2.
    const first = await ok();
    answer = () => first;
    await refreshed();
    expect(jwksRequests).toBe(1);
    servedKeys = [jwk, nextJwk];
    const rotated = await ok({ id_token: await idToken({}, next.privateKey, 'k2') });
    answer = () => rotated;
    const { claims } = await refreshed();
    expect(claims?.sub).toBe('user-1');
    expect(jwksRequests).toBe(2);
  });

  it('fails as a network failure when the server is unreachable (the silent sign-in retries those)', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    as = { ...as, token_endpoint: `http://127.0.0.1:${port}/token` };
    await expect(refreshed()).rejects.toBeInstanceOf(NetworkError);
  });
});
