import { ServerError } from '../errors/server-error.js';
import type { AppRequest } from './state.js';

/** The app's authorization request as the engine parsed it (only the parameters it knows). */
export function appRequestOf(details: { params: Record<string, unknown> }): AppRequest {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(details.params)) {
    if (typeof value === 'string') query.set(key, value);
  }
  return { clientId: String(details.params.client_id), query: query.toString() };
}

/** Replays the app's authorization request: a new interaction and, after the click, a new code. */
export function replayUrl(request: Pick<AppRequest, 'query'>): string {
  return `/auth?${request.query}`;
}

/**
 * The sign-in a request names is over or unknown (expired, finished, opened in another browser,
 * cookies cleared, a made-up id). Carries what the error page needs to offer a way on: the app and
 * its request when Latchkey still knows them.
 */
export class SignInOverError extends ServerError {
  override readonly name = 'SignInOverError';
  constructor(
    readonly known: { request?: AppRequest | undefined; appName?: string | undefined },
    options: { cause?: unknown } = {},
  ) {
    super('sign_in_expired', 'the sign-in is over or unknown', options);
  }
}

export function isSignInOver(error: unknown): error is SignInOverError {
  return error instanceof SignInOverError;
}
