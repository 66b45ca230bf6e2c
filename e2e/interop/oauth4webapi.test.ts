/**
 * oauth4webapi 3 (panva's low-level request/process functions) against a real Latchkey: loopback
 * sign-in with PKCE, refresh after the access token expired, and revocation (the library's sign-out;
 * it has no end-session helper).
 */
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACCESS_TOKEN_SECONDS,
  CLIENT_IDS,
  type Interop,
  type LoopbackListener,
  startInterop,
  startLoopback,
  USER,
  waitForExpiry,
} from './support/fixture.js';

const SUITE = 'interop-oauth4webapi';
// The test issuer is http on 127.0.0.1; oauth4webapi refuses http unless told, request by request.
const insecure = { [oauth.allowInsecureRequests]: true } as const;
const client: oauth.Client = { client_id: CLIENT_IDS.oauth4webapi };
const clientAuth = oauth.None();

let interop: Interop;
let loopback: LoopbackListener;
let as: oauth.AuthorizationServer;

beforeAll(async () => {
  [interop, loopback] = await Promise.all([startInterop(), startLoopback()]);
  const issuer = new URL(interop.issuer);
  as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...insecure }),
  );
}, 180_000);

afterAll(async () => {
  await loopback?.close();
  await interop?.close();
});

async function userInfo(accessToken: string, sub: string) {
  const response = await oauth.userInfoRequest(as, client, accessToken, insecure);
  return oauth.processUserInfoResponse(as, client, sub, response);
}

describe('oauth4webapi', () => {
  let tokens: oauth.TokenEndpointResponse;
  let receivedAt: number;
  let sub: string;

  it('signs in over loopback (authorization code + PKCE, state, nonce, ID token checked)', async () => {
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const nonce = oauth.generateRandomNonce();
    const url = new URL(as.authorization_endpoint as string);
    url.search = new URLSearchParams({
      client_id: client.client_id,
      redirect_uri: loopback.redirectUri,
      response_type: 'code',
      scope: 'openid profile email offline_access',
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    }).toString();
    await interop.signIn(url.href, SUITE);
    const callback = await loopback.next();

    // RFC 9207: the redirect names the issuer, and the library checks it.
    const params = oauth.validateAuthResponse(as, client, callback, state);
    const response = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      clientAuth,
      params,
      loopback.redirectUri,
      verifier,
      insecure,
    );
    tokens = await oauth.processAuthorizationCodeResponse(as, client, response, {
      expectedNonce: nonce,
      requireIdToken: true,
    });
    receivedAt = Date.now();
    const claims = oauth.getValidatedIdTokenClaims(tokens);
    expect(claims?.email).toBe(USER.email);
    sub = claims?.sub as string;
    expect(tokens.refresh_token).toBeTruthy();
    expect(tokens.expires_in).toBe(ACCESS_TOKEN_SECONDS);
    expect(await userInfo(tokens.access_token, sub)).toMatchObject({
      sub,
      email: USER.email,
      name: USER.name,
    });
  });

  it('refreshes once the access token has expired', async () => {
    await waitForExpiry(receivedAt, tokens.expires_in ?? 0);
    const refused = await userInfo(tokens.access_token, sub).catch((error) => error);
    expect(refused).toBeInstanceOf(oauth.WWWAuthenticateChallengeError);
    expect((refused as oauth.WWWAuthenticateChallengeError).cause[0]?.parameters.error).toBe('invalid_token');

    const old = tokens.refresh_token as string;
    const response = await oauth.refreshTokenGrantRequest(as, client, clientAuth, old, insecure);
    tokens = await oauth.processRefreshTokenResponse(as, client, response);
    expect(tokens.refresh_token).not.toBe(old); // rotated
    expect(oauth.getValidatedIdTokenClaims(tokens)?.sub).toBe(sub);
    expect((await userInfo(tokens.access_token, sub)).email).toBe(USER.email);
  });

  it('signs out by revoking the refresh token; the token no longer refreshes', async () => {
    const refreshToken = tokens.refresh_token as string;
    await oauth.processRevocationResponse(
      await oauth.revocationRequest(as, client, clientAuth, refreshToken, {
        additionalParameters: { token_type_hint: 'refresh_token' },
        ...insecure,
      }),
    );
    const response = await oauth.refreshTokenGrantRequest(as, client, clientAuth, refreshToken, insecure);
    const refused = await oauth.processRefreshTokenResponse(as, client, response).catch((error) => error);
    expect(refused).toBeInstanceOf(oauth.ResponseBodyError);
    expect((refused as oauth.ResponseBodyError).error).toBe('invalid_grant');
  });
});
