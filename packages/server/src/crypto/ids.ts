import { createHash, randomBytes } from 'node:crypto';

/**
 * Time-ordered, URL-safe identifiers (48-bit millisecond timestamp + 80 random bits, base32hex-like
 * so they sort by creation time as text in both SQLite and PostgreSQL).
 */
const ALPHABET = '0123456789abcdefghijklmnopqrstuv';

export function newId(now: number = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i += 1) {
    time = ALPHABET[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const bytes = randomBytes(10);
  let rand = '';
  for (const byte of bytes) rand += ALPHABET[byte % 32];
  return time + rand;
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export function sha256Base64url(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}
