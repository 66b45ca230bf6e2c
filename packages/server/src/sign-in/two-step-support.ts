import type { SecretBox } from '../crypto/secret-box.js';
import { accountKey, addressKey, type ThrottleKeys } from '../domain/throttle/throttle.js';
import { messages } from '../pages/messages.js';

/** WebAuthn's relying party: the issuer's host name (no port) and its origin. */
export function relyingParty(issuer: string): { rpId: string; origin: string } {
  const url = new URL(issuer);
  return { rpId: url.hostname, origin: url.origin };
}

/**
 * A short-lived value kept by the browser (a hidden field) instead of the server: encrypted and
 * bound to `purpose` (e.g. the user id), so it cannot be read, altered or moved to another account.
 */
export function seal(box: SecretBox, purpose: string, value: unknown, ttlMs: number): string {
  return box.encrypt(JSON.stringify({ v: value, exp: Date.now() + ttlMs }), purpose);
}

export function unseal<T>(box: SecretBox, purpose: string, sealed: unknown): T | undefined {
  if (typeof sealed !== 'string' || !sealed) return undefined;
  try {
    const { v, exp } = JSON.parse(box.decrypt(sealed, purpose)) as { v: T; exp: number };
    return exp > Date.now() ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Throttle keys of an attempt on a user's account from this client address. */
export function attemptKeys(userId: string, ip: string): ThrottleKeys & { account: string } {
  return { account: accountKey(userId), address: addressKey(ip) };
}

export function throttledText(retryAfterMs: number): string {
  return messages.throttled.replace('{seconds}', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
}

/** A `data:` URL of a text file listing the codes, for the download link (no route keeps them). */
export function recoveryCodesDownload(email: string, codes: readonly string[]): string {
  const text = `${messages.recoveryCodesFileHeader.replace('{email}', email)}\n\n${codes.join('\n')}\n`;
  return `data:text/plain;charset=utf-8,${encodeURIComponent(text)}`;
}

export type SecondFactorMethod = 'totp' | 'passkey' | 'recovery';

export interface UserMethods {
  totp: boolean;
  passkeys: number;
  recoveryCodes: number;
}

export function availableMethods(methods: UserMethods): SecondFactorMethod[] {
  const out: SecondFactorMethod[] = [];
  if (methods.totp) out.push('totp');
  if (methods.passkeys > 0) out.push('passkey');
  if (methods.recoveryCodes > 0) out.push('recovery');
  return out;
}

/**
 * The method offered first: the one used most recently (TOTP or passkey, from the credentials'
 * `last_used_at`), else a passkey, else TOTP. Recovery codes are never the default: they are for
 * when the others are lost.
 */
export function preferredMethod(
  methods: UserMethods,
  lastUsed: { totp: number | null; passkey: number | null },
): SecondFactorMethod | undefined {
  const available = availableMethods(methods);
  if (available.includes('totp') && available.includes('passkey')) {
    if ((lastUsed.totp ?? -1) > (lastUsed.passkey ?? -1)) return 'totp';
    return 'passkey';
  }
  return available[0];
}

export const METHOD_LABEL: Record<SecondFactorMethod, string> = {
  totp: messages.methodTotp,
  passkey: messages.methodPasskey,
  recovery: messages.methodRecovery,
};
