import { createHash, randomBytes } from 'node:crypto';

/** Lower-case base32hex: its characters sort in the same order as the values they encode. */
const ALPHABET = '0123456789abcdefghijklmnopqrstuv';

/**
 * A time-ordered, URL-safe identifier of 26 characters: 10 for the millisecond timestamp (50 bits,
 * good until the year 37,000) and 16 for 80 random bits. Ids sort by creation time as plain text in
 * SQLite and PostgreSQL alike (what ULIDs and UUIDv7 offer, without dashes or mixed case). Within one
 * millisecond a process increments the random part instead of drawing a new one (ULID's monotonic
 * mode), so its ids also sort in creation order. Ids are not secrets: use `randomToken` for those.
 */
export function newId(now: number = Date.now()): string {
  const time = Math.max(0, Math.floor(now));
  const random =
    time === last.time ? (last.random + 1n) & RANDOM_MASK : BigInt(`0x${randomBytes(10).toString('hex')}`);
  last = { time, random };
  let prefix = '';
  let t = time;
  for (let i = 0; i < 10; i += 1) {
    prefix = ALPHABET[t % 32] + prefix;
    t = Math.floor(t / 32);
  }
  // BigInt's radix-32 digits are this same alphabet.
  return prefix + random.toString(32).padStart(16, '0');
}

const RANDOM_MASK = (1n << 80n) - 1n;
let last = { time: -1, random: 0n };

/** An unguessable token (`bytes` of randomness, 32 by default = 256 bits), base64url without padding. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** SHA-256 of a UTF-8 string, base64url: how one-time tokens are stored (a leaked table grants nothing). */
export function sha256Base64url(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}
