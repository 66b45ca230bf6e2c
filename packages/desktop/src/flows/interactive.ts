import type { AuthorizationParameters } from '../authorization.js';
import type { Context } from '../context.js';
import { LatchkeyError, TimeoutError, UserCancelledError } from '../errors.js';
import { readHint } from '../session.js';

/** Opens a URL for the person: the system browser by default (never an embedded view, RFC 8252 §8.12). */
export type OpenBrowser = (url: string) => void | Promise<void>;

/** How long an interactive sign-in waits for its redirect unless told otherwise. */
export const DEFAULT_SIGN_IN_TIMEOUT_MS = 5 * 60_000;

/** Options of {@link LatchkeyClient.signIn}. */
export interface SignInOptions {
  /** Email for the server's sign-in page (OpenID Connect Core §3.1.2.1 `login_hint`). Default: the last account's. */
  loginHint?: string;
  /** `login` forces re-authentication, `select_account` offers another account (OpenID Connect Core §3.1.2.1). */
  prompt?: 'login' | 'select_account' | 'consent' | 'none';
  /** Scopes for this sign-in instead of the client's. */
  scopes?: string[];
  /** Extra authorization request parameters (e.g. `ui_locales`). */
  extraParameters?: Record<string, string>;
  /** Give up after this long. Default 5 minutes. */
  timeoutMs?: number;
  /** Cancels the sign-in (the promise rejects with `UserCancelledError`). */
  signal?: AbortSignal;
  /** Overrides the client's `openBrowser` for this sign-in (e.g. print the URL for an SSH session). */
  openBrowser?: OpenBrowser;
}

/** The authorization request's parameters; the login hint defaults to the last account's email. */
export async function authorizationParameters(
  ctx: Context,
  signInOptions: SignInOptions,
): Promise<AuthorizationParameters> {
  return {
    loginHint: signInOptions.loginHint ?? (await readHint(ctx)),
    prompt: signInOptions.prompt,
    scopes: signInOptions.scopes,
    resources: ctx.resources,
    extraParameters: signInOptions.extraParameters,
  };
}

/** Runs `work` with the sign-in's deadline and the caller's signal mapped to `TimeoutError` / `UserCancelledError`. */
export async function withDeadline<T>(
  timeoutMs: number,
  signal: AbortSignal | undefined,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const combined = signal ? AbortSignal.any([timeout, signal]) : timeout;
  try {
    return await work(combined);
  } catch (error) {
    if (timeout.aborted && !(error instanceof LatchkeyError)) {
      throw new TimeoutError(`No redirect arrived within ${Math.round(timeoutMs / 1000)} s`, {
        cause: error,
      });
    }
    if (signal?.aborted && !(error instanceof LatchkeyError))
      throw new UserCancelledError(undefined, { cause: error });
    throw error;
  }
}

/** `promise`, or the signal's reason as soon as it fires. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
