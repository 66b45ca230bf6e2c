import * as oauth from 'oauth4webapi';
import { type Context, requestOptions } from './context.js';
import type { StoredDpopKey } from './dpop.js';
import { toLatchkeyError, UnexpectedResponseError } from './errors.js';
import { type Account, accountFromClaims, type StoredSession, writeSession } from './session.js';

/** The outcome of every successful sign-in or token request (named after MSAL's `AuthenticationResult`). */
export interface AuthenticationResult {
  account: Account;
  /** The access token. Kept in memory only; never written to a store. */
  accessToken: string;
  /**
   * `DPoP` when the access token is bound to the session's key (RFC 9449 §5): an API call needs a
   * proof, which `client.fetch()` adds; `Bearer` otherwise.
   */
  tokenType: 'DPoP' | 'Bearer';
  /**
   * Epoch milliseconds (as `Date.now()`) after which the access token must not be used. A number,
   * unlike MSAL's `Date`: it compares with `Date.now()` and survives JSON unchanged.
   */
  expiresOn: number;
  /** Scopes the access token carries (RFC 6749 §3.3), when the server says so. */
  scopes: string[];
  /** The resource (RFC 8707 audience) the access token is for, when one was requested. */
  resource?: string;
  /** The ID token's claims when the response carried one. */
  idTokenClaims?: oauth.IDToken;
  /** True when the access token came from the in-memory cache without a request. */
  fromCache: boolean;
}

/**
 * Checks the ID token's signature against the issuer's JWKS (cached on disk between runs). oauth4webapi
 * has already validated `iss`, `aud`, `azp`, `exp`, `iat` and `nonce` (OpenID Connect Core §3.1.3.7);
 * the signature is checked too because the ID token also travels to the cold-start process of a
 * private-use-scheme sign-in and is kept as the `id_token_hint` for logout.
 */
export async function verifyIdTokenSignature(
  ctx: Context,
  as: oauth.AuthorizationServer,
  response: Response,
): Promise<void> {
  try {
    await oauth.validateApplicationLevelSignature(as, response, {
      ...requestOptions(ctx),
      [oauth.jwksCache]: ctx.jwks,
    });
  } catch (error) {
    throw toLatchkeyError(error, 'ID token signature');
  }
  await ctx.saveJwks();
}

/**
 * When the refresh token dies, if the server says: RFC 6749 §5.1 defines no such field, but some
 * servers send `refresh_token_expires_in` (Microsoft Entra ID, GitHub) or `refresh_expires_in` (Keycloak).
 */
function refreshTokenExpiry(tokens: oauth.TokenEndpointResponse): number | undefined {
  const seconds = tokens.refresh_token_expires_in ?? tokens.refresh_expires_in;
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0
    ? Date.now() + seconds * 1000
    : undefined;
}

/** Turns a validated token endpoint response into a stored session and an `AuthenticationResult`. */
export async function acceptTokens(
  ctx: Context,
  tokens: oauth.TokenEndpointResponse,
  options: {
    previous?: StoredSession;
    resource?: string;
    requireIdToken: boolean;
    /** The DPoP key the request was signed with: kept with the session. */
    dpopKey?: StoredDpopKey | undefined;
    /** The ID token's validated claims, when not validated by oauth4webapi (flows/plain-refresh.ts). */
    claims?: oauth.IDToken;
  },
): Promise<AuthenticationResult> {
  const claims = options.claims ?? oauth.getValidatedIdTokenClaims(tokens);
  if (options.requireIdToken && !claims)
    throw new UnexpectedResponseError('The token response has no ID token');
  if (claims && options.previous && claims.sub !== options.previous.account.subject) {
    // OpenID Connect Core §12.2: a refreshed ID token must name the same subject.
    throw new UnexpectedResponseError('The refreshed ID token names another user');
  }
  const account = claims
    ? accountFromClaims(ctx, claims, options.previous?.account)
    : options.previous?.account;
  if (!account) throw new UnexpectedResponseError('The token response identifies no user');
  const refreshToken = tokens.refresh_token ?? options.previous?.refreshToken;
  if (refreshToken) {
    const idToken = tokens.id_token ?? options.previous?.idToken;
    const scope = tokens.scope ?? options.previous?.scope;
    // A new refresh token has the lifetime the server gives it now (or an unknown one); a kept one keeps its own.
    const expiresAt = tokens.refresh_token ? refreshTokenExpiry(tokens) : options.previous?.expiresAt;
    const dpopKey = options.dpopKey ?? options.previous?.dpopKey;
    await writeSession(ctx, {
      version: 1,
      refreshToken,
      ...(idToken ? { idToken } : {}),
      account,
      ...(scope ? { scope } : {}),
      ...(expiresAt ? { expiresAt } : {}),
      ...(dpopKey ? { dpopKey } : {}),
      updatedAt: Date.now(),
    });
  }
  return {
    account,
    accessToken: tokens.access_token,
    tokenType: tokens.token_type.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer',
    expiresOn: Date.now() + (tokens.expires_in ?? 300) * 1000,
    scopes: tokens.scope ? tokens.scope.split(' ') : [],
    ...(options.resource ? { resource: options.resource } : {}),
    ...(claims ? { idTokenClaims: claims } : {}),
    fromCache: false,
  };
}
