import { accountKey, addressKey, type ThrottleKeys } from './throttle.js';

/** Throttle keys of an attempt on a user's account (or, for an unknown email, on the email) from this client address. */
export function attemptKeys(account: string, ip: string): ThrottleKeys & { account: string } {
  return { account: accountKey(account), address: addressKey(ip) };
}
