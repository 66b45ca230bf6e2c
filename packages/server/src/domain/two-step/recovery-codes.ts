import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Crockford's Base32 alphabet in lower case: digits and letters without i, l, o and u, so that
 * nothing on a printed sheet can be read two ways (1/l/i, 0/o). 32 symbols = 5 bits each.
 * @see https://www.crockford.com/base32.html
 */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
/**
 * Twelve symbols = 60 bits per code, shown as `xxxx-xxxx-xxxx`. Online guessing is hopeless either
 * way (throttled, ten codes per account); the margin above 50 bits is for the offline case
 * discussed at {@link hashRecoveryCode}.
 */
const CODE_SYMBOLS = 12;
const GROUP = 4;

export const DEFAULT_RECOVERY_CODE_COUNT = 10;

/** `count` distinct fresh codes, formatted for display (`7k3m-q9ax-2fhd`). Show them once; store only their hashes. */
export function generateRecoveryCodes(count: number = DEFAULT_RECOVERY_CODE_COUNT): string[] {
  if (!Number.isSafeInteger(count) || count < 1 || count > 100) {
    throw new RangeError('Recovery code count must be an integer from 1 to 100');
  }
  const codes = new Set<string>();
  while (codes.size < count) {
    // 256 is a multiple of 32, so `byte & 31` picks every symbol with equal probability.
    const bytes = randomBytes(CODE_SYMBOLS);
    let code = '';
    for (const byte of bytes) code += ALPHABET[byte & 31];
    codes.add(code);
  }
  return [...codes].map(formatRecoveryCode);
}

function formatRecoveryCode(normalized: string): string {
  const groups: string[] = [];
  for (let i = 0; i < normalized.length; i += GROUP) groups.push(normalized.slice(i, i + GROUP));
  return groups.join('-');
}

/**
 * The canonical form of a typed recovery code: lower case, without spaces, dashes or other
 * separators, with the look-alikes Crockford defines mapped back (o → 0, i and l → 1). Returns
 * `null` when the input cannot be a recovery code (wrong length or a symbol outside the alphabet),
 * which lets a page that accepts "a code" tell a recovery code from a TOTP code.
 */
export function normalizeRecoveryCode(input: string): string | null {
  const code = input
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\s\-‐‑‒–—_.]/g, '')
    .replace(/o/g, '0')
    .replace(/[il]/g, '1');
  if (code.length !== CODE_SYMBOLS) return null;
  for (const char of code) if (!ALPHABET.includes(char)) return null;
  return code;
}

/**
 * The value to store for a recovery code: `sha256:<base64url>` of the normalized code, or
 * `hmac-sha256:<base64url>` when a key (pepper) from the operator's secret is given.
 *
 * Why a fast hash is enough, unlike for passwords: a password is chosen by a person and lives in a
 * small, guessable space, so each guess must be made expensive (Argon2). These codes are 60 bits of
 * uniform randomness from our generator: an attacker holding the database must search 2^59 hashes
 * on average for *one* code of *one* user — about two years for a fast GPU at 10^10 SHA-256 per
 * second — and a code only ever skips the second step, it is not a password. A slow hash would
 * add nothing worth its cost, and a fast deterministic hash lets the caller find the matching row
 * by equality. With a key the stored values are worthless without the operator's secret as well.
 * No salt is needed: codes never repeat across users (60 random bits), so no two rows share a hash
 * and precomputed tables cannot cover the space.
 *
 * @throws TypeError when `code` is not a well-formed recovery code.
 */
export function hashRecoveryCode(code: string, key?: Uint8Array): string {
  const normalized = normalizeRecoveryCode(code);
  if (normalized === null) throw new TypeError('Not a recovery code');
  if (key) return `hmac-sha256:${createHmac('sha256', key).update(normalized).digest('base64url')}`;
  return `sha256:${createHash('sha256').update(normalized).digest('base64url')}`;
}

/**
 * The index in `storedHashes` (unused codes of one user) that `input` matches, or -1. Compares
 * every entry in constant time, so the response time does not depend on which one matched.
 */
export function matchRecoveryCode(input: string, storedHashes: readonly string[], key?: Uint8Array): number {
  const normalized = normalizeRecoveryCode(input);
  if (normalized === null) return -1;
  const candidate = Buffer.from(hashRecoveryCode(normalized, key));
  let found = -1;
  storedHashes.forEach((stored, index) => {
    const bytes = Buffer.from(stored);
    if (bytes.length === candidate.length && timingSafeEqual(bytes, candidate) && found === -1) found = index;
  });
  return found;
}
