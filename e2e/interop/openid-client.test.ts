/**
 * openid-client 6 (panva) as a desktop app uses it against a real Latchkey: loopback sign-in with
 * PKCE, the library's refresh after the access token expired, revocation and RP-initiated logout.
 */
import * as client from 'openid-client';
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

const SUITE = 'interop-openid-client';

let interop: Interop;
let loopback: LoopbackListener;
let config: client.Configuration;

beforeAll(async () => {
  [interop, loopback] = await Promise.all([startInterop(), startLoopback()]);
  config = await client.discovery(
    new URL(interop.issuer),
    CLIENT_IDS.openidClient,
    undefined,
    client.None(),
    {
      // The test issuer is http on 127.0.0.1; openid-client refuses http unless told.
      execute: [client.allowInsecureRequests],
    },
  );
}, 180_000);

afterAll(async () => {
  await loopback?.close();
  await interop?.close();
});

describe('openid-client', () => {
  let tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;
  let receivedAt: number;
  let sub: string;

  it('signs in over loopback (authorization code + PKCE, state, nonce, ID token checked)', async () => {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: loopback.redirectUri,
      scope: 'openid profile email offline_access',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const { askedForPassword } = await interop.signIn(url.href, SUITE);
    expect(askedForPassword).toBe(true);
    const callback = await loopback.next();

    tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    receivedAt = Date.now();
    const claims = tokens.claims();
    expect(claims?.email).toBe(USER.email);
    expect(claims?.iss).toBe(interop.issuer);
    expect(claims?.aud).toBe(CLIENT_IDS.openidClient);
    sub = claims?.sub as string;
    expect(tokens.refresh_token).toBeTruthy();
    expect(tokens.expires_in).toBe(ACCESS_TOKEN_SECONDS);

    const info = await client.fetchUserInfo(config, tokens.access_token, sub);
    expect(info).toMatchObject({ sub, email: USER.email, name: USER.name });
  });

  it('refreshes once the access token has expired', async () => {
    await waitForExpiry(receivedAt, tokens.expires_in ?? 0);
    expect(tokens.expiresIn()).toBe(0);
    // The expired token is refused with an RFC 6750 challenge the library surfaces.
    const refused = await client.fetchUserInfo(config, tokens.access_token, sub).catch((error) => error);
    expect(refused).toBeInstanceOf(client.WWWAuthenticateChallengeError);
    expect((refused as client.WWWAuthenticateChallengeError).cause[0]?.parameters.error).toBe(
      'invalid_token',
    );

    const old = tokens.refresh_token as string;
    tokens = await client.refreshTokenGrant(config, old);
    expect(tokens.access_token).toBeTruthy();
    expect(tokens.refresh_token).not.toBe(old); // rotated
    expect(tokens.claims()?.sub).toBe(sub);
    const info = await client.fetchUserInfo(config, tokens.access_token, sub);
    expect(info.email).toBe(USER.email);
  });

  it('signs out: revokes the refresh token, ends the browser session (RP-initiated logout)', async () => {
    const refreshToken = tokens.refresh_token as string;
    await client.tokenRevocation(config, refreshToken, { token_type_hint: 'refresh_token' });
    const refused = await client.refreshTokenGrant(config, refreshToken).catch((error) => error);
    expect(refused).toBeInstanceOf(client.ResponseBodyError);
    expect((refused as client.ResponseBodyError).error).toBe('invalid_grant');

    const endSession = client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token as string });
    await interop.endSession(endSession.href, SUITE);

    // The next sign-in asks for the password again: the browser session is gone.
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: loopback.redirectUri,
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: client.randomState(),
    });
    const { askedForPassword } = await interop.signIn(url.href, SUITE);
    expect(askedForPassword).toBe(true);
    await loopback.next();
  });
});
