import type { Database } from '../database.js';
import { parseJson } from '../json.js';

/** Per-interaction sign-in progress. Contract: expired rows read as absent. */
export function signInStatesRepository(database: Database) {
  const { db } = database;
  return {
    async get(id: string): Promise<Record<string, unknown> | undefined> {
      const row = await db
        .selectFrom('sign_in_states')
        .select(['data', 'expires_at'])
        .where('id', '=', id)
        .executeTakeFirst();
      if (!row || row.expires_at <= Date.now()) return undefined;
      return parseJson(row.data, {});
    },
    async put(id: string, data: Record<string, unknown>, expiresAt: number): Promise<void> {
      const values = { data: JSON.stringify(data), expires_at: expiresAt };
      await db
        .insertInto('sign_in_states')
        .values({ id, ...values })
        .onConflict((oc) => oc.column('id').doUpdateSet(values))
        .execute();
    },
    async delete(id: string): Promise<void> {
      await db.deleteFrom('sign_in_states').where('id', '=', id).execute();
    },
  };
}
