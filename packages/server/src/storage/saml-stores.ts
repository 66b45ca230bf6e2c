import type { SamlReplayStore, SamlRequestStore } from '../connectors/saml/stores.js';
import type { Database } from './database.js';
import { replayCacheRepository } from './repositories/small.js';

/**
 * The SAML connector's shared stores on the database, so that an IdP response can land on any server
 * process (FACTS.md): AuthnRequest ids in `upstream_requests` (scoped to the connection), assertion
 * ids in `replay_cache`. Both are single-use atomically; the sweeper removes expired rows.
 */
export function createSamlStores(
  database: Database,
  connectionId: string,
): { requestStore: SamlRequestStore; replayStore: SamlReplayStore } {
  const { db } = database;
  const replay = replayCacheRepository(database);
  return {
    requestStore: {
      async save(id, expiresAt) {
        await db
          .insertInto('upstream_requests')
          .values({
            id: `saml:${connectionId}:${id}`,
            connection_id: connectionId,
            interaction_uid: '',
            data: '{}',
            expires_at: expiresAt,
            consumed_at: null,
          })
          .execute();
      },
      async consume(id) {
        const now = Date.now();
        const result = await db
          .updateTable('upstream_requests')
          .set({ consumed_at: now })
          .where('id', '=', `saml:${connectionId}:${id}`)
          .where('consumed_at', 'is', null)
          .where('expires_at', '>', now)
          .executeTakeFirst();
        return Number(result.numUpdatedRows) === 1;
      },
    },
    replayStore: { remember: (key, expiresAt) => replay.remember(key, expiresAt) },
  };
}
