import type { Database } from '../database.js';
import { insertUnique } from '../errors.js';
import { parseJson } from '../json.js';

/**
 * Upstream round trips (OIDC state, SAML request ids), correlated across server processes.
 * Contract: ids are unique (create throws DuplicateError); `consume` returns the request to exactly one
 * caller, before it expires — a second or concurrent consume gets undefined.
 */
export function upstreamRequestsRepository(database: Database) {
  const { db } = database;
  return {
    async create(input: {
      id: string;
      connectionId: string;
      interactionUid: string;
      data: Record<string, unknown>;
      expiresAt: number;
    }): Promise<void> {
      await insertUnique(
        () =>
          db
            .insertInto('upstream_requests')
            .values({
              id: input.id,
              connection_id: input.connectionId,
              interaction_uid: input.interactionUid,
              data: JSON.stringify(input.data),
              expires_at: input.expiresAt,
              consumed_at: null,
            })
            .execute(),
        'upstream request id already used',
      );
    },
    /** Returns the request once; a second (or concurrent) consume gets undefined. */
    async consume(
      id: string,
    ): Promise<{ connectionId: string; interactionUid: string; data: Record<string, unknown> } | undefined> {
      const now = Date.now();
      // One conditional UPDATE … RETURNING: the row comes back to exactly one caller.
      const row = await db
        .updateTable('upstream_requests')
        .set({ consumed_at: now })
        .where('id', '=', id)
        .where('consumed_at', 'is', null)
        .where('expires_at', '>', now)
        .returning(['connection_id', 'interaction_uid', 'data'])
        .executeTakeFirst();
      if (!row) return undefined;
      return {
        connectionId: row.connection_id,
        interactionUid: row.interaction_uid,
        data: parseJson(row.data, {}),
      };
    },
  };
}
