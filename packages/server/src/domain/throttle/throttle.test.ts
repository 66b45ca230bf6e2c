import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  accountKey,
  addressKey,
  createThrottle,
  memoryThrottleStore,
  type ThrottleEvent,
  type ThrottlePolicy,
  type ThrottleStore,
} from './throttle.js';
import { redisThrottleStore } from './throttle-redis.js';

const REDIS_URL = process.env.LATCHKEY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

// Small numbers keep the arithmetic readable: 3 free per pair, 6 per address, 10 per account.
const policy: ThrottlePolicy = {
  accountAddress: { freeFailures: 3, baseDelayMs: 1000, maxDelayMs: 8000, windowMs: 60_000 },
  account: { freeFailures: 10, baseDelayMs: 1000, maxDelayMs: 8000, windowMs: 60_000 },
  address: { freeFailures: 6, baseDelayMs: 1000, maxDelayMs: 8000, windowMs: 60_000 },
  knownAddressTtlMs: 3_600_000,
};

function clock(start = 1_800_000_000_000) {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

const alice = accountKey('alice@example.test');
const home = addressKey('203.0.113.10');
const attacker = addressKey('198.51.100.66');

interface Backend {
  name: string;
  store: () => ThrottleStore;
  /** A second store on the same data, standing in for another server process (if the backend has one). */
  peer?: () => ThrottleStore;
}

let redisPrefix = '';
const redisClients: Redis[] = [];
const redisStores: ThrottleStore[] = [];

function newRedisStore(): ThrottleStore {
  const client = new Redis(REDIS_URL);
  redisClients.push(client);
  const store = redisThrottleStore(client, { prefix: redisPrefix });
  redisStores.push(store);
  return store;
}

beforeAll(() => {
  redisPrefix = `latchkey-test:${randomBytes(6).toString('hex')}:`;
});

afterAll(async () => {
  const cleaner = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await cleaner.scan(cursor, 'MATCH', `${redisPrefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await cleaner.del(...keys);
  } while (cursor !== '0');
  await cleaner.quit();
  await Promise.all(redisClients.map((c) => c.quit()));
});

const backends: Backend[] = [
  { name: 'memory', store: () => memoryThrottleStore() },
  { name: 'redis', store: newRedisStore, peer: newRedisStore },
];

describe.each(backends)('throttle ($name store)', (backend) => {
  // Each test uses fresh account names so that tests on the shared Redis do not interfere.
  let n = 0;
  const fresh = () => {
    n += 1;
    const tag = `${backend.name}-${n}-${randomBytes(3).toString('hex')}`;
    return {
      user: accountKey(`user-${tag}@example.test`),
      other: accountKey(`other-${tag}@example.test`),
      ip: addressKey(`10.${n % 250}.${(n * 7) % 250}.${(n * 13) % 250}`),
      ip2: addressKey(`172.16.${n % 250}.${(n * 3) % 250}`),
      tag,
    };
  };

  it('lets the first failures through, then doubles the delay up to the cap', async () => {
    const t = clock();
    const throttle = createThrottle(backend.store(), policy, { now: t.now });
    const { user, ip } = fresh();
    const keys = { account: user, address: ip };
    for (let i = 0; i < 3; i++) expect(await throttle.attempt(keys)).toEqual({ allowed: true });
    const expected = [1000, 2000, 4000, 8000, 8000];
    for (const delay of expected) {
      expect(await throttle.attempt(keys)).toEqual({
        allowed: false,
        retryAfterMs: delay,
        limitedBy: 'account-address',
      });
      t.advance(delay - 1);
      expect(await throttle.attempt(keys)).toMatchObject({ allowed: false, retryAfterMs: 1 });
      t.advance(1);
      expect(await throttle.attempt(keys)).toEqual({ allowed: true });
    }
  });

  it('check() answers without counting', async () => {
    const t = clock();
    const throttle = createThrottle(backend.store(), policy, { now: t.now });
    const { user, ip } = fresh();
    const keys = { account: user, address: ip };
    for (let i = 0; i < 10; i++) expect(await throttle.check(keys)).toEqual({ allowed: true });
    for (let i = 0; i < 3; i++) await throttle.attempt(keys);
    expect(await throttle.check(keys)).toMatchObject({ allowed: false, retryAfterMs: 1000 });
    expect(await throttle.check(keys)).toMatchObject({ allowed: false, retryAfterMs: 1000 });
  });

  it('recordFailure() counts a failure', async () => {
    const t = clock();
    const throttle = createThrottle(backend.store(), policy, { now: t.now });
    const { user, ip } = fresh();
    const keys = { account: user, address: ip };
    for (let i = 0; i < 3; i++) await throttle.recordFailure(keys);
    expect(await throttle.check(keys)).toMatchObject({ allowed: false, retryAfterMs: 1000 });
  });

  it('forgets failures a window after the last one', async () => {
    const t = clock();
    const throttle = createThrottle(backend.store(), policy, { now: t.now });
    const { user, ip } = fresh();
    const keys = { account: user, address: ip };
    for (let i = 0; i < 3; i++) await throttle.attempt(keys);
    t.advance(30_000);
    expect(await throttle.attempt(keys)).toEqual({ allowed: true }); // failure 4; the window restarts
    t.advance(59_999);
    // Still remembered: failure 5 passes (its 2 s delay is long over), the next waits 4 s.
    expect(await throttle.attempt(keys)).toEqual({ allowed: true });
    expect(await throttle.attempt(keys)).toMatchObject({ allowed: false, retryAfterMs: 4000 });
    t.advance(60_000);
    // Fully decayed: three free attempts again.
    for (let i = 0; i < 3; i++) expect(await throttle.attempt(keys)).toEqual({ allowed: true });
    expect(await throttle.attempt(keys)).toMatchObject({ allowed: false, retryAfterMs: 1000 });
  });

  it('a success clears the account counter for that address but not the address counter', async () => {
    const t = clock();
    const throttle = createThrottle(backend.store(), policy, { now: t.now });
    const { user, other, ip } = fresh();
    const keys = { account: user, address: ip };
    for (let i = 0; i < 2; i++) await throttle.attempt(keys);
    await throttle.attempt(keys); // the third attempt is the right password
    await throttle.recordSuccess(keys);
    for (let i = 0; i < 3; i++) expect(await throttle.attempt(keys)).toEqual({ allowed: true });
    // The address counter kept the 2 failures (the successful attempt was given back), plus these 3.
    // 6 free per address: one more failure, on another account, reaches it.
    const otherKeys = { account: other, address: ip };
    expect(await throttle.attempt(otherKeys)).toEqual({ allowed: true });
    expect(await throttle.attempt(otherKeys)).toMatchObject({ allowed: false, limitedBy: 'address' });
  });

  it('an administrator can clear an account or an address', async () => {
    const t = clock();
    const events: ThrottleEvent[] = [];
    const roomyAddress = { ...policy, address: { ...policy.address, freeFailures: 20 } };
    const throttle = createThrottle(backend.store(), roomyAddress, {
      now: t.now,
      onEvent: (e) => events.push(e),
    });
    const { user, other, ip, ip2 } = fresh();
    for (let i = 0; i < 3; i++) await throttle.attempt({ account: user, address: ip });
    for (let i = 0; i < 3; i++) await throttle.attempt({ account: user, address: ip2 });
    for (let i = 0; i < 3; i++) await throttle.attempt({ account: other, address: ip });
    expect(await throttle.attempt({ account: user, address: ip })).toMatchObject({ allowed: false });
    await throttle.clear(user);
    expect(await throttle.check({ account: user, address: ip })).toEqual({ allowed: true });
    expect(await throttle.check({ account: user, address: ip2 })).toEqual({ allowed: true });
    expect(await throttle.check({ account: other, address: ip })).toMatchObject({ allowed: false });
    await throttle.clear(ip);
    expect(await throttle.check({ account: other, address: ip })).toEqual({ allowed: true });
    expect(events.filter((e) => e.type === 'cleared')).toEqual([
      { type: 'cleared', key: user },
      { type: 'cleared', key: ip },
    ]);
    expect(events.filter((e) => e.type === 'throttled')).toHaveLength(1);
  });

  it('reports refused attempts to the event hook', async () => {
    const t = clock();
    const events: ThrottleEvent[] = [];
    const throttle = createThrottle(backend.store(), policy, {
      now: t.now,
      onEvent: (e) => {
        events.push(e);
        throw new Error('a broken hook must not break the decision');
      },
    });
    const { user, ip } = fresh();
    const keys = { account: user, address: ip };
    for (let i = 0; i < 3; i++) await throttle.attempt(keys);
    await throttle.check(keys);
    expect(events).toEqual([]);
    expect(await throttle.attempt(keys)).toMatchObject({ allowed: false });
    expect(events).toEqual([{ type: 'throttled', keys, retryAfterMs: 1000, limitedBy: 'account-address' }]);
  });

  it('one attacking address cannot lock the user out', async () => {
    const t = clock();
    const throttle = createThrottle(backend.store(), policy, { now: t.now });
    const { user, ip: userHome, ip2: attackerIp } = fresh();
    // The user signed in from home once.
    await throttle.attempt({ account: user, address: userHome });
    await throttle.recordSuccess({ account: user, address: userHome });
    // The attacker fails as often as the throttle lets them for a long time.
    let refused = 0;
    for (let i = 0; i < 200; i++) {
      const decision = await throttle.attempt({ account: user, address: attackerIp });
      if (!decision.allowed) refused += 1;
      t.advance(500);
    }
    expect(refused).toBeGreaterThan(150);
    // However long it goes on, one address adds only its free failures to the account-wide counter.
    expect(await throttle.check({ account: user, address: attackerIp })).toMatchObject({ allowed: false });
    // The user, at home and from a new address (a café), is not slowed at all.
    expect(await throttle.attempt({ account: user, address: userHome })).toEqual({ allowed: true });
    await throttle.recordSuccess({ account: user, address: userHome });
    const cafe = addressKey(`192.0.2.${(Number.parseInt(userHome.split('.').at(-1)!, 10) + 1) % 250}`);
    expect(await throttle.attempt({ account: user, address: cafe })).toEqual({ allowed: true });
  });

  it('many attacking addresses slow new addresses for the account, never the known one', async () => {
    const t = clock();
    const throttle = createThrottle(backend.store(), policy, { now: t.now });
    const { user, ip: userHome, tag } = fresh();
    await throttle.attempt({ account: user, address: userHome });
    await throttle.recordSuccess({ account: user, address: userHome });
    // A botnet: 20 addresses, 3 free failures each = 60 failures, far beyond the account's 10.
    for (let bot = 0; bot < 20; bot++) {
      const address = addressKey(`2001:db8:${bot.toString(16)}:${tag.length}::1`);
      for (let i = 0; i < 3; i++) await throttle.attempt({ account: user, address });
    }
    const newcomer = { account: user, address: addressKey('192.0.2.200') };
    const decision = await throttle.attempt(newcomer);
    expect(decision).toMatchObject({ allowed: false, limitedBy: 'account' });
    // A delay bounded by the cap, not a lockout.
    expect(decision.allowed === false && decision.retryAfterMs).toBeLessThanOrEqual(
      policy.account.maxDelayMs,
    );
    // The user's own address is exempt from the account-wide counter.
    expect(await throttle.attempt({ account: user, address: userHome })).toEqual({ allowed: true });
  });

  it('one address spraying many accounts is slowed, except for accounts known at that address', async () => {
    const t = clock();
    const throttle = createThrottle(backend.store(), policy, { now: t.now });
    const { ip: office, tag } = fresh();
    const colleague = accountKey(`colleague-${tag}@example.test`);
    await throttle.attempt({ account: colleague, address: office });
    await throttle.recordSuccess({ account: colleague, address: office });
    for (let i = 0; i < 6; i++) {
      const victim = accountKey(`victim-${i}-${tag}@example.test`);
      expect(await throttle.attempt({ account: victim, address: office })).toEqual({ allowed: true });
    }
    const nextVictim = { account: accountKey(`victim-x-${tag}@example.test`), address: office };
    expect(await throttle.attempt(nextVictim)).toMatchObject({ allowed: false, limitedBy: 'address' });
    // Before the account is known (e.g. the email step), only the address counts.
    expect(await throttle.check({ address: office })).toMatchObject({ allowed: false, limitedBy: 'address' });
    // The colleague who works from that office is not held back by the stranger's spraying.
    expect(await throttle.attempt({ account: colleague, address: office })).toEqual({ allowed: true });
  });

  it('parallel attempts get no more guesses than sequential ones', async () => {
    const t = clock();
    const throttle = createThrottle(backend.store(), policy, { now: t.now });
    const { user, ip } = fresh();
    const keys = { account: user, address: ip };
    const decisions = await Promise.all(Array.from({ length: 25 }, () => throttle.attempt(keys)));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(3);
  });

  it('refuses malformed keys', async () => {
    const throttle = createThrottle(backend.store(), policy);
    await expect(throttle.check({ account: 'alice', address: home })).rejects.toThrow(TypeError);
    await expect(throttle.check({ account: alice, address: '1.2.3.4' })).rejects.toThrow(TypeError);
    await expect(throttle.clear('everything')).rejects.toThrow(TypeError);
  });

  it.runIf(backend.peer)('shares counters between processes', async () => {
    const t = clock();
    const processA = createThrottle(backend.store(), policy, { now: t.now });
    const processB = createThrottle(backend.peer!(), policy, { now: t.now });
    const { user, ip } = fresh();
    const keys = { account: user, address: ip };
    await processA.attempt(keys);
    await processB.attempt(keys);
    await processA.attempt(keys);
    expect(await processB.attempt(keys)).toMatchObject({ allowed: false, retryAfterMs: 1000 });
    // Parallel attempts split over both processes still get exactly the allowance.
    const { user: user2, ip: ip2 } = fresh();
    const keys2 = { account: user2, address: ip2 };
    const decisions = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? processA : processB).attempt(keys2)),
    );
    expect(decisions.filter((d) => d.allowed)).toHaveLength(3);
    // A success in one process and an admin clear in the other are seen by both.
    await processA.clear(user);
    expect(await processB.check(keys)).toEqual({ allowed: true });
    await processB.attempt(keys2);
    await processA.recordSuccess(keys2);
    expect(await processB.attempt(keys2)).toEqual({ allowed: true });
  });
});

describe('redis store', () => {
  it('owns and closes a connection made from a URL, and survives a script cache flush', async () => {
    const store = redisThrottleStore(REDIS_URL, { prefix: `${redisPrefix}url:` });
    const throttle = createThrottle(store, policy);
    const keys = { account: alice, address: attacker };
    expect(await throttle.attempt(keys)).toEqual({ allowed: true });
    const admin = new Redis(REDIS_URL);
    await admin.script('FLUSH');
    expect(await throttle.attempt(keys)).toEqual({ allowed: true });
    expect(await admin.hget(`${redisPrefix}url:c:${encodeURIComponent(alice)}`, 'f')).toBe('2');
    expect(await admin.pttl(`${redisPrefix}url:c:${encodeURIComponent(alice)}`)).toBeGreaterThan(59_000);
    await admin.quit();
    await store.close();
  });
});

describe('memory store', () => {
  it('keeps at most maxEntries counters, dropping the least recently written', async () => {
    const store = memoryThrottleStore({ maxEntries: 3 });
    const rule = policy.accountAddress;
    const now = 1_000;
    for (const key of ['a', 'b', 'c', 'd']) await store.hit([{ key, ...rule }], 'record', now);
    // 'a' was dropped: it reads as zero failures; 'd' is there.
    for (let i = 0; i < 2; i++)
      await store.hit(
        [
          { key: 'a', ...rule },
          { key: 'd', ...rule },
        ],
        'record',
        now,
      );
    expect(await store.hit([{ key: 'd', ...rule }], 'peek', now)).toMatchObject({ waitMs: 1000 });
    expect(await store.hit([{ key: 'a', ...rule }], 'peek', now)).toMatchObject({ waitMs: 0 });
  });
});

describe('memory store markers', () => {
  it('keeps known addresses even when counters churn', async () => {
    const t = clock();
    const throttle = createThrottle(memoryThrottleStore({ maxEntries: 4 }), policy, { now: t.now });
    const user = accountKey('churn@example.test');
    await throttle.attempt({ account: user, address: home });
    await throttle.recordSuccess({ account: user, address: home });
    // A botnet fills the account counter while rotating through far more counters than the store keeps.
    for (let bot = 0; bot < 40; bot++) {
      const address = addressKey(`198.18.0.${bot}`);
      for (let i = 0; i < 3; i++) await throttle.attempt({ account: user, address });
    }
    // The account-wide counter (rewritten on every attempt) survived and holds back a new address…
    expect(await throttle.check({ account: user, address: attacker })).toMatchObject({
      limitedBy: 'account',
    });
    // …but the known address still gets through.
    expect(await throttle.attempt({ account: user, address: home })).toEqual({ allowed: true });
  });
});

describe('keys', () => {
  it('normalizes account keys', () => {
    expect(accountKey('  Bob@Beta.TEST ')).toBe('acct:bob@beta.test');
    expect(accountKey('01JAbCdEf')).toBe('acct:01JAbCdEf');
  });

  it('normalizes addresses and groups IPv6 by /64', () => {
    expect(addressKey('203.0.113.7')).toBe('ip:203.0.113.7');
    expect(addressKey('::ffff:203.0.113.7')).toBe('ip:203.0.113.7');
    expect(addressKey('2001:DB8:0:1:aaaa::1')).toBe('ip:2001:db8:0:1::/64');
    expect(addressKey('2001:db8:0:1:ffff:ffff:ffff:ffff')).toBe('ip:2001:db8:0:1::/64');
    expect(addressKey('[2001:db8::5]')).toBe('ip:2001:db8:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('ip:fe80:0:0:0::/64');
    expect(addressKey('::1')).toBe('ip:0:0:0:0::/64');
    expect(addressKey('64:ff9b::192.0.2.1')).toBe('ip:64:ff9b:0:0::/64');
  });

  it('keeps pairs apart even when an email contains separators', async () => {
    const t = clock();
    const throttle = createThrottle(memoryThrottleStore(), policy, { now: t.now });
    const tricky = { account: accountKey('a|ip:1.1.1.1@x.test'), address: addressKey('2.2.2.2') };
    const plain = { account: accountKey('a@x.test'), address: addressKey('2.2.2.2') };
    for (let i = 0; i < 3; i++) await throttle.attempt(tricky);
    expect(await throttle.check(tricky)).toMatchObject({ allowed: false });
    expect(await throttle.check(plain)).toEqual({ allowed: true });
    await throttle.clear(plain.account);
    expect(await throttle.check(tricky)).toMatchObject({ allowed: false });
  });
});
