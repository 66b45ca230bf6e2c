import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Headers for every response a browser may render. `form-action` is deliberately absent: Chromium
 * applies it to the redirects that follow a form post, and the handoff form must end at the app's
 * private-use scheme or loopback address.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

export function securityHeaders(https: boolean): Record<string, string> {
  const headers: Record<string, string> = {
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
    'permissions-policy': 'camera=(), microphone=(), geolocation=()',
  };
  if (https) headers['strict-transport-security'] = 'max-age=31536000; includeSubDomains';
  return headers;
}

/** Applies the headers to a raw response (the engine's responses bypass Fastify's hooks). */
export function applySecurityHeaders(res: ServerResponse<IncomingMessage>, https: boolean): void {
  for (const [name, value] of Object.entries(securityHeaders(https))) {
    if (!res.hasHeader(name)) res.setHeader(name, value);
  }
}
