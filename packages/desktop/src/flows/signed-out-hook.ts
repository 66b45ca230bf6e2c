import type { Context } from '../context.js';
import { InteractionRequiredError, OAuthError } from '../errors.js';
import type { AuthenticationResult } from '../tokens.js';
import type { AccessTokenCache } from './access-token-cache.js';
import { createLiveSignOut, type SignedOutEvent, type SignedOutListener } from './live-sign-out.js';
import type { SilentSignIn } from './silent-sign-in.js';

/** What the client needs to offer `on('signed-out')`. */
export interface SignedOutHookDeps {
  ctx: Context;
  cache: AccessTokenCache;
  lockPath: string;
  silent: SilentSignIn;
}

/**
 * The client's side of live sign-out: the listeners, the watcher that runs while there is at least
 * one, and `track`, through which every sign-in and refresh of the client passes so that a new
 * sign-in reconnects the stream and a refused refresh (`invalid_grant`) is reported too.
 */
export function watchSignedOut({ ctx, cache, lockPath, silent }: SignedOutHookDeps) {
  const listeners = new Set<SignedOutListener>();
  const emit = (event: SignedOutEvent) => {
    for (const listener of [...listeners]) {
      try {
        listener(event);
      } catch {
        // A listener's failure is the app's; the others still hear of it.
      }
    }
  };
  const live = createLiveSignOut({
    ctx,
    cache,
    lockPath,
    emit,
    getAccessToken: async (options = {}) => (await track(silent.acquireToken(options), false)).accessToken,
  });

  async function track(
    work: Promise<AuthenticationResult>,
    interactive: boolean,
  ): Promise<AuthenticationResult> {
    try {
      const result = await work;
      live.signedIn(interactive);
      return result;
    } catch (error) {
      if (
        error instanceof InteractionRequiredError &&
        error.cause instanceof OAuthError &&
        error.cause.error === 'invalid_grant'
      )
        live.refreshRejected(error.loginHint);
      throw error;
    }
  }

  const off = (_event: 'signed-out', listener: SignedOutListener) => {
    listeners.delete(listener);
    if (listeners.size === 0) live.stop();
  };
  return {
    track,
    on(event: 'signed-out', listener: SignedOutListener) {
      if (event !== 'signed-out') throw new TypeError(`unknown event ${String(event)}`);
      listeners.add(listener);
      live.start();
      return () => off(event, listener);
    },
    off,
    close() {
      listeners.clear();
      live.stop();
    },
    state: () => live.state(),
  };
}
