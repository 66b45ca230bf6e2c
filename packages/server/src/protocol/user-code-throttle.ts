import type { KoaContextWithOIDC } from 'oidc-provider';
import {
  addressOnlyPolicy,
  retryAfterSeconds,
  scopedAddressKey,
  type Throttle,
  type ThrottlePolicy,
} from '../domain/throttle/throttle.js';

/**
 * RFC 8628 §5.1: the user code is short enough to guess, so its entry is rate-limited. Per address:
 * 50 codes an hour cost nothing (one sign-in posts the code twice, Continue and Confirm, so 25
 * device sign-ins from one office address), then 1 s, 2 s, 4 s … up to 15 min between codes.
 */
export const USER_CODE_THROTTLE_POLICY: Partial<ThrottlePolicy> = addressOnlyPolicy(50);

/**
 * The throttle key for user-code entry from an address. Its own name space, so it never shares a
 * counter with the password throttle's per-address counter in the same store.
 */
export function userCodeThrottleKey(ip: string): string {
  return scopedAddressKey('user-code', ip);
}

/**
 * Every POST to the code page is a guess: the code entry, the confirmation and the cancel all look
 * the code up (and an abort with a guessed code would cancel someone else's sign-in). Each counts
 * before the engine looks at the code, in one atomic step (`attempt`), so a burst of parallel
 * guesses gets no more than sequential ones. A right code is never refunded: the attacker can
 * always make a right code of their own (a device authorization of their own), and a refund would
 * let them reset the counter at will.
 */
export function userCodeThrottleMiddleware(
  throttle: Throttle,
  refuse: (ctx: KoaContextWithOIDC, retryAfterSeconds: number) => void,
) {
  return async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => {
    if (ctx.method === 'POST' && ctx.path === '/device') {
      const decision = await throttle.attempt({ address: userCodeThrottleKey(ctx.ip) });
      if (!decision.allowed) {
        const seconds = retryAfterSeconds(decision);
        ctx.status = 429;
        ctx.set('retry-after', String(seconds));
        ctx.set('cache-control', 'no-store');
        refuse(ctx, seconds);
        return;
      }
    }
    await next();
  };
}
