import * as oauth from 'oauth4webapi';
import { ADMIN_CONSOLE_CLIENT_ID, ADMIN_SCOPE } from '../admin/resources.js';
import { consoleRedirectUri } from './console-client.js';

/** What the console keeps of a token response. */
export interface ConsoleTokens {
  accessToken: string;
  /** Epoch milliseconds. */
  accessTokenExpiresAt: number;
  refreshToken: string | undefined;
  /** The signed-in person (the ID token's `sub`; undefined after a refresh). */
  subject: string | undefined;
}

/** The browser-held half of an authorization request (RFC 7636 verifier, state, nonce). */
export interface PendingSignIn {
  state: string;
  verifier: string;
  nonce: string;
}

export interface ConsoleOidc {
  /** The authorization request URL (path and query, at this issuer) and what the callback needs. */
  start(options?: { switchAccount?: boolean }): Promise<{ url: string; pending: PendingSignIn }>;
  /** Checks the callback (state, iss), redeems the code with the verifier, checks the ID token. */
  finish(callback: URL, pending: PendingSignIn): Promise<ConsoleTokens>;
  refresh(refreshToken: string): Promise<ConsoleTokens>;
  /** RFC 7009: ends the grant behind the refresh token (best effort). */
  revoke(refreshToken: string): Promise<void>;
}

/**
 * The console as an ordinary OpenID Connect client of Latchkey (oauth4webapi): authorization code
 * with PKCE S256, the admin API named as the resource (RFC 8707) so the access token is an RFC 9068
 * JWT for `<issuer>/admin/api` with the `admin` scope, and `offline_access` with `prompt=consent` so
 * a web client gets a refresh token (OpenID Connect Core §11) — the consent being the Continue click
 * of Latchkey's own launch page. Endpoints are this server's own, so there is no discovery fetch.
 */
export function createConsoleOidc(options: { issuer: string; fetch: typeof fetch }): ConsoleOidc {
  const { issuer } = options;
  const resource = `${issuer}/admin/api`;
  const redirectUri = consoleRedirectUri(issuer);
  const as: oauth.AuthorizationServer = {
    issuer,
    authorization_endpoint: `${issuer}/auth`,
    token_endpoint: `${issuer}/token`,
    revocation_endpoint: `${issuer}/token/revocation`,
  };
  const client: oauth.Client = { client_id: ADMIN_CONSOLE_CLIENT_ID, id_token_signed_response_alg: 'ES256' };
  const auth = oauth.None();
  const http = {
    [oauth.customFetch]: options.fetch,
    [oauth.allowInsecureRequests]: issuer.startsWith('http:'),
  };

  const tokensOf = (response: oauth.TokenEndpointResponse, subject: string | undefined): ConsoleTokens => ({
    accessToken: response.access_token,
    accessTokenExpiresAt: Date.now() + (response.expires_in ?? 60) * 1000,
    refreshToken: response.refresh_token,
    subject,
  });

  return {
    async start(startOptions = {}) {
      const pending = {
        state: oauth.generateRandomState(),
        verifier: oauth.generateRandomCodeVerifier(),
        nonce: oauth.generateRandomNonce(),
      };
      const query = new URLSearchParams({
        client_id: ADMIN_CONSOLE_CLIENT_ID,
        redirect_uri: redirectUri,
        response_type: 'code',
        scope: `openid offline_access ${ADMIN_SCOPE}`,
        // `login` too when switching: the engine asks who is signing in even with a browser session.
        prompt: startOptions.switchAccount ? 'login consent' : 'consent',
        resource,
        state: pending.state,
        nonce: pending.nonce,
        code_challenge: await oauth.calculatePKCECodeChallenge(pending.verifier),
        code_challenge_method: 'S256',
      });
      return { url: `/auth?${query.toString()}`, pending };
    },
    async finish(callback, pending) {
      const params = oauth.validateAuthResponse(as, client, callback, pending.state);
      const response = await oauth.authorizationCodeGrantRequest(
        as,
        client,
        auth,
        params,
        redirectUri,
        pending.verifier,
        { ...http, additionalParameters: { resource } },
      );
      const result = await oauth.processAuthorizationCodeResponse(as, client, response, {
        expectedNonce: pending.nonce,
        requireIdToken: true,
      });
      return tokensOf(result, oauth.getValidatedIdTokenClaims(result)?.sub);
    },
    async refresh(refreshToken) {
      const response = await oauth.refreshTokenGrantRequest(as, client, auth, refreshToken, {
        ...http,
        additionalParameters: { resource },
      });
      return tokensOf(await oauth.processRefreshTokenResponse(as, client, response), undefined);
    },
    async revoke(refreshToken) {
      const response = await oauth.revocationRequest(as, client, auth, refreshToken, {
        ...http,
        additionalParameters: { token_type_hint: 'refresh_token' },
      });
      await oauth.processRevocationResponse(response);
    },
  };
}
