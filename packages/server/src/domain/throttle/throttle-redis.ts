import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import type { CounterSpec, HitMode, HitResult, ThrottleStore } from './throttle.js';

/*
 * Redis keeps the counters when several server processes serve sign-ins (`LATCHKEY_REDIS_URL`).
 * Each counter is a hash { f: failures, l: lastFailureAt } with a TTL of its window, refreshed on
 * every failure, so Redis forgets idle counters by itself. A decision reads and writes all of an
 * attempt's counters inside one Lua script: scripts run atomically, so two processes cannot both
 * let the same "last free" attempt through. The decay rule is also applied inside the script from
 * the caller's clock (`now`), so Redis's own TTL is only the garbage collector.
 * Not for Redis Cluster: one attempt's keys live in different hash slots.
 */

// KEYS: the n counters, then the exempt marker keys they refer to.
// ARGV: now, mode (0 peek, 1 attempt, 2 record), n, then per counter (7 values):
//       freeFailures, baseDelayMs, maxDelayMs, windowMs, index of its exempt key in KEYS (0 = none),
//       index of its countWhile counter (0 = none), countWhile's `below`.
// Returns { waitMs, 1-based index of the counter imposing it (0 = none) }.
const HIT_SCRIPT = `
local now = tonumber(ARGV[1])
local mode = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local wait, which = 0, 0
local failures = {}
for i = 1, n do
  local o = 3 + (i - 1) * 7
  local free, base, max, window, ex =
    tonumber(ARGV[o + 1]), tonumber(ARGV[o + 2]), tonumber(ARGV[o + 3]), tonumber(ARGV[o + 4]), tonumber(ARGV[o + 5])
  local v = redis.call('HMGET', KEYS[i], 'f', 'l')
  local f, l = tonumber(v[1]) or 0, tonumber(v[2]) or 0
  if now - l >= window then f = 0 end
  failures[i] = f
  local exempt = ex > 0 and redis.call('EXISTS', KEYS[ex]) == 1
  if not exempt and f >= free then
    local delay = base * (2 ^ (f - free))
    if delay > max then delay = max end
    local w = l + delay - now
    if w > wait then wait, which = w, i end
  end
end
if mode == 2 or (mode == 1 and wait <= 0) then
  for i = 1, n do
    local o = 3 + (i - 1) * 7
    local window, cond, below = tonumber(ARGV[o + 4]), tonumber(ARGV[o + 6]), tonumber(ARGV[o + 7])
    if cond == 0 or failures[cond] < below then
      redis.call('HSET', KEYS[i], 'f', failures[i] + 1, 'l', now)
      redis.call('PEXPIRE', KEYS[i], window)
    end
  end
end
return { math.ceil(wait), which }
`;

// KEYS: reset counters, then refund counters, then (optionally) the marker.
// ARGV: number of reset keys, number of refund keys, marker TTL in ms (0 = no marker).
const SETTLE_SCRIPT = `
local nreset, nrefund, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 1, nreset do redis.call('DEL', KEYS[i]) end
for i = nreset + 1, nreset + nrefund do
  local f = tonumber(redis.call('HGET', KEYS[i], 'f'))
  if f ~= nil then
    if f <= 1 then redis.call('DEL', KEYS[i]) else redis.call('HSET', KEYS[i], 'f', f - 1) end
  end
end
if ttl > 0 then redis.call('SET', KEYS[nreset + nrefund + 1], '1', 'PX', ttl) end
return 0
`;

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');
const HIT_SHA = sha1(HIT_SCRIPT);
const SETTLE_SHA = sha1(SETTLE_SCRIPT);

/** Escapes Redis glob metacharacters so that a SCAN pattern matches the literal text. */
const escapeGlob = (text: string) => text.replace(/[*?[\]\\^]/g, (c) => `\\${c}`);

export interface RedisThrottleStoreOptions {
  /** Prepended to every key; lets several deployments (or tests) share one Redis. */
  prefix?: string;
}

/**
 * A {@link ThrottleStore} in Redis. Given a URL, the store owns its connection and `close()` ends
 * it; given a client, the caller keeps ownership.
 */
export function redisThrottleStore(
  redis: string | Redis,
  options: RedisThrottleStoreOptions = {},
): ThrottleStore {
  const ownsClient = typeof redis === 'string';
  const client =
    typeof redis === 'string' ? new Redis(redis, { lazyConnect: false, maxRetriesPerRequest: 2 }) : redis;
  const prefix = options.prefix ?? 'latchkey:throttle:';

  // EVALSHA sends 40 bytes instead of the script; after a Redis restart (or SCRIPT FLUSH) the
  // script is gone and one EVAL puts it back.
  async function run(
    script: string,
    sha: string,
    keys: string[],
    args: (string | number)[],
  ): Promise<unknown> {
    try {
      return await client.evalsha(sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('NOSCRIPT')) {
        return client.eval(script, keys.length, ...keys, ...args);
      }
      throw error;
    }
  }

  return {
    async hit(counters: readonly CounterSpec[], mode: HitMode, now: number): Promise<HitResult> {
      const keys = counters.map((c) => prefix + c.key);
      const args: (string | number)[] = [
        now,
        mode === 'peek' ? 0 : mode === 'attempt' ? 1 : 2,
        counters.length,
      ];
      for (const counter of counters) {
        let exemptIndex = 0;
        if (counter.exemptIfKey !== undefined) {
          keys.push(prefix + counter.exemptIfKey);
          exemptIndex = keys.length;
        }
        args.push(
          counter.freeFailures,
          counter.baseDelayMs,
          counter.maxDelayMs,
          counter.windowMs,
          exemptIndex,
          counter.countWhile ? counter.countWhile.counter + 1 : 0,
          counter.countWhile?.below ?? 0,
        );
      }
      const [waitMs, which] = (await run(HIT_SCRIPT, HIT_SHA, keys, args)) as [number, number];
      return { waitMs: Number(waitMs), limitedBy: Number(which) - 1 };
    },

    async settle({ reset, refund, mark }) {
      const keys = [...reset, ...refund].map((k) => prefix + k);
      if (mark) keys.push(prefix + mark.key);
      await run(SETTLE_SCRIPT, SETTLE_SHA, keys, [reset.length, refund.length, mark?.ttlMs ?? 0]);
    },

    async clear({ keys, patterns }) {
      if (keys.length > 0) await client.del(...keys.map((k) => prefix + k));
      // Administrative and rare: a SCAN over the throttle's keys is fine here.
      for (const { prefix: start, suffix } of patterns) {
        const match = `${escapeGlob(prefix + start)}*${escapeGlob(suffix)}`;
        let cursor = '0';
        do {
          const [next, found] = await client.scan(cursor, 'MATCH', match, 'COUNT', 500);
          cursor = next;
          if (found.length > 0) await client.del(...found);
        } while (cursor !== '0');
      }
    },

    async close() {
      if (ownsClient) await client.quit();
    },
  };
}
