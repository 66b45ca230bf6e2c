import { hkdfSync } from 'node:crypto';

/** A 32-byte key for one purpose (CSRF, recovery-code pepper…), derived from the operator secret (HKDF-SHA256, RFC 5869). */
export function deriveKey(operatorSecret: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', operatorSecret, 'latchkey', purpose, 32));
}
