import * as client from 'openid-client';
import { UpstreamError } from './types.js';

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
  if (err instanceof client.AuthorizationResponseError) {
    return err.error === 'access_denied'
      ? new UpstreamError('access_denied', 'Sign-in was cancelled at the identity provider.', { cause: err })
      : new UpstreamError('invalid_response', 'The identity provider could not sign you in.', { cause: err });
  }
  if (err instanceof client.ResponseBodyError) {
    const code = /^[a-z_]{1,64}$/.test(err.error) ? err.error : 'unknown_error';
    return new UpstreamError('invalid_response', `The identity provider refused the request (${code}).`, {
      cause: err,
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
