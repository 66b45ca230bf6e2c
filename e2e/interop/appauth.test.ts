/**
 * AppAuth-JS (`@openid/appauth`) with its Node support against a real Latchkey: `NodeBasedHandler`
 * starts its loopback server and opens the system browser through `opener` → `xdg-open` →
 * `$BROWSER` (here the e2e browser hook, which hands the URL to the Chromium the test drives);
 * `BaseTokenRequestHandler` + `NodeRequestor` exchange the code, refresh and revoke.
 *
 * Pinned to 1.3.2: 1.4.0 is published as ES modules with extension-less relative imports, which Node
 * refuses (ERR_MODULE_NOT_FOUND) and TypeScript's NodeNext resolution cannot type.
 */
import {
  AppAuthError,
  type AuthorizationError,
  AuthorizationNotifier,
  AuthorizationRequest,
  type AuthorizationResponse,
  AuthorizationServiceConfiguration,
  BaseTokenRequestHandler,
  GRANT_TYPE_AUTHORIZATION_CODE,
  GRANT_TYPE_REFRESH_TOKEN,
  RevokeTokenRequest,
  TokenRequest,
  type TokenResponse,
} from '@openid/appauth';
import { NodeBasedHandler, NodeCrypto, NodeRequestor } from '@openid/appauth/built/node_support/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BrowserHook, freePort, startBrowserHook } from '../support/harness.js';
import {
  ACCESS_TOKEN_SECONDS,
  CALLBACK_PATH,
  CLIENT_IDS,
  type Interop,
  startInterop,
  USER,
  userinfo,
  waitForExpiry,
} from './support/fixture.js';

const SUITE = 'interop-appauth';

let interop: Interop;
let hook: BrowserHook;
let configuration: AuthorizationServiceConfiguration;
const tokenHandler = new BaseTokenRequestHandler(new NodeRequestor());

beforeAll(async () => {
  [interop, hook] = await Promise.all([startInterop(), startBrowserHook()]);
  // opener runs xdg-open, which (outside a desktop session) runs $BROWSER with the URL.
  for (const name of ['DISPLAY', 'WAYLAND_DISPLAY', 'XDG_CURRENT_DESKTOP', 'DESKTOP_SESSION'])
    delete process.env[name];
  Object.assign(process.env, hook.env);
  configuration = await AuthorizationServiceConfiguration.fetchFromIssuer(
    interop.issuer,
    new NodeRequestor(),
  );
}, 180_000);

afterAll(async () => {
  await hook?.close();
  await interop?.close();
});

describe('AppAuth-JS (Node)', () => {
  let tokens: TokenResponse;
  let receivedAt: number;

  it('signs in over loopback: NodeBasedHandler opens the system browser and receives the code', async () => {
    const port = await freePort();
    const redirectUri = `http://127.0.0.1:${port}${CALLBACK_PATH}`;
    const handler = new NodeBasedHandler(port);
    const notifier = new AuthorizationNotifier();
    handler.setAuthorizationNotifier(notifier);
    const completed = new Promise<{
      request: AuthorizationRequest;
      response: AuthorizationResponse | null;
      error: AuthorizationError | null;
    }>((resolve) =>
      notifier.setAuthorizationListener((request, response, error) => resolve({ request, response, error })),
    );
    const request = new AuthorizationRequest(
      {
        client_id: CLIENT_IDS.appauth,
        redirect_uri: redirectUri,
        scope: 'openid profile email offline_access',
        response_type: AuthorizationRequest.RESPONSE_TYPE_CODE,
        extras: { nonce: new NodeCrypto().generateRandom(16) },
      },
      new NodeCrypto(),
      true, // PKCE (S256)
    );
    handler.performAuthorizationRequest(configuration, request);

    const opened = new URL(await hook.next());
    expect(opened.searchParams.get('code_challenge_method')).toBe('S256');
    await interop.signIn(opened.href, SUITE);
    const { response, error } = await completed;
    expect(error).toBeNull();
    // AppAuth's Node handler leaves the state check to the app.
    expect(response?.state).toBe(request.state);

    tokens = await tokenHandler.performTokenRequest(
      configuration,
      new TokenRequest({
        client_id: CLIENT_IDS.appauth,
        redirect_uri: redirectUri,
        grant_type: GRANT_TYPE_AUTHORIZATION_CODE,
        code: response?.code as string,
        extras: { code_verifier: request.internal?.code_verifier as string },
      }),
    );
    receivedAt = Date.now();
    expect(tokens.idToken).toBeTruthy();
    expect(tokens.refreshToken).toBeTruthy();
    expect(tokens.expiresIn).toBe(ACCESS_TOKEN_SECONDS);
    const me = await userinfo(configuration.userInfoEndpoint as string, tokens.accessToken);
    expect(me.body).toMatchObject({ email: USER.email, name: USER.name });
  });

  it('refreshes once TokenResponse.isValid() says the access token expired', async () => {
    await waitForExpiry(receivedAt, ACCESS_TOKEN_SECONDS);
    expect(tokens.isValid(0)).toBe(false);
    expect((await userinfo(configuration.userInfoEndpoint as string, tokens.accessToken)).status).toBe(401);

    const old = tokens.refreshToken as string;
    tokens = await tokenHandler.performTokenRequest(
      configuration,
      new TokenRequest({
        client_id: CLIENT_IDS.appauth,
        redirect_uri: '',
        grant_type: GRANT_TYPE_REFRESH_TOKEN,
        refresh_token: old,
      }),
    );
    expect(tokens.isValid(0)).toBe(true);
    expect(tokens.refreshToken).not.toBe(old); // rotated
    const me = await userinfo(configuration.userInfoEndpoint as string, tokens.accessToken);
    expect(me.status).toBe(200);
  });

  it('signs out by revoking the refresh token; it no longer refreshes', async () => {
    const refreshToken = tokens.refreshToken as string;
    expect(
      await tokenHandler.performRevokeTokenRequest(
        configuration,
        new RevokeTokenRequest({
          token: refreshToken,
          token_type_hint: 'refresh_token',
          client_id: CLIENT_IDS.appauth,
        }),
      ),
    ).toBe(true);
    const refused = await tokenHandler
      .performTokenRequest(
        configuration,
        new TokenRequest({
          client_id: CLIENT_IDS.appauth,
          redirect_uri: '',
          grant_type: GRANT_TYPE_REFRESH_TOKEN,
          refresh_token: refreshToken,
        }),
      )
      .catch((error: unknown) => error);
    // NodeRequestor drops the body of an error answer: the app sees the HTTP status text, not the
    // OAuth error code (`invalid_grant`), so it can only start a new interactive sign-in.
    expect(refused).toBeInstanceOf(AppAuthError);
    expect((refused as AppAuthError).message).toBe('Bad Request');
  });
});
