import { loadedOpenId } from './openid.js';
import { type ProviderAnswer, UpstreamError } from './types.js';

/** Shown to the person: the fault is the connection's, not theirs, and only an administrator can fix it. */
export const MISCONFIGURED_MESSAGE =
  'Sign-in with your organization is misconfigured. Please ask your administrator to check the connection to your identity provider.';

/** RFC 6749 §5.2: the token endpoint's answers to client authentication that did not pass. */
const CLIENT_AUTH_ERRORS = new Set(['invalid_client', 'unauthorized_client']);

/** The provider's own words, bounded and without control characters: for logs and audit, never a page. */
function cleanText(value: unknown, max = 300): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
  return value.replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, max);
}

function tokenCode(value: unknown): string | undefined {
  return typeof value === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(value) ? value : undefined;
}

/**
 * A refused client authentication at the token endpoint, in either shape openid-client reports it: an
 * OAuth error body (`invalid_client`), or a 401 with a `WWW-Authenticate` challenge (RFC 6749 §5.2
 * says the server "MUST" answer 401 with the header when the client used Basic).
 */
function clientAuthRefusal(err: unknown): ProviderAnswer | undefined {
  const client = loadedOpenId();
  if (!client) return undefined;
  if (err instanceof client.ResponseBodyError && CLIENT_AUTH_ERRORS.has(err.error)) {
    return { status: err.status, error: err.error, description: cleanText(err.error_description) };
  }
  if (err instanceof client.WWWAuthenticateChallengeError && err.status === 401) {
    const params = err.cause[0]?.parameters;
    return {
      status: err.status,
      error: tokenCode(params?.error) ?? 'invalid_client',
      description: cleanText(params?.error_description),
    };
  }
  return undefined;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
]);

/** The error and its causes, outermost first (bounded: causes can be cyclic). */
function chain(err: unknown): unknown[] {
  const out: unknown[] = [];
  let current = err;
  while (current !== undefined && current !== null && out.length < 8 && !out.includes(current)) {
    out.push(current);
    current = (current as { cause?: unknown }).cause;
  }
  return out;
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

function isTimeout(links: unknown[]): boolean {
  return links.some(
    (e) =>
      field(e, 'code') === 'OAUTH_TIMEOUT' ||
      field(e, 'name') === 'TimeoutError' ||
      field(e, 'code') === 'UND_ERR_CONNECT_TIMEOUT' ||
      field(e, 'code') === 'UND_ERR_HEADERS_TIMEOUT',
  );
}

function isNetwork(links: unknown[]): boolean {
  return links.some(
    (e) =>
      (e instanceof TypeError && e.message === 'fetch failed') ||
      NETWORK_CODES.has(String(field(e, 'code'))) ||
      field(e, 'code') === 'OAUTH_ABORT',
  );
}

function isBadSignature(links: unknown[]): boolean {
  return links.some(
    (e) =>
      (e instanceof Error && e.message === 'JWT signature verification failed') ||
      field(e, 'code') === 'OAUTH_KEY_SELECTION_FAILED',
  );
}

/**
 * Maps whatever openid-client, fetch or the network threw into one UpstreamError with a stable code and
 * a message safe to show. The original stays in `cause` for logs.
 */
export function toUpstreamError(err: unknown): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const links = chain(err);
  // Until openid-client is loaded (openid.ts), nothing thrown can be one of its errors.
  const client = loadedOpenId();
  if (client && err instanceof client.AuthorizationResponseError) {
    return err.error === 'access_denied'
      ? new UpstreamError('access_denied', 'Sign-in was cancelled at the identity provider.', { cause: err })
      : new UpstreamError('invalid_response', 'The identity provider could not sign you in.', { cause: err });
  }
  const refusal = clientAuthRefusal(err);
  if (refusal) {
    return new UpstreamError('client_authentication_failed', MISCONFIGURED_MESSAGE, {
      cause: err,
      provider: refusal,
    });
  }
  if (client && err instanceof client.ResponseBodyError) {
    const code = /^[a-z_]{1,64}$/.test(err.error) ? err.error : 'unknown_error';
    return new UpstreamError('invalid_response', `The identity provider refused the request (${code}).`, {
      cause: err,
      provider: { status: err.status, error: code, description: cleanText(err.error_description) },
    });
  }
  if (isTimeout(links)) {
    return new UpstreamError(
      'upstream_timeout',
      'The identity provider did not answer in time. Please retry.',
      {
        cause: err,
      },
    );
  }
  if (isNetwork(links)) {
    return new UpstreamError(
      'upstream_unreachable',
      'The identity provider cannot be reached. Please retry.',
      {
        cause: err,
      },
    );
  }
  if (isBadSignature(links)) {
    return new UpstreamError(
      'invalid_signature',
      'The identity provider’s response has an invalid signature.',
      {
        cause: err,
      },
    );
  }
  const code = links
    .map((e) => field(e, 'code'))
    .find((c) => typeof c === 'string' && c.startsWith('OAUTH_'));
  if (code === 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED') {
    return new UpstreamError('expired', 'The identity provider’s response has expired. Please retry.', {
      cause: err,
    });
  }
  const claim = links.map((e) => field(field(e, 'cause'), 'claim')).find((c) => typeof c === 'string');
  if (code === 'OAUTH_JWT_CLAIM_COMPARISON_FAILED' && claim === 'aud') {
    return new UpstreamError(
      'wrong_audience',
      'The identity provider’s response was meant for another application.',
      {
        cause: err,
      },
    );
  }
  return new UpstreamError(
    'invalid_response',
    'The identity provider sent a response that could not be verified.',
    {
      cause: err,
    },
  );
}
