import { randomToken } from '../crypto/ids.js';

/** Looks up the TXT records of a host name; each record is a list of character strings (RFC 1035 §3.3.14). */
export type TxtResolver = (hostname: string) => Promise<string[][]>;

export const VERIFICATION_PREFIX = 'latchkey-verification=';

export function newVerificationToken(): string {
  return randomToken(18);
}

/** The TXT record value an operator publishes on the domain to prove control of it. */
export function verificationRecord(token: string): string {
  return `${VERIFICATION_PREFIX}${token}`;
}

export async function defaultTxtResolver(hostname: string): Promise<string[][]> {
  const { resolveTxt } = await import('node:dns/promises');
  return resolveTxt(hostname);
}

/**
 * True when `domain` publishes `latchkey-verification=<token>`. A long TXT record arrives split
 * into 255-byte strings, which are joined before comparing. "No such record" answers are a plain
 * false; other DNS failures (timeouts, SERVFAIL) are thrown so the operator sees them.
 */
export async function hasVerificationRecord(
  domain: string,
  token: string,
  resolver: TxtResolver = defaultTxtResolver,
): Promise<boolean> {
  let records: string[][];
  try {
    records = await resolver(domain);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ENODATA' || code === 'ENOTFOUND') return false;
    throw error;
  }
  const expected = verificationRecord(token);
  return records.some((chunks) => chunks.join('').trim() === expected);
}
