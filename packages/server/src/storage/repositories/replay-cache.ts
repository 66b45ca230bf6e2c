import type { Database } from '../database.js';

/**
 * One-time use of values (SAML assertion ids, …).
 * Contract: `remember(key, expiresAt)` resolves true for the first caller and false while the key is
 * remembered and unexpired — atomically, across processes. An expired entry counts as absent.
 */
export function replayCacheRepository(database: Database) {
  const { db } = database;
  return {
    async remember(key: string, expiresAt: number): Promise<boolean> {
      const now = Date.now();
      // One statement: insert, or take over an expired entry the sweeper has not removed yet; an
      // unexpired entry is left alone and reports no row changed (ON CONFLICT … DO UPDATE … WHERE).
      const result = await db
        .insertInto('replay_cache')
        .values({ key, expires_at: expiresAt })
        .onConflict((oc) =>
          oc.column('key').doUpdateSet({ expires_at: expiresAt }).where('replay_cache.expires_at', '<=', now),
        )
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
    },
  };
}
