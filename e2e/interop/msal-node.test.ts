/**
 * MSAL Node 7 (`@azure/msal-node`) with Latchkey as a generic OpenID Connect authority: https (MSAL
 * refuses an http authority), so Latchkey runs behind the TLS-terminating test proxy, as behind nginx.
 *
 * MSAL 7's `acquireTokenInteractive` always redirects to `http://localhost:<port>` (its built-in
 * loopback server; the custom `loopbackClient` option of MSAL 2–3 is gone), which Latchkey refuses
 * (RFC 8252 §8.3: use the loopback IP). An MSAL app signs in with the public client's
 * `getAuthCodeUrl` + `acquireTokenByCode` and a loopback listener on 127.0.0.1 instead; refresh is
 * MSAL's own `acquireTokenSilent`, sign-out its `signOut`.
 */
import {
  type AccountInfo,
  type AuthenticationResult,
  CryptoProvider,
  type INetworkModule,
  type NetworkRequestOptions,
  type NetworkResponse,
  PublicClientApplication,
} from '@azure/msal-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACCESS_TOKEN_SECONDS,
  CLIENT_IDS,
  type Interop,
  type LoopbackListener,
  startInterop,
  startLoopback,
  USER,
  userinfo,
  waitForExpiry,
} from './support/fixture.js';

const SUITE = 'interop-msal';
const SCOPES = ['openid', 'profile', 'email', 'offline_access'];

let interop: Interop;
let loopback: LoopbackListener;
let pca: PublicClientApplication;

/**
 * MSAL's HTTP client, through a `fetch` that trusts the test proxy's CA. (An app whose server has a
 * publicly trusted certificate needs none of this; one with a private CA can set NODE_EXTRA_CA_CERTS.)
 */
function networkClient(fetchWithCa: typeof fetch): INetworkModule {
  const send = async <T>(url: string, method: string, options?: NetworkRequestOptions) => {
    const response = await fetchWithCa(url, {
      method,
      headers: options?.headers ?? {},
      ...(options?.body !== undefined ? { body: options.body } : {}),
    });
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      headers[name] = value;
    });
    return {
      headers,
      body: (await response.json()) as T,
      status: response.status,
    } satisfies NetworkResponse<T>;
  };
  return {
    sendGetRequestAsync: (url, options) => send(url, 'GET', options),
    sendPostRequestAsync: (url, options) => send(url, 'POST', options),
  };
}

beforeAll(async () => {
  [interop, loopback] = await Promise.all([startInterop({ tls: true }), startLoopback()]);
  const proxy = interop.proxy;
  if (!proxy) throw new Error('MSAL needs the https issuer');
  pca = new PublicClientApplication({
    auth: {
      clientId: CLIENT_IDS.msal,
      authority: interop.issuer,
      // A non-Microsoft authority must be listed (host only), or MSAL refuses it.
      knownAuthorities: [new URL(interop.issuer).host],
    },
    system: { protocolMode: 'OIDC', networkClient: networkClient(proxy.fetch) },
  });
}, 180_000);

afterAll(async () => {
  await loopback?.close();
  await interop?.close();
});

describe('MSAL Node', () => {
  let result: AuthenticationResult;
  let account: AccountInfo;

  it('signs in over loopback on 127.0.0.1 (getAuthCodeUrl + acquireTokenByCode, PKCE)', async () => {
    const crypto = new CryptoProvider();
    const { verifier, challenge } = await crypto.generatePkceCodes();
    const state = crypto.createNewGuid();
    const url = await pca.getAuthCodeUrl({
      scopes: SCOPES,
      redirectUri: loopback.redirectUri,
      codeChallenge: challenge,
      codeChallengeMethod: 'S256',
      state,
    });
    await interop.signIn(url, SUITE);
    const callback = await loopback.next();
    expect(callback.searchParams.get('state')).toBe(state);

    result = await pca.acquireTokenByCode(
      {
        code: callback.searchParams.get('code') as string,
        scopes: SCOPES,
        redirectUri: loopback.redirectUri,
        codeVerifier: verifier,
        state,
      },
      { code: callback.searchParams.get('code') as string, state },
    );
    expect(result.idTokenClaims).toMatchObject({
      iss: interop.issuer,
      aud: CLIENT_IDS.msal,
      email: USER.email,
    });
    account = result.account as AccountInfo;
    expect(result.account?.name).toBe(USER.name);
    // MSAL works in whole seconds (its clock reading is rounded, so up to a second ahead of ours).
    expect(result.expiresOn?.getTime()).toBeLessThanOrEqual(Date.now() + (ACCESS_TOKEN_SECONDS + 1) * 1000);
    expect((await pca.getAllAccounts()).map((a) => a.homeAccountId)).toEqual([account.homeAccountId]);
    const me = await userinfo(`${interop.issuer}/me`, result.accessToken, interop.proxy?.fetch);
    expect(me.body).toMatchObject({ email: USER.email });
  });

  it('the account’s username is the email (MSAL reads `preferred_username`)', () => {
    expect(result.idTokenClaims).toMatchObject({ preferred_username: USER.email });
    expect(account.username).toBe(USER.email);
  });

  it('acquireTokenSilent refreshes once the access token has expired (MSAL re-sends offline_access)', async () => {
    await waitForExpiry(
      (result.expiresOn as Date).getTime() - ACCESS_TOKEN_SECONDS * 1000,
      ACCESS_TOKEN_SECONDS,
    );
    const old = result.accessToken;
    expect((await userinfo(`${interop.issuer}/me`, old, interop.proxy?.fetch)).status).toBe(401);

    result = await pca.acquireTokenSilent({ account, scopes: SCOPES });
    expect(result.fromCache).toBe(false);
    expect(result.accessToken).not.toBe(old);
    const me = await userinfo(`${interop.issuer}/me`, result.accessToken, interop.proxy?.fetch);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ email: USER.email });
  });

  it('acquireTokenInteractive is refused: MSAL 7 redirects to http://localhost:<port>, not the loopback IP', async () => {
    let authorizationUrl: URL | undefined;
    let shown = '';
    const refused = await pca
      .acquireTokenInteractive({
        scopes: SCOPES,
        openBrowser: async (url) => {
          authorizationUrl = new URL(url);
          const page = await interop.context.newPage();
          try {
            const response = await page.goto(url);
            shown = `${response?.status()} ${await page.locator('body').textContent()}`;
          } finally {
            await page.close();
          }
          // Stops MSAL waiting on its loopback server for a redirect that will never come.
          throw new Error('the authorization server refused the redirect URI');
        },
      })
      .catch((error: Error) => error);
    expect(authorizationUrl?.searchParams.get('redirect_uri')).toMatch(/^http:\/\/localhost:\d+$/);
    expect(authorizationUrl?.searchParams.get('response_mode')).toBe('form_post');
    expect(shown).toMatch(/^400 /);
    // The refusal is in words; the engine's code (redirect_uri …) is in the page's details line.
    expect(shown).toMatch(/redirect_uri/);
    expect((refused as Error).message).toMatch(/refused the redirect URI/);
  });

  it('signOut removes the account from MSAL’s cache; silent sign-in then needs interaction', async () => {
    await pca.signOut({ account });
    expect(await pca.getAllAccounts()).toEqual([]);
    const refused = await pca.acquireTokenSilent({ account, scopes: SCOPES }).catch((error) => error);
    expect(String(refused?.errorCode ?? refused)).toMatch(/no_tokens_found|interaction_required/);
  });
});
