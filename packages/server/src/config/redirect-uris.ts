/**
 * Redirect URI rules for native (desktop) and web clients. Standalone on purpose: the configuration
 * loader, the admin CLI and the protocol layer all apply the same rules.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8252 OAuth 2.0 for Native Apps
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-3.1.2 Redirection endpoint
 */

import type { Environment } from './types.js';

export type ClientKind = 'native' | 'web';

const LOOPBACK_IP_HOSTS = new Set(['127.0.0.1', '[::1]']);

/** A reverse-DNS scheme such as `com.acme.desktop`: at least two dot-separated labels. */
const REVERSE_DNS_SCHEME = /^[a-z][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)+$/;

function parse(uri: string): URL | undefined {
  try {
    return new URL(uri);
  } catch {
    return undefined;
  }
}

function schemeOf(uri: string): string | undefined {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(uri);
  return match?.[1]?.toLowerCase();
}

/**
 * True for a loopback IP redirect (`http://127.0.0.1[:port]/…` or `http://[::1][:port]/…`), whose
 * port is ignored when a presented redirect URI is compared with the registered one.
 * `localhost` is not a loopback redirect here: RFC 8252 §8.3 says to use the IP literal.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8252#section-7.3
 */
export function isLoopbackRedirect(uri: string): boolean {
  const url = parse(uri);
  return url !== undefined && url.protocol === 'http:' && LOOPBACK_IP_HOSTS.has(url.hostname);
}

/**
 * True for a private-use URI scheme redirect whose scheme is a reverse-DNS name containing a dot,
 * e.g. `com.acme.desktop:/oauth2redirect`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8252#section-7.1
 */
export function isPrivateUseScheme(uri: string): boolean {
  const scheme = schemeOf(uri);
  return scheme !== undefined && REVERSE_DNS_SCHEME.test(scheme) && parse(uri) !== undefined;
}

/**
 * Whether a redirect URI presented in a request matches a registered one: exact string match,
 * except that the port of a loopback IP redirect is ignored, since the app picks a free port at
 * the time of the request.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8252#section-7.3
 */
export function redirectUriMatches(registered: string, presented: string): boolean {
  if (registered === presented) return true;
  if (!isLoopbackRedirect(registered) || !isLoopbackRedirect(presented)) return false;
  return stripPort(registered) === stripPort(presented);
}

function stripPort(uri: string): string {
  return uri.replace(/^(http:\/\/(?:127\.0\.0\.1|\[::1\])):\d+/i, '$1');
}

/**
 * Checks one redirect URI (or post-logout redirect URI) for registration.
 * Returns an error message for the operator, or `undefined` when the URI is acceptable.
 *
 * Native clients may use a private-use reverse-DNS scheme (RFC 8252 §7.1), a loopback IP redirect
 * over http (§7.3) or a claimed https URL (§7.2); `localhost` is refused (§8.3).
 * Web clients must use https; http is accepted only for a loopback host in development.
 * Fragments (RFC 6749 §3.1.2) and wildcards are refused for both.
 */
export function checkRedirectUri(uri: string, kind: ClientKind, env: Environment): string | undefined {
  if (uri.length === 0) return 'must not be empty';
  if (/\s/.test(uri)) return 'must not contain whitespace';
  if (uri.includes('*')) return 'wildcards (*) are not allowed; register each redirect URI exactly';
  if (uri.includes('#')) return 'must not contain a fragment (#) (RFC 6749 §3.1.2)';
  const scheme = schemeOf(uri);
  const url = parse(uri);
  if (scheme === undefined || url === undefined) return 'must be an absolute URI';
  if (url.username !== '' || url.password !== '') return 'must not contain user information (user:password@)';

  if (scheme === 'http' || scheme === 'https') {
    if (url.hostname === '') return 'must have a host';
    if (kind === 'native') {
      if (scheme === 'https') return undefined;
      if (url.hostname === 'localhost' || url.hostname.endsWith('.localhost')) {
        return 'use http://127.0.0.1 (or http://[::1]) instead of localhost for a loopback redirect (RFC 8252 §8.3)';
      }
      if (!LOOPBACK_IP_HOSTS.has(url.hostname)) {
        return 'http is only allowed for the loopback IP 127.0.0.1 or [::1] (RFC 8252 §7.3); use https for a claimed URL';
      }
      return undefined;
    }
    if (scheme === 'https') return undefined;
    if (env === 'production') return 'http redirect URIs are refused in production; use https';
    if (!isLoopbackHost(url.hostname)) {
      return 'web clients must use https (http is allowed only for 127.0.0.1, [::1] or localhost in development)';
    }
    return undefined;
  }

  if (kind === 'web') return 'web clients must use https redirect URIs';
  if (!REVERSE_DNS_SCHEME.test(scheme)) {
    return `the private-use scheme "${scheme}" must be a reverse-DNS name containing a dot, such as com.example.app (RFC 8252 §7.1)`;
  }
  return undefined;
}

/** Loopback host names, including `localhost` (acceptable for issuers and web clients in development). */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_IP_HOSTS.has(hostname) || hostname === 'localhost' || hostname === '::1';
}
