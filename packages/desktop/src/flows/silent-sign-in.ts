import * as oauth from 'oauth4webapi';
import { type Context, requestOptions } from '../context.js';
import { dpopOptions, sessionKey, withNonceRetry } from '../dpop.js';
import {
  InteractionRequiredError,
  NetworkError,
  OAuthError,
  TimeoutError,
  toLatchkeyError,
} from '../errors.js';
import { acquireFileLock } from '../lock.js';
import { clearSession, readHint, readSession, type StoredSession } from '../session.js';
import { type AuthenticationResult, acceptTokens, verifyIdTokenSignature } from '../tokens.js';
import { type AccessTokenCache, tokenKey } from './access-token-cache.js';
import { plainRefresh } from './plain-refresh.js';

/**
 * How long a silent sign-in waits before presenting a refresh token again after a network failure.
 * Longer than the server's race-settle window (1 s), shorter than its reuse grace window (30 s).
 */
export const LOST_RESPONSE_RETRY_DELAY_MS = 1_500;

/** Options of {@link LatchkeyClient.getAccessToken} and {@link LatchkeyClient.signInSilently}. */
export interface AccessTokenOptions {
  /** The API the token is for (RFC 8707 §2 `resource`): the access token's audience. */
  resource?: string;
  /** Scopes for this token (a subset of the granted ones, RFC 6749 §6). */
  scopes?: string[];
  /** Refresh even when a cached access token is still valid. */
  forceRefresh?: boolean;
}

/** What a silent sign-in needs. */
export interface SilentSignInDeps {
  ctx: Context;
  cache: AccessTokenCache;
  /** The cross-process lock file that serializes refreshes of this issuer + client's token. */
  lockPath: string;
  /** Refresh an access token this long (milliseconds) before it expires. */
  skewMs: number;
}

/** Sign-in from the stored refresh token, without a browser. */
export interface SilentSignIn {
  acquireToken(request: AccessTokenOptions): Promise<AuthenticationResult>;
}

export function createSilentSignIn({ ctx, cache, lockPath, skewMs }: SilentSignInDeps): SilentSignIn {
  const inflight = new Map<string, Promise<AuthenticationResult>>();
  let queue: Promise<unknown> = Promise.resolve();

  const interactionRequired = async (message: string, cause?: unknown) =>
    new InteractionRequiredError(message, { cause, loginHint: await readHint(ctx) });

  /** One refresh grant (RFC 6749 §6) with the stored token; rotation stores the new one. */
  const refreshOnce = async (
    as: oauth.AuthorizationServer,
    session: StoredSession,
    request: AccessTokenOptions,
  ) => {
    // The session's key; a session stored before DPoP gets one now, and the server binds it (its
    // refresh token needs the key from this refresh on).
    const dpopKey = await sessionKey(ctx, as, session.dpopKey);
    const accepted = (tokens: oauth.TokenEndpointResponse, claims?: oauth.IDToken) =>
      acceptTokens(ctx, tokens, {
        previous: session,
        dpopKey,
        requireIdToken: false,
        ...(claims ? { claims } : {}),
        ...(request.resource ? { resource: request.resource } : {}),
      });
    const scope = request.scopes?.length ? request.scopes.join(' ') : undefined;
    if (ctx.plainRequests) {
      // The app gave no fetch: one node:http request, no fetch machinery loaded (plain-refresh.ts).
      try {
        const { tokens, claims } = await plainRefresh(ctx, as, {
          refreshToken: session.refreshToken,
          ...(request.resource ? { resource: request.resource } : {}),
          ...(scope ? { scope } : {}),
          dpopKey,
        });
        return accepted(tokens, claims);
      } catch (error) {
        throw toLatchkeyError(error, 'Token refresh');
      }
    }
    const additionalParameters: Record<string, string> = {};
    if (request.resource) additionalParameters.resource = request.resource;
    if (scope) additionalParameters.scope = scope;
    let response: Response | undefined;
    let tokens: oauth.TokenEndpointResponse;
    try {
      const dpop = await dpopOptions(ctx, dpopKey);
      tokens = await withNonceRetry(async () => {
        response = await oauth.refreshTokenGrantRequest(
          as,
          ctx.client,
          ctx.clientAuth,
          session.refreshToken,
          {
            ...requestOptions(ctx),
            ...dpop,
            additionalParameters,
          },
        );
        return oauth.processRefreshTokenResponse(as, ctx.client, response);
      });
    } catch (error) {
      throw toLatchkeyError(error, 'Token refresh');
    }
    if (tokens.id_token) await verifyIdTokenSignature(ctx, as, response as unknown as Response);
    return accepted(tokens);
  };

  /**
   * Steps of a silent sign-in, under the cross-process lock:
   * 1. read the store (under the lock, as another process may have rotated the token while we
   *    waited; once, as each read is a keychain round trip on every app start);
   * 2. present the refresh token;
   * 3. after a network failure, present it once more: the response may have been lost after the
   *    server rotated it, and the server's grace window accepts one replay;
   * 4. on `invalid_grant` (revoked, expired, reused) clear the store: a browser sign-in is required.
   */
  const refreshLocked = async (request: AccessTokenOptions): Promise<AuthenticationResult> => {
    const as = await ctx.metadata();
    let lock: { release(): Promise<void> };
    try {
      lock = await acquireFileLock(lockPath);
    } catch (cause) {
      throw new TimeoutError('Another process has held the token lock for too long', { cause });
    }
    try {
      const session = await readSession(ctx);
      if (!session) throw await interactionRequired('No account is signed in');
      try {
        try {
          return await refreshOnce(as, session, request);
        } catch (error) {
          if (!(error instanceof NetworkError)) throw error;
          // Latchkey refuses a re-presentation that follows the rotation too closely (it cannot be
          // told apart from two requests sent together); a retry after a lost response waits it out.
          await new Promise((resolve) => setTimeout(resolve, LOST_RESPONSE_RETRY_DELAY_MS));
          return await refreshOnce(as, session, request);
        }
      } catch (error) {
        if (error instanceof OAuthError && error.error === 'invalid_grant') {
          await clearSession(ctx);
          cache.clear();
          throw new InteractionRequiredError('The stored sign-in is no longer valid; sign in again', {
            cause: error,
            loginHint: session.account.email,
          });
        }
        throw error;
      }
    } finally {
      await lock.release();
    }
  };

  return {
    acquireToken(request) {
      const key = tokenKey(request);
      const fresh = () => {
        const cached = cache.get(request);
        return !request.forceRefresh && cached && cached.expiresOn - skewMs > Date.now()
          ? { ...cached, fromCache: true }
          : undefined;
      };
      const cached = fresh();
      if (cached) return Promise.resolve(cached);
      const running = inflight.get(key);
      if (running) return running;
      // One refresh at a time in this process: every refresh rotates the one refresh token.
      const work = queue.then(async () => fresh() ?? cache.remember(request, await refreshLocked(request)));
      queue = work.catch(() => {});
      inflight.set(key, work);
      const cleanup = () => inflight.delete(key);
      work.then(cleanup, cleanup);
      return work;
    },
  };
}
