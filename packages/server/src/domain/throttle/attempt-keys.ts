import { accountKey, addressKey, type ThrottleKeys } from './throttle.js';

/** Throttle keys of an attempt on a user's account (or, for an unknown email, on the email) from this client address. */
export function attemptKeys(account: string, ip: string): ThrottleKeys & { account: string } {
  return { account: accountKey(account), address: addressKey(ip) };
}

/**
 * Throttle keys of a 2-step guess (TOTP, recovery code, passkey): counters of their own, so the
 * wrong passwords typed before never hold back the right code; only wrong codes slow down codes.
 */
export function twoStepKeys(userId: string, ip: string): ThrottleKeys & { account: string } {
  return { account: accountKey(`2sv:${userId}`), address: addressKey(ip).replace(/^ip:/, 'ip:2sv:') };
}
