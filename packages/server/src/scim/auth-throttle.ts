import {
  addressOnlyPolicy,
  retryAfterSeconds,
  scopedAddressKey,
  type Throttle,
  type ThrottlePolicy,
} from '../domain/throttle/throttle.js';

const MINUTE = 60_000;

/**
 * What a request that fails SCIM authentication may cost. The SCIM endpoint faces the internet (Entra
 * ID and Okta call it from their clouds), and every refusal is logged and audited: unthrottled, anyone
 * could write audit rows and log lines as fast as they can send requests. A SCIM token is 256 random
 * bits, so this is not about guessing; it bounds the cost of failures.
 *
 * Per address: 20 failed authentications an hour cost nothing (a provisioning service whose token
 * was revoked or rotated fails a few requests before an admin pastes the new one), then 1 s, 2 s,
 * 4 s … up to 15 min between failures. While a delay runs, a request without a valid token gets 429
 * with Retry-After, is logged at debug level, and is audited once a minute per address and process
 * (`throttled`, `limitedBy: address`, with `scope: scim`). A request with a valid token is never
 * held back, whatever its address did: a token is proof, and a provisioning service may share its
 * egress addresses with others.
 */
export const SCIM_AUTH_THROTTLE_POLICY: Partial<ThrottlePolicy> = addressOnlyPolicy(20);

/** The throttle key of SCIM authentication failures from an address: a name space of its own. */
export function scimAuthThrottleKey(ip: string): string {
  return scopedAddressKey('scim', ip);
}

export type ScimAuthVerdict =
  | { held: false }
  | { held: true; retryAfterSeconds: number; report: boolean; key: string };

/**
 * Counts a failed SCIM authentication from `ip` and says whether the address is being held back,
 * and whether this refusal is the one to report (the first per address in `reportEveryMs`, per
 * process; the remembered addresses are bounded).
 */
export function createScimAuthThrottle(
  throttle: Throttle,
  options: { reportEveryMs?: number; now?: () => number } = {},
): (ip: string) => Promise<ScimAuthVerdict> {
  const reportEveryMs = options.reportEveryMs ?? MINUTE;
  const now = options.now ?? Date.now;
  const reported = new Map<string, number>();
  return async (ip) => {
    const key = scimAuthThrottleKey(ip);
    // One atomic step: counts this failure unless a delay is running (then it only refuses).
    const decision = await throttle.attempt({ address: key });
    if (decision.allowed) return { held: false };
    const at = now();
    const last = reported.get(key);
    const report = last === undefined || at - last >= reportEveryMs;
    if (report) {
      if (reported.size >= 10_000) reported.clear();
      reported.set(key, at);
    }
    return {
      held: true,
      retryAfterSeconds: retryAfterSeconds(decision),
      report,
      key,
    };
  };
}
