import * as oauth from 'oauth4webapi';
import { type Context, requestOptions } from '../context.js';
import { NetworkError, toLatchkeyError, UnsupportedError } from '../errors.js';
import { acquireFileLock } from '../lock.js';
import { clearHint, clearSession, readSession, type StoredSession } from '../session.js';
import type { AccessTokenCache } from './access-token-cache.js';
import type { OpenBrowser } from './interactive.js';

/** Options of {@link LatchkeyClient.signOut}. */
export interface SignOutOptions {
  everywhere?: boolean;
  openBrowser?: OpenBrowser;
}

/**
 * What became of the stored refresh token. In every case the store is cleared.
 * - `revoked`: the server confirmed the revocation (RFC 7009 §2.2);
 * - `not-signed-in`: nothing was stored, so there was nothing to revoke;
 * - `server-unreachable`: no response (offline, or discovery failed): the token is forgotten here
 *   but still valid at the server until it expires or an administrator revokes the session;
 * - `unsupported`: the server advertises no `revocation_endpoint` (RFC 8414 §2).
 */
export type RevocationOutcome = 'revoked' | 'not-signed-in' | 'server-unreachable' | 'unsupported';

/** What {@link LatchkeyClient.signOut} did. */
export interface SignOutResult {
  /** The server confirmed the revocation (RFC 7009 §2.2): `revocation === 'revoked'`. */
  revoked: boolean;
  /** What became of the stored refresh token, and why `revoked` is false when it is. */
  revocation: RevocationOutcome;
  /** The end-session URL opened in the browser with `{ everywhere: true }` (OpenID Connect RP-Initiated Logout §2). */
  endSessionUrl?: string;
}

/** What a sign-out needs. */
export interface SignOutDeps {
  ctx: Context;
  cache: AccessTokenCache;
  openBrowser: OpenBrowser;
  /** The lock file refreshes hold: a refresh must not store a new token after the store is cleared. */
  lockPath: string;
}

export function createSignOut({
  ctx,
  cache,
  openBrowser,
  lockPath,
}: SignOutDeps): (signOutOptions: SignOutOptions) => Promise<SignOutResult> {
  /**
   * Revocation (RFC 7009 §2.1) of the refresh token, which on a rotating server ends its whole
   * grant; then the store is cleared even if the server could not be reached. With `everywhere`,
   * RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2) ends the browser session too.
   */
  return async (signOutOptions) => {
    const as = await ctx.metadata().catch(() => undefined);
    let revocation: RevocationOutcome;
    let session: StoredSession | undefined;
    const lock = await acquireFileLock(lockPath).catch(() => undefined);
    try {
      session = await readSession(ctx);
      if (!session) revocation = 'not-signed-in';
      else if (!as) revocation = 'server-unreachable';
      else if (!as.revocation_endpoint) revocation = 'unsupported';
      else {
        try {
          const response = await oauth.revocationRequest(
            as,
            ctx.client,
            ctx.clientAuth,
            session.refreshToken,
            {
              ...requestOptions(ctx),
              additionalParameters: { token_type_hint: 'refresh_token' },
            },
          );
          await oauth.processRevocationResponse(response);
          revocation = 'revoked';
        } catch (error) {
          const failure = toLatchkeyError(error, 'Revocation');
          if (!(failure instanceof NetworkError)) throw failure;
          revocation = 'server-unreachable';
        }
      }
      await clearSession(ctx);
      await clearHint(ctx);
      cache.clear();
    } finally {
      await lock?.release();
    }
    const outcome = { revoked: revocation === 'revoked', revocation };
    if (!signOutOptions.everywhere) return outcome;
    // Offline is not "unsupported": the browser session could not be ended because nobody answered.
    if (!as) throw new NetworkError('the browser session was not ended (signed out on this device only)');
    if (!as.end_session_endpoint) throw new UnsupportedError('The server advertises no end_session_endpoint');
    const url = new URL(as.end_session_endpoint);
    url.searchParams.set('client_id', ctx.clientId);
    if (session?.idToken) url.searchParams.set('id_token_hint', session.idToken);
    await (signOutOptions.openBrowser ?? openBrowser)(url.href);
    return { ...outcome, endSessionUrl: url.href };
  };
}
