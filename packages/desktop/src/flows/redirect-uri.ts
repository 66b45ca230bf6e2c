import { InvalidOptionsError, NoPendingSignInError } from '../errors.js';

/** How the browser gets back to the app, parsed once from `ClientOptions.redirect`. */
export type RedirectConfig = LoopbackRedirect | SchemeRedirect;
export type LoopbackRedirect = { kind: 'loopback'; path: string };
export type SchemeRedirect = { kind: 'scheme'; uri: string; url: URL };

/**
 * Private-use URI schemes must be reverse domain names (RFC 8252 §7.1); loopback redirects use the IP
 * literal, never `localhost` (RFC 8252 §8.3).
 */
export function parseRedirect(redirect: string): RedirectConfig {
  if (redirect === 'loopback') return { kind: 'loopback', path: '/callback' };
  let url: URL;
  try {
    url = new URL(redirect);
  } catch (cause) {
    throw new InvalidOptionsError(`redirect: "${redirect}" is neither 'loopback' nor a URI`, { cause });
  }
  if (url.protocol === 'http:') {
    if (url.hostname !== '127.0.0.1' && url.hostname !== '[::1]') {
      throw new InvalidOptionsError(
        'redirect: an http redirect must use the loopback IP literal 127.0.0.1 (RFC 8252 §8.3)',
      );
    }
    return { kind: 'loopback', path: url.pathname || '/callback' };
  }
  if (url.protocol === 'https:')
    throw new InvalidOptionsError(
      'redirect: claimed https redirects are not supported; use loopback or a private-use scheme',
    );
  if (!url.protocol.slice(0, -1).includes('.')) {
    throw new InvalidOptionsError(
      `redirect: the scheme "${url.protocol}" must be a reverse domain name such as com.example.app (RFC 8252 §7.1)`,
    );
  }
  return { kind: 'scheme', uri: redirect, url };
}

/** Same scheme, authority and path: the query (code, state, iss) is what varies. */
export function sameRedirect(config: { url: URL }, url: URL): boolean {
  return (
    url.protocol === config.url.protocol &&
    url.host === config.url.host &&
    url.pathname === config.url.pathname
  );
}

/**
 * Parses a URL the OS delivered and checks it is this app's redirect URI. A loopback client (no
 * private-use redirect) refuses every URL.
 */
export function parseDeliveredRedirect(text: string, redirect: undefined): never;
export function parseDeliveredRedirect(text: string, redirect: SchemeRedirect): URL;
export function parseDeliveredRedirect(text: string, redirect: SchemeRedirect | undefined): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch (cause) {
    throw new NoPendingSignInError(`Not a URL: ${text}`, { cause });
  }
  if (!redirect || !sameRedirect(redirect, url)) {
    throw new NoPendingSignInError(
      `The URL does not match this app's redirect URI ${redirect?.uri ?? ''}`.trim(),
    );
  }
  return url;
}
