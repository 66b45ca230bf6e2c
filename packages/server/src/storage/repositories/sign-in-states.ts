import type { Kysely } from 'kysely';
import type { Database } from '../database.js';
import { parseJson } from '../json.js';
import { param, prepared } from '../prepared-statements.js';
import type { Schema } from '../schema.js';

/** One change to a state: its new data (and when it expires), or `null` to delete it. */
export interface SignInStateChange {
  id: string;
  data: Record<string, unknown> | null;
  expiresAt?: number;
}

/**
 * Per-interaction sign-in progress. Contract: expired rows read as absent; `write` applies several
 * changes in order as one atomic unit (all or none).
 *
 * Every step of every sign-in reads and writes here, so the statements are compiled once
 * (prepared-statements.ts) rather than built by the query builder on each call.
 */
export function signInStatesRepository(database: Database) {
  const { db } = database;
  const select = prepared(
    db.selectFrom('sign_in_states').select(['data', 'expires_at']).where('id', '=', param('id')),
  );
  const upsert = prepared(
    db
      .insertInto('sign_in_states')
      .values({ id: param('id'), data: param('data'), expires_at: param('expiresAt') })
      .onConflict((oc) =>
        oc.column('id').doUpdateSet({ data: param('data'), expires_at: param('expiresAt') }),
      ),
  );
  const remove = prepared(db.deleteFrom('sign_in_states').where('id', '=', param('id')));
  const apply = (on: Kysely<Schema>, change: SignInStateChange) =>
    on.executeQuery(
      change.data === null
        ? remove({ id: change.id })
        : upsert({ id: change.id, data: JSON.stringify(change.data), expiresAt: change.expiresAt }),
    );
  return {
    async get(id: string): Promise<Record<string, unknown> | undefined> {
      const { rows } = await db.executeQuery<{ data: string; expires_at: number }>(select({ id }));
      const row = rows[0];
      if (!row || row.expires_at <= Date.now()) return undefined;
      return parseJson(row.data, {});
    },
    async put(id: string, data: Record<string, unknown>, expiresAt: number): Promise<void> {
      await apply(db, { id, data, expiresAt });
    },
    async delete(id: string): Promise<void> {
      await apply(db, { id, data: null });
    },
    async write(changes: readonly SignInStateChange[]): Promise<void> {
      const [only] = changes;
      if (changes.length === 0 || !only) return;
      if (changes.length === 1) {
        await apply(db, only);
        return;
      }
      await db.transaction().execute(async (trx) => {
        for (const change of changes) await apply(trx, change);
      });
    },
  };
}
