import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase } from '../../test-support/databases.js';
import { createRepositories } from '../repositories.js';
import { startSweeper } from '../sweeper.js';
import { org } from './test-support/fixtures.js';
import { forEachDatabase } from './test-support/for-each-database.js';

/** The sweeper of expired rows (sweeper.ts). */
forEachDatabase('sweeper', (store) => {
  let own: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    own = await createTestDatabase(store.kind);
  });
  afterAll(async () => {
    await own?.drop();
  });

  it('removes expired rows only, in small batches, from every table', async () => {
    const { db } = own.database;
    const now = 2_000_000_000_000;
    const ownRepos = createRepositories(own.database, store.box);
    await ownRepos.organizations.upsertFromConfig(org('sweep', []));
    const user = await ownRepos.users.create({ organizationId: 'sweep' });
    const expiries = [now - 10_000, now - 1, now, now + 1, now + 10_000];
    let expected = 0;
    for (const [i, expiresAt] of expiries.entries()) {
      const expired = expiresAt <= now;
      if (expired) expected += 5;
      await db
        .insertInto('oidc_records')
        .values({
          model: i % 2 ? 'AccessToken' : 'RefreshToken',
          id: `r${i}`,
          payload: '{}',
          grant_id: null,
          account_id: null,
          uid: null,
          user_code: null,
          expires_at: expiresAt,
          consumed_at: null,
          grace_used_at: null,
          created_at: now - 20_000,
        })
        .execute();
      await db
        .insertInto('sign_in_states')
        .values({ id: `s${i}`, data: '{}', expires_at: expiresAt })
        .execute();
      await db
        .insertInto('upstream_requests')
        .values({
          id: `u${i}`,
          connection_id: 'c',
          interaction_uid: 'i',
          data: '{}',
          expires_at: expiresAt,
          consumed_at: null,
        })
        .execute();
      await db
        .insertInto('replay_cache')
        .values({ key: `k${i}`, expires_at: expiresAt })
        .execute();
      await db
        .insertInto('action_tokens')
        .values({
          token_hash: `t${i}`,
          kind: 'password_reset',
          user_id: user.id,
          expires_at: expiresAt,
          used_at: null,
          created_at: now - 20_000,
        })
        .execute();
    }
    // A record without expiry is never swept.
    await db
      .insertInto('oidc_records')
      .values({
        model: 'Grant',
        id: 'forever',
        payload: '{}',
        grant_id: null,
        account_id: null,
        uid: null,
        user_code: null,
        expires_at: null,
        consumed_at: null,
        grace_used_at: null,
        created_at: now,
      })
      .execute();

    const warnings: unknown[] = [];
    const sweeper = startSweeper(own.database, {
      intervalMs: 3_600_000,
      batchSize: 2,
      now: () => now,
      logger: { warn: (obj) => warnings.push(obj) },
    });
    try {
      expect(await sweeper.sweepOnce()).toBe(expected);
      expect(await sweeper.sweepOnce()).toBe(0);
    } finally {
      await sweeper.stop();
    }
    expect(warnings).toEqual([]);
    const left = async (table: 'sign_in_states' | 'upstream_requests' | 'replay_cache' | 'action_tokens') =>
      (await db.selectFrom(table).select('expires_at').execute()).map((r) => r.expires_at).sort();
    for (const table of ['sign_in_states', 'upstream_requests', 'replay_cache', 'action_tokens'] as const)
      expect(await left(table)).toEqual([now + 1, now + 10_000]);
    const records = await db.selectFrom('oidc_records').select('id').orderBy('id').execute();
    expect(records.map((r) => r.id)).toEqual(['forever', 'r3', 'r4']);
  });

  it('logs errors instead of throwing them', async () => {
    const broken = await createTestDatabase(store.kind);
    await broken.database.close();
    const warnings: unknown[] = [];
    const sweeper = startSweeper(broken.database, {
      intervalMs: 3_600_000,
      batchSize: 10,
      logger: { warn: (obj) => warnings.push(obj) },
    });
    await expect(sweeper.sweepOnce()).resolves.toBe(0);
    await sweeper.stop();
    expect(warnings.length).toBeGreaterThan(0);
    await broken.drop().catch(() => {});
  });
});
