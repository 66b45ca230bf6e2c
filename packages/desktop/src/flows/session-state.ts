import type { Context } from '../context.js';
import type { NetworkError } from '../errors.js';
import { type Account, readHint, readSession } from '../session.js';

/** What {@link LatchkeyClient.getState} reports at start. */
export type SessionState =
  /** A sign-in is stored; `expiresOn` (epoch ms) when the server told the refresh token's lifetime. */
  | { status: 'signed-in'; account: Account; expiresOn?: number }
  | { status: 'signed-out'; loginHint?: string }
  /**
   * A refresh token is stored but the server cannot be reached: not signed out.
   * @deprecated `getState` makes no request, so it no longer reports this: a `NetworkError` from
   * `signInSilently` / `getAccessToken` does. Kept so that code matching on it still compiles.
   */
  | { status: 'offline'; account: Account; error: NetworkError };

/**
 * The state from the store alone, like MSAL's `getAllAccounts`: no request, and no refresh token
 * spent (each refresh rotates it, RFC 9700 §4.14.2). Whether the server still honours the sign-in is
 * known only when a token is needed: `signInSilently` throws `InteractionRequiredError` or
 * `NetworkError`. A sign-in past the expiry the server gave it is reported signed out.
 */
export async function readSessionState(ctx: Context, now = Date.now()): Promise<SessionState> {
  const session = await readSession(ctx);
  if (session && (session.expiresAt === undefined || session.expiresAt > now)) {
    return {
      status: 'signed-in',
      account: session.account,
      ...(session.expiresAt !== undefined ? { expiresOn: session.expiresAt } : {}),
    };
  }
  const loginHint = session?.account.email ?? (await readHint(ctx));
  return loginHint ? { status: 'signed-out', loginHint } : { status: 'signed-out' };
}
