import type { SecretBox } from './secret-box.js';

/**
 * A short-lived value kept by the browser (a hidden field) instead of the server: encrypted and
 * bound to `purpose` (e.g. the user id), so it cannot be read, altered or moved to another account.
 */
export function seal(box: SecretBox, purpose: string, value: unknown, ttlMs: number): string {
  return box.encrypt(JSON.stringify({ v: value, exp: Date.now() + ttlMs }), purpose);
}

/** The sealed value, or undefined when it is missing, expired, tampered with or sealed for another purpose. */
export function unseal<T>(box: SecretBox, purpose: string, sealed: unknown): T | undefined {
  if (typeof sealed !== 'string' || !sealed) return undefined;
  try {
    const { v, exp } = JSON.parse(box.decrypt(sealed, purpose)) as { v: T; exp: number };
    return exp > Date.now() ? v : undefined;
  } catch {
    return undefined;
  }
}
