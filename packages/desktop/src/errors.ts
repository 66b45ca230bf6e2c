import * as oauth from 'oauth4webapi';

/**
 * Stable error codes of `@latchkey/desktop`. Match on `error.code`, never on messages: codes are part
 * of the public API and do not change between versions.
 */
export const ErrorCode = {
  /** The request never got an HTTP response (DNS, TCP, TLS, proxy, timeout of the socket). */
  NetworkError: 'network_error',
  /** A response arrived but is not what the protocol allows (bad JSON, wrong `state`, `iss`, `nonce`, signature). */
  UnexpectedResponse: 'unexpected_response',
  /** The server answered with an OAuth 2.0 error (`error` holds its RFC 6749 §5.2 / RFC 8628 §3.5 code). */
  OAuthError: 'oauth_error',
  /** A browser sign-in is needed: no refresh token is stored, or the server no longer accepts it. */
  InteractionRequired: 'interaction_required',
  /** The user or the application cancelled the sign-in (AbortSignal, closed window). */
  UserCancelled: 'user_cancelled',
  /** Waiting for the browser or for the device code approval took too long. */
  Timeout: 'timeout',
  /** A redirect URL arrived for which no sign-in is pending in this or any other process. */
  NoPendingSignIn: 'no_pending_sign_in',
  /** The chosen token store cannot be used (no Secret Service, keychain locked, file unreadable). */
  StoreUnavailable: 'store_unavailable',
  /** A caller passed options the SDK cannot work with. */
  InvalidOptions: 'invalid_options',
  /** The operation is not available on this platform or with this server's metadata. */
  Unsupported: 'unsupported',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Base class of every error the SDK throws. `code` is stable; `cause` keeps the underlying error. */
export class LatchkeyError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The request failed before any HTTP response (the server may or may not have processed it). */
export class NetworkError extends LatchkeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.NetworkError, message, options);
  }
}

/**
 * The server's response is not a valid protocol message. `reason` carries the oauth4webapi code when
 * there is one (for example `OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED` for a wrong `state` or `iss`,
 * `OAUTH_JWT_CLAIM_COMPARISON_FAILED` for a wrong `nonce`).
 */
export class UnexpectedResponseError extends LatchkeyError {
  readonly reason: string | undefined;
  readonly status: number | undefined;
  constructor(message: string, options?: { cause?: unknown; reason?: string; status?: number }) {
    super(ErrorCode.UnexpectedResponse, message, options);
    this.reason = options?.reason;
    this.status = options?.status;
  }
}

/**
 * An OAuth 2.0 error response.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2 (token endpoint errors)
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1 (authorization errors)
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.5 (device flow errors)
 */
export class OAuthError extends LatchkeyError {
  /** The RFC error code, e.g. `invalid_grant`, `access_denied`, `expired_token`. */
  readonly error: string;
  readonly errorDescription: string | undefined;
  readonly status: number | undefined;
  constructor(
    error: string,
    errorDescription: string | undefined,
    options?: { cause?: unknown; status?: number },
  ) {
    super(ErrorCode.OAuthError, errorDescription ? `${error}: ${errorDescription}` : error, options);
    this.error = error;
    this.errorDescription = errorDescription;
    this.status = options?.status;
  }
}

/**
 * A browser sign-in is required (MSAL's `InteractionRequiredAuthError`). `loginHint` is the email of
 * the account that was signed in, to pass to the next `signIn({ loginHint })`.
 */
export class InteractionRequiredError extends LatchkeyError {
  readonly loginHint: string | undefined;
  constructor(message: string, options?: { cause?: unknown; loginHint?: string | undefined }) {
    super(ErrorCode.InteractionRequired, message, options);
    this.loginHint = options?.loginHint;
  }
}

/** The sign-in was cancelled (an `AbortSignal` fired). */
export class UserCancelledError extends LatchkeyError {
  constructor(message = 'The sign-in was cancelled', options?: { cause?: unknown }) {
    super(ErrorCode.UserCancelled, message, options);
  }
}

/** The sign-in did not complete in time (browser redirect, device code expiry). */
export class TimeoutError extends LatchkeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Timeout, message, options);
  }
}

/** `handleRedirect(url)` got a URL whose `state` matches no pending sign-in. */
export class NoPendingSignInError extends LatchkeyError {
  constructor(message = 'No sign-in is waiting for this redirect', options?: { cause?: unknown }) {
    super(ErrorCode.NoPendingSignIn, message, options);
  }
}

/** The token store cannot be used. The message names the alternative (the opt-in file store). */
export class StoreUnavailableError extends LatchkeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.StoreUnavailable, message, options);
  }
}

/** The options given to the SDK are invalid. */
export class InvalidOptionsError extends LatchkeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.InvalidOptions, message, options);
  }
}

/** Not available on this platform, or the server does not advertise the endpoint. */
export class UnsupportedError extends LatchkeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Unsupported, message, options);
  }
}

/**
 * Turns whatever an oauth4webapi call or `fetch` threw into one of the three failure kinds the SDK
 * separates: network failure, unexpected response, OAuth error. `LatchkeyError`s pass through.
 */
export function toLatchkeyError(error: unknown, what: string): LatchkeyError {
  if (error instanceof LatchkeyError) return error;
  if (error instanceof oauth.ResponseBodyError) {
    return new OAuthError(error.error, error.error_description, { cause: error, status: error.status });
  }
  if (error instanceof oauth.AuthorizationResponseError) {
    return new OAuthError(error.error, error.error_description, { cause: error });
  }
  if (error instanceof oauth.WWWAuthenticateChallengeError) {
    const challenge = error.cause[0];
    const code = challenge?.parameters.error ?? 'invalid_client';
    return new OAuthError(code, challenge?.parameters.error_description, {
      cause: error,
      status: error.status,
    });
  }
  if (error instanceof oauth.OperationProcessingError || error instanceof oauth.UnsupportedOperationError) {
    return new UnexpectedResponseError(`${what}: ${error.message}`, { cause: error, reason: error.code });
  }
  if (error instanceof Error && error.name === 'AbortError') {
    return new UserCancelledError(`${what} was cancelled`, { cause: error });
  }
  // AbortSignal.timeout() on a request: the server did not answer in time.
  if (error instanceof Error && error.name === 'TimeoutError') {
    return new NetworkError(`${what}: the server did not answer in time`, { cause: error });
  }
  // fetch() rejects with a TypeError ("fetch failed") whose cause is the socket error.
  if (error instanceof TypeError) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const detail = cause?.code ?? cause?.message ?? error.message;
    return new NetworkError(`${what}: network failure (${detail})`, { cause: error });
  }
  return new UnexpectedResponseError(`${what}: ${error instanceof Error ? error.message : String(error)}`, {
    cause: error,
  });
}
