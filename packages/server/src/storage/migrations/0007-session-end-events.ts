import type { Kysely } from 'kysely';

/**
 * `session_end_events`: the outbox of live sign-out on SQLite (storage/session-ends.ts). A row is
 * written in the same transaction that ends a person's app sessions, so it becomes visible exactly
 * at commit; every server process on the file reads the rows after the last one it saw. `seq` is
 * the commit order (SQLite has one writer at a time), which time-ordered text ids are not across
 * processes. PostgreSQL delivers the same events through NOTIFY and leaves the table empty; it
 * exists there too so that both dialects keep one schema. Frozen in time: written against
 * Kysely<any>, importing no application code.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen against an untyped database.
export async function up(db: Kysely<any>, dialect: 'sqlite' | 'postgres'): Promise<void> {
  const time = dialect === 'postgres' ? 'bigint' : 'integer';
  await db.schema
    .createTable('session_end_events')
    .addColumn('seq', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
      dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
    )
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('created_at', time, (c) => c.notNull())
    .addColumn('expires_at', time, (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('session_end_events_expires_at')
    .on('session_end_events')
    .column('expires_at')
    .execute();
}
