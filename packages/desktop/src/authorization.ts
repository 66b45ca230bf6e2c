import * as oauth from 'oauth4webapi';
import { type Context, requestOptions } from './context.js';
import { dpopOptions, sessionKey, withNonceRetry } from './dpop.js';
import { toLatchkeyError } from './errors.js';
import { type AuthenticationResult, acceptTokens, verifyIdTokenSignature } from './tokens.js';

/** One authorization request's secrets, kept until its redirect arrives. */
export interface PendingAuthorization {
  state: string;
  nonce: string;
  codeVerifier: string;
  redirectUri: string;
  /** Epoch milliseconds after which the redirect is no longer accepted. */
  expiresAt: number;
}

export interface AuthorizationParameters {
  loginHint?: string | undefined;
  prompt?: string | undefined;
  scopes?: string[] | undefined;
  /** APIs the sign-in asks access to (RFC 8707 §2.1); later access tokens can be requested for each. */
  resources?: string[] | undefined;
  /** Extra parameters for the authorization request (e.g. `ui_locales`). */
  extraParameters?: Record<string, string> | undefined;
}

/**
 * Step 1: the authorization request of RFC 6749 §4.1.1 with PKCE S256 (RFC 7636 §4.2, required for
 * native apps by RFC 8252 §8.1), a high-entropy `state` (RFC 6749 §10.12) and `nonce` (OpenID Connect
 * Core §3.1.2.1).
 */
export async function prepareAuthorization(
  ctx: Context,
  as: oauth.AuthorizationServer,
  redirectUri: string,
  parameters: AuthorizationParameters,
  lifetimeMs: number,
): Promise<{ pending: PendingAuthorization; url: URL }> {
  if (!as.authorization_endpoint)
    throw toLatchkeyError(new oauth.UnsupportedOperationError('no authorization_endpoint'), 'Sign-in');
  const pending: PendingAuthorization = {
    state: oauth.generateRandomState(),
    nonce: oauth.generateRandomNonce(),
    codeVerifier: oauth.generateRandomCodeVerifier(),
    redirectUri,
    expiresAt: Date.now() + lifetimeMs,
  };
  const url = new URL(as.authorization_endpoint);
  const query = url.searchParams;
  query.set('response_type', 'code');
  query.set('client_id', ctx.clientId);
  query.set('redirect_uri', redirectUri);
  query.set('scope', (parameters.scopes ?? ctx.scopes).join(' '));
  query.set('state', pending.state);
  query.set('nonce', pending.nonce);
  query.set('code_challenge', await oauth.calculatePKCECodeChallenge(pending.codeVerifier));
  query.set('code_challenge_method', 'S256');
  if (parameters.loginHint) query.set('login_hint', parameters.loginHint);
  if (parameters.prompt) query.set('prompt', parameters.prompt);
  for (const resource of parameters.resources ?? []) query.append('resource', resource);
  for (const [key, value] of Object.entries(parameters.extraParameters ?? {})) query.set(key, value);
  return { pending, url };
}

/**
 * Step 2: checks the redirect: `state` (RFC 6749 §10.12), `iss` (RFC 9207 §2.4, required when the
 * server advertises `authorization_response_iss_parameter_supported`), and turns an error response
 * (RFC 6749 §4.1.2.1) into an `OAuthError`.
 */
export function validateRedirect(
  ctx: Context,
  as: oauth.AuthorizationServer,
  pending: PendingAuthorization,
  redirect: URL,
): URLSearchParams {
  try {
    return oauth.validateAuthResponse(as, ctx.client, redirect, pending.state);
  } catch (error) {
    throw toLatchkeyError(error, 'Authorization response');
  }
}

/**
 * Step 3: exchanges the code (RFC 6749 §4.1.3 with the PKCE verifier, RFC 7636 §4.5), validates the
 * ID token (`nonce` included) and its signature, and stores the refresh token.
 */
export async function exchangeCode(
  ctx: Context,
  as: oauth.AuthorizationServer,
  pending: PendingAuthorization,
  parameters: URLSearchParams,
): Promise<AuthenticationResult> {
  let tokens: oauth.TokenEndpointResponse;
  let response: Response | undefined;
  // RFC 9449: a new session gets a new key at its code exchange; the tokens are bound to it.
  const dpopKey = await sessionKey(ctx, as, undefined);
  try {
    const dpop = await dpopOptions(ctx, dpopKey);
    tokens = await withNonceRetry(async () => {
      response = await oauth.authorizationCodeGrantRequest(
        as,
        ctx.client,
        ctx.clientAuth,
        parameters,
        pending.redirectUri,
        pending.codeVerifier,
        { ...requestOptions(ctx), ...dpop },
      );
      return oauth.processAuthorizationCodeResponse(as, ctx.client, response, {
        expectedNonce: pending.nonce,
        requireIdToken: true,
      });
    });
  } catch (error) {
    throw toLatchkeyError(error, 'Code exchange');
  }
  await verifyIdTokenSignature(ctx, as, response as unknown as Response);
  return acceptTokens(ctx, tokens, { requireIdToken: true, dpopKey });
}
