import { isIPv4, isIPv6 } from 'node:net';

/*
 * Attempt throttling for password and 2-step verification: growing delays instead of
 * lockouts.
 *
 * Threat model and the choice made here
 * -------------------------------------
 * 1. One address guessing one account (the common online attack). Counted per (account, address)
 *    pair: 5 free failures, then 1 s, 2 s, 4 s … up to 15 min between attempts. A person who
 *    mistypes a few times never notices; a script gets a handful of guesses per hour.
 * 2. One address spraying many accounts (a few common passwords against every user). Counted per
 *    address across all accounts, with a higher free allowance because offices and mobile carriers
 *    put many people behind one address.
 * 3. Many addresses (a botnet) guessing one account: each pair stays under its limit, so there is a
 *    global per-account counter with a much higher allowance. An address adds to it only its free
 *    failures (while its pair counter is below `accountAddress.freeFailures`): a single address,
 *    however persistent, can never fill it; only many addresses can.
 * 4. The attack on the defence itself: an attacker who fails on purpose to keep the real user out.
 *    A plain per-account counter hands anyone this lockout. Here the attacker's failures only slow
 *    *their own* pair; the global per-account and per-address counters still count failures
 *    but do not hold back an address the user has signed in from before ("known": a marker per
 *    (account, address) written on each success, kept 30 days). So neither a single address nor
 *    a botnet can stop the user from signing in from their usual place; a user on a new address
 *    during a botnet attack waits at most the cap (15 min), which is a slowdown, not a lockout.
 *    Residual risk: an attacker behind the *same* address as the user (same NAT) shares the user's
 *    pair counter; the delay is still bounded by the cap and decays after the window.
 *
 * Race-freedom: `attempt()` decides and counts in one atomic step (a Lua script in Redis), as if
 * the attempt had failed; a success then gives it back. A burst of parallel requests therefore
 * gets exactly as many guesses as sequential ones would. (`check()` followed by `recordFailure()`
 * would let every request of a burst pass the check before any failure is recorded.)
 *
 * Decay: a counter is forgotten `windowMs` after its last failure. While an attacker keeps
 * failing, delays stay at the cap; once they stop, everything clears itself within the window.
 * IPv6 addresses are grouped by /64, the block one subscriber normally holds.
 */

/** How one kind of counter turns failures into delays. */
export interface ThrottleRule {
  /** Failures that cost nothing; the next attempt after that many waits `baseDelayMs`. */
  freeFailures: number;
  /** The first delay; each further failure doubles it. */
  baseDelayMs: number;
  /** The delay never grows beyond this. */
  maxDelayMs: number;
  /** A counter is forgotten this long after its last failure. */
  windowMs: number;
}

export interface ThrottlePolicy {
  /** Per (account, address): what one attacker address can do to one account. */
  accountAddress: ThrottleRule;
  /** Per account across all addresses, except addresses the user signed in from before. */
  account: ThrottleRule;
  /** Per address across all accounts, except for accounts that signed in from it before. */
  address: ThrottleRule;
  /** How long a successful sign-in makes an (account, address) pair "known". */
  knownAddressTtlMs: number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export const DEFAULT_THROTTLE_POLICY: Readonly<ThrottlePolicy> = Object.freeze({
  accountAddress: Object.freeze({
    freeFailures: 5,
    baseDelayMs: 1000,
    maxDelayMs: 15 * MINUTE,
    windowMs: HOUR,
  }),
  account: Object.freeze({ freeFailures: 50, baseDelayMs: 1000, maxDelayMs: 15 * MINUTE, windowMs: HOUR }),
  address: Object.freeze({ freeFailures: 100, baseDelayMs: 1000, maxDelayMs: 15 * MINUTE, windowMs: HOUR }),
  knownAddressTtlMs: 30 * 24 * HOUR,
});

/** One counter as the store sees it: a key and the rule that applies. */
export interface CounterSpec extends ThrottleRule {
  key: string;
  /** While this key exists (see {@link ThrottleStore.settle}'s `mark`), the counter counts but does not hold back. */
  exemptIfKey?: string;
  /** Count a failure here only while the counter at index `counter` (of the same hit) has fewer than `below` failures. */
  countWhile?: { counter: number; below: number };
}

/**
 * - `peek`: only compute the wait.
 * - `attempt`: compute the wait; when it is zero, add one failure to every counter, atomically.
 * - `record`: add one failure to every counter, whatever the wait.
 */
export type HitMode = 'peek' | 'attempt' | 'record';

export interface HitResult {
  /** Milliseconds until the attempt would be allowed; 0 when allowed now. */
  waitMs: number;
  /** Index in the counters of the one imposing the longest wait; -1 when allowed. */
  limitedBy: number;
}

/**
 * Storage of throttle counters. Contract (the shared suite in `throttle.test.ts` checks it for
 * every implementation):
 * - A counter is `{ failures, lastFailureAt }`; it reads as zero once `now - lastFailureAt >= windowMs`.
 * - The wait of a counter with `failures >= freeFailures` is
 *   `lastFailureAt + min(baseDelayMs * 2^(failures - freeFailures), maxDelayMs) - now`, else 0;
 *   exempt counters wait 0. `hit` returns the longest wait.
 * - A failure is added to every counter, except to one whose `countWhile` counter had reached `below` already.
 * - `hit` in `attempt` mode reads and writes all counters in one atomic step.
 * - `now` comes from the caller (one clock for the decision, and testable); keep server clocks in sync.
 */
export interface ThrottleStore {
  hit(counters: readonly CounterSpec[], mode: HitMode, now: number): Promise<HitResult>;
  /** After a success: delete `reset` counters, take one failure back from `refund` counters, set the `mark` key. */
  settle(
    input: { reset: readonly string[]; refund: readonly string[]; mark?: { key: string; ttlMs: number } },
    now: number,
  ): Promise<void>;
  /** Delete the given keys and every key that starts with `prefix` and ends with `suffix`, for each pattern. */
  clear(input: {
    keys: readonly string[];
    patterns: readonly { prefix: string; suffix: string }[];
  }): Promise<void>;
  close(): Promise<void>;
}

/** The wait a counter imposes; shared by the in-memory store and mirrored by the Redis script. */
export function counterWaitMs(
  rule: ThrottleRule,
  failures: number,
  lastFailureAt: number,
  now: number,
): number {
  if (failures < rule.freeFailures) return 0;
  const delay = Math.min(rule.baseDelayMs * 2 ** (failures - rule.freeFailures), rule.maxDelayMs);
  return Math.max(0, lastFailureAt + delay - now);
}

// --- keys ---------------------------------------------------------------------------------------

/** Whom an attempt concerns: `account` from {@link accountKey} (absent before the account is known), `address` from {@link addressKey}. */
export interface ThrottleKeys {
  account?: string;
  address: string;
}

/**
 * `acct:<userId>` for an existing account, `acct:<normalized email>` otherwise. Throttle unknown
 * emails exactly like real accounts, so throttling does not reveal which accounts exist.
 */
export function accountKey(userIdOrEmail: string): string {
  const value = userIdOrEmail.trim();
  return `acct:${value.includes('@') ? value.toLowerCase() : value}`;
}

/**
 * `ip:<address>` for the client address (behind a trusted proxy, the forwarded one). IPv4-mapped
 * IPv6 becomes IPv4; other IPv6 addresses are reduced to their /64, since one subscriber usually
 * controls a whole /64 and could otherwise rotate through 2^64 "addresses".
 */
export function addressKey(address: string): string {
  let value = address.trim().toLowerCase();
  if (value.startsWith('[') && value.endsWith(']')) value = value.slice(1, -1);
  const zone = value.indexOf('%');
  if (zone !== -1) value = value.slice(0, zone);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(value);
  if (mapped && isIPv4(mapped[1]!)) return `ip:${mapped[1]}`;
  if (isIPv4(value)) return `ip:${value}`;
  if (isIPv6(value)) return `ip:${ipv6Prefix64(value)}`;
  return `ip:${value}`;
}

/**
 * A throttle counted by address only (`keys.account` unset, so only `address` applies), for guesses
 * that name no account: `freeFailures` an hour cost nothing, then 1 s, 2 s, 4 s … up to 15 min.
 */
export function addressOnlyPolicy(freeFailures: number): Partial<ThrottlePolicy> {
  return Object.freeze({
    address: Object.freeze({ freeFailures, baseDelayMs: 1000, maxDelayMs: 15 * MINUTE, windowMs: HOUR }),
  });
}

/**
 * `ip:<scope>/<address>`: an address key in a name space of its own, so one store can hold several
 * address-only throttles without their counters meeting the password throttle's per-address one.
 */
export function scopedAddressKey(scope: string, address: string): string {
  return `ip:${scope}/${addressKey(address).slice('ip:'.length)}`;
}

/** A refusal's wait in whole seconds for Retry-After (at least 1). */
export function retryAfterSeconds(decision: { retryAfterMs: number }): number {
  return Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
}

function ipv6Prefix64(address: string): string {
  const [head = '', tail] = address.split('::') as [string, string | undefined];
  const headGroups = head ? head.split(':') : [];
  let tailGroups = tail ? tail.split(':') : [];
  // An embedded IPv4 tail (::ffff:1.2.3.4 forms other than the plain mapped one) is two groups.
  if (tailGroups.length > 0 && tailGroups.at(-1)!.includes('.'))
    tailGroups = [...tailGroups.slice(0, -1), '0', '0'];
  const missing = tail === undefined ? 0 : 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array<string>(missing).fill('0'), ...tailGroups];
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g || '0', 16).toString(16))
    .join(':')}::/64`;
}

function assertKey(key: string, kind: 'acct' | 'ip'): void {
  if (!key.startsWith(`${kind}:`) || key.length === kind.length + 1) {
    throw new TypeError(`Throttle key must look like "${kind}:<value>", got ${JSON.stringify(key)}`);
  }
}

// Store keys: the caller's keys are URI-encoded so that `|` and `:` inside an email cannot make
// two different (account, address) pairs share a key, and so that patterns in `clear` are exact.
const enc = encodeURIComponent;
const singleKey = (key: string) => `c:${enc(key)}`;
const pairKey = (account: string, address: string) => `p:${enc(account)}|${enc(address)}`;
const knownKey = (account: string, address: string) => `k:${enc(account)}|${enc(address)}`;

// --- the throttle -------------------------------------------------------------------------------

export type ThrottleLimit = 'account-address' | 'account' | 'address';

export type ThrottleDecision =
  | { allowed: true }
  | { allowed: false; retryAfterMs: number; limitedBy: ThrottleLimit };

export type ThrottleEvent =
  | { type: 'throttled'; keys: ThrottleKeys; retryAfterMs: number; limitedBy: ThrottleLimit }
  | { type: 'cleared'; key: string };

export interface ThrottleOptions {
  /** Called for each refused attempt and each admin clear, e.g. to write an audit event. Errors are ignored. */
  onEvent?: (event: ThrottleEvent) => void;
  /** Epoch milliseconds; injectable for tests. */
  now?: () => number;
}

export interface Throttle {
  /** Whether an attempt would be allowed now, without counting anything (e.g. to say "try again in …"). */
  check(keys: ThrottleKeys): Promise<ThrottleDecision>;
  /**
   * Call right before verifying a password or code. Refuses while a delay runs; otherwise counts
   * this attempt as a failure up front, in the same atomic step. On success call
   * {@link recordSuccess}; on failure there is nothing more to do.
   */
  attempt(keys: ThrottleKeys): Promise<ThrottleDecision>;
  /** Counts a failure that did not pass through {@link attempt} (do not call it after `attempt`). */
  recordFailure(keys: ThrottleKeys): Promise<void>;
  /**
   * After a successful verification that went through {@link attempt}: clears the
   * (account, address) counter, gives the attempt back to the per-account and per-address
   * counters, and remembers the address as known for the account. The per-account counter is not
   * cleared: it also holds other addresses' failures, and a user signing in must not hand a
   * botnet a fresh allowance.
   */
  recordSuccess(keys: ThrottleKeys & { account: string }): Promise<void>;
  /**
   * For administrators: `acct:…` clears the account's own counter and all its (account, address)
   * counters; `ip:…` clears the address counter and all its (account, address) counters.
   */
  clear(key: string): Promise<void>;
  readonly policy: Readonly<ThrottlePolicy>;
}

function validateRule(name: string, rule: ThrottleRule): Readonly<ThrottleRule> {
  const { freeFailures, baseDelayMs, maxDelayMs, windowMs } = rule;
  for (const [field, value] of Object.entries({ freeFailures, baseDelayMs, maxDelayMs, windowMs })) {
    if (!Number.isSafeInteger(value) || value < 0)
      throw new RangeError(`throttle ${name}.${field} must be an integer ≥ 0`);
  }
  if (windowMs < maxDelayMs) throw new RangeError(`throttle ${name}.windowMs must be at least maxDelayMs`);
  return Object.freeze({ freeFailures, baseDelayMs, maxDelayMs, windowMs });
}

export function createThrottle(
  store: ThrottleStore,
  policy: Partial<ThrottlePolicy> = {},
  options: ThrottleOptions = {},
): Throttle {
  const merged = { ...DEFAULT_THROTTLE_POLICY, ...policy };
  const frozen: Readonly<ThrottlePolicy> = Object.freeze({
    accountAddress: validateRule('accountAddress', merged.accountAddress),
    account: validateRule('account', merged.account),
    address: validateRule('address', merged.address),
    knownAddressTtlMs: merged.knownAddressTtlMs,
  });
  const now = options.now ?? Date.now;
  const emit = (event: ThrottleEvent) => {
    try {
      options.onEvent?.(event);
    } catch {
      // An audit hook must not turn a throttling decision into an error page.
    }
  };

  function counters(keys: ThrottleKeys): { specs: CounterSpec[]; limits: ThrottleLimit[] } {
    assertKey(keys.address, 'ip');
    if (keys.account === undefined) {
      return { specs: [{ key: singleKey(keys.address), ...frozen.address }], limits: ['address'] };
    }
    assertKey(keys.account, 'acct');
    const known = knownKey(keys.account, keys.address);
    return {
      specs: [
        { key: pairKey(keys.account, keys.address), ...frozen.accountAddress },
        {
          key: singleKey(keys.account),
          ...frozen.account,
          exemptIfKey: known,
          countWhile: { counter: 0, below: frozen.accountAddress.freeFailures },
        },
        { key: singleKey(keys.address), ...frozen.address, exemptIfKey: known },
      ],
      limits: ['account-address', 'account', 'address'],
    };
  }

  async function decide(keys: ThrottleKeys, mode: 'peek' | 'attempt'): Promise<ThrottleDecision> {
    const { specs, limits } = counters(keys);
    const { waitMs, limitedBy } = await store.hit(specs, mode, now());
    if (waitMs <= 0) return { allowed: true };
    const decision = {
      allowed: false as const,
      retryAfterMs: waitMs,
      limitedBy: limits[limitedBy] ?? 'account-address',
    };
    if (mode === 'attempt')
      emit({ type: 'throttled', keys, retryAfterMs: waitMs, limitedBy: decision.limitedBy });
    return decision;
  }

  return Object.freeze({
    policy: frozen,
    check: (keys: ThrottleKeys) => decide(keys, 'peek'),
    attempt: (keys: ThrottleKeys) => decide(keys, 'attempt'),

    async recordFailure(keys: ThrottleKeys) {
      await store.hit(counters(keys).specs, 'record', now());
    },

    async recordSuccess(keys: ThrottleKeys & { account: string }) {
      assertKey(keys.account, 'acct');
      assertKey(keys.address, 'ip');
      await store.settle(
        {
          reset: [pairKey(keys.account, keys.address)],
          refund: [singleKey(keys.account), singleKey(keys.address)],
          mark: { key: knownKey(keys.account, keys.address), ttlMs: frozen.knownAddressTtlMs },
        },
        now(),
      );
    },

    async clear(key: string) {
      if (key.startsWith('acct:')) {
        assertKey(key, 'acct');
        await store.clear({ keys: [singleKey(key)], patterns: [{ prefix: `p:${enc(key)}|`, suffix: '' }] });
      } else {
        assertKey(key, 'ip');
        await store.clear({ keys: [singleKey(key)], patterns: [{ prefix: 'p:', suffix: `|${enc(key)}` }] });
      }
      emit({ type: 'cleared', key });
    },
  });
}

// --- in-memory store ----------------------------------------------------------------------------

interface MemoryEntry {
  failures: number;
  lastFailureAt: number;
  expiresAt: number;
}

export interface MemoryThrottleStoreOptions {
  /** Counters kept at most (and, separately, known-address markers); the least recently written go first. */
  maxEntries?: number;
}

/** A Map with expiry that keeps at most `max` entries, dropping the least recently written. */
function boundedExpiringMap<V extends { expiresAt: number }>(max: number) {
  // Map iteration order is insertion order; re-inserting on write keeps it least-recently-written first.
  const map = new Map<string, V>();
  return {
    map,
    read(key: string, now: number): V | undefined {
      const value = map.get(key);
      if (value && value.expiresAt <= now) {
        map.delete(key);
        return undefined;
      }
      return value;
    },
    write(key: string, value: V) {
      map.delete(key);
      map.set(key, value);
      while (map.size > max) map.delete(map.keys().next().value as string);
    },
  };
}

/**
 * Counters in this process's memory: the default for a single server process. Bounded: beyond
 * `maxEntries` the least recently written counters are dropped, so an attacker rotating through
 * that many addresses within a window costs bounded memory and only loses their own oldest
 * counters. Known-address markers live in a separate map that only successful sign-ins write,
 * so that churn cannot push them out. Use {@link redisThrottleStore} when several processes
 * serve sign-ins.
 */
export function memoryThrottleStore(options: MemoryThrottleStoreOptions = {}): ThrottleStore {
  const maxEntries = options.maxEntries ?? 100_000;
  const counters = boundedExpiringMap<MemoryEntry>(maxEntries);
  const markers = boundedExpiringMap<{ expiresAt: number }>(maxEntries);

  return {
    async hit(specs, mode, now) {
      let waitMs = 0;
      let limitedBy = -1;
      const current = specs.map((spec, index) => {
        const entry = counters.read(spec.key, now);
        const failures = entry && now - entry.lastFailureAt < spec.windowMs ? entry.failures : 0;
        const exempt = spec.exemptIfKey !== undefined && markers.read(spec.exemptIfKey, now) !== undefined;
        const wait = exempt ? 0 : counterWaitMs(spec, failures, entry?.lastFailureAt ?? 0, now);
        if (wait > waitMs) {
          waitMs = wait;
          limitedBy = index;
        }
        return failures;
      });
      if (mode === 'record' || (mode === 'attempt' && waitMs === 0)) {
        specs.forEach((spec, index) => {
          if (spec.countWhile && current[spec.countWhile.counter]! >= spec.countWhile.below) return;
          counters.write(spec.key, {
            failures: current[index]! + 1,
            lastFailureAt: now,
            expiresAt: now + spec.windowMs,
          });
        });
      }
      return { waitMs, limitedBy };
    },

    async settle({ reset, refund, mark }, now) {
      for (const key of reset) counters.map.delete(key);
      for (const key of refund) {
        const entry = counters.map.get(key);
        if (!entry) continue;
        if (entry.failures <= 1) counters.map.delete(key);
        else entry.failures -= 1;
      }
      if (mark) markers.write(mark.key, { expiresAt: now + mark.ttlMs });
    },

    async clear({ keys, patterns }) {
      for (const key of keys) counters.map.delete(key);
      for (const key of [...counters.map.keys()]) {
        if (patterns.some((p) => key.startsWith(p.prefix) && key.endsWith(p.suffix)))
          counters.map.delete(key);
      }
    },

    async close() {
      counters.map.clear();
      markers.map.clear();
    },
  };
}
