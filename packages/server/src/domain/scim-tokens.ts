import { randomToken, sha256Base64url } from '../crypto/ids.js';

/**
 * SCIM bearer tokens: 256 random bits behind a recognizable prefix (so a leaked one is easy to spot
 * in a log or a secret scanner). Only the SHA-256 is stored: the value is shown once, when created.
 * A plain hash suffices for a value of 256 random bits (no dictionary to guess from).
 */
export const SCIM_TOKEN_PREFIX = 'lk_scim_';

export function newScimToken(): { token: string; hash: string } {
  const token = `${SCIM_TOKEN_PREFIX}${randomToken(32)}`;
  return { token, hash: hashScimToken(token) };
}

export function hashScimToken(token: string): string {
  return sha256Base64url(token);
}
