import { type Kysely, sql } from 'kysely';

/**
 * The engine's `uid` (sessions, interactions) and `user_code` (device codes) lookups index a column
 * that is NULL for every token, and tokens are nearly all of `oidc_records`: each refresh wrote two
 * index entries that no lookup can ever use. Partial indexes keep only the rows that have a value;
 * `uid = ?` implies `uid IS NOT NULL`, so both SQLite and PostgreSQL still use them. Frozen in time:
 * written against Kysely<any>, importing no application code.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen against an untyped database.
export async function up(db: Kysely<any>, _dialect: 'sqlite' | 'postgres'): Promise<void> {
  for (const column of ['uid', 'user_code']) {
    const name = `oidc_records_${column}`;
    await db.schema.dropIndex(name).execute();
    await db.schema
      .createIndex(name)
      .on('oidc_records')
      .column(column)
      .where(sql.ref(column), 'is not', null)
      .execute();
  }
}
