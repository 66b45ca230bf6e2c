import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createTestDatabaseUrl, testDatabaseKinds } from '../../test-support/databases.js';
import { DatabaseUrlError, openDatabase } from '../database.js';
import { migrateToLatest, migrationStatus } from '../migrate.js';
import { forEachDatabase } from './test-support/for-each-database.js';

/** The database itself (storage/database.ts, storage/migrate.ts): dialect, migrations, indexes, column types. */
forEachDatabase('database and migrations', (store) => {
  it('reports its dialect and answers ping', async () => {
    expect(store.database.dialect).toBe(store.kind);
    await expect(store.database.ping()).resolves.toBeUndefined();
  });

  it('migrations are idempotent and listed with their applied time', async () => {
    expect(await migrateToLatest(store.database)).toEqual([]);
    const status = await migrationStatus(store.database);
    expect(status.map((m) => m.name)).toEqual([
      '0001-initial',
      '0002-expiry-indexes',
      '0003-partial-lookup-indexes',
      '0004-superseded-refresh-tokens',
      '0005-admins-and-session-origins',
      '0006-scim',
      '0007-session-end-events',
    ]);
    for (const m of status) expect(m.appliedAt).toBeInstanceOf(Date);
  });

  it('indexes uid and user_code only where they are set, and the lookups still use those indexes', async () => {
    const definitions =
      store.kind === 'sqlite'
        ? await sql<{ name: string; def: string }>`SELECT name, sql AS def FROM sqlite_master
            WHERE type = 'index' AND name IN ('oidc_records_uid', 'oidc_records_user_code')`.execute(
            store.raw(),
          )
        : await sql<{ name: string; def: string }>`SELECT indexname AS name, indexdef AS def FROM pg_indexes
            WHERE indexname IN ('oidc_records_uid', 'oidc_records_user_code')`.execute(store.raw());
    expect(definitions.rows).toHaveLength(2);
    for (const { name, def } of definitions.rows) {
      const column = name.replace('oidc_records_', '');
      expect(def.replace(/[()"]/g, '')).toMatch(new RegExp(`WHERE ${column} IS NOT NULL`, 'i'));
    }
    if (store.kind === 'sqlite') {
      for (const column of ['uid', 'user_code']) {
        const plan = await sql<{ detail: string }>`EXPLAIN QUERY PLAN SELECT payload FROM oidc_records
          WHERE model = 'Session' AND ${sql.ref(column)} = 'x'`.execute(store.raw());
        expect(plan.rows.map((r) => r.detail).join(' ')).toContain(`oidc_records_${column}`);
      }
    }
  });

  it('reads epoch-millisecond columns back as numbers', async () => {
    await store.repos.audit.append({ action: 'type_check', outcome: 'info' });
    const row = await store
      .raw()
      .selectFrom('audit_events')
      .select('at')
      .where('action', '=', 'type_check')
      .executeTakeFirstOrThrow();
    expect(typeof row.at).toBe('number');
    expect(row.at).toBeGreaterThan(1_600_000_000_000);
  });
});

describe('openDatabase', () => {
  it('refuses unsupported URLs with a clear error', async () => {
    await expect(openDatabase('mysql://root@localhost/db')).rejects.toBeInstanceOf(DatabaseUrlError);
    await expect(openDatabase('mysql://root:hunter2@localhost/db')).rejects.toThrow(
      /"mysql:".*sqlite:<path>/,
    );
    await expect(openDatabase('mysql://root:hunter2@localhost/db')).rejects.not.toThrow(/hunter2/);
    await expect(openDatabase('./data/latchkey.db')).rejects.toBeInstanceOf(DatabaseUrlError);
    await expect(openDatabase('sqlite:')).rejects.toBeInstanceOf(DatabaseUrlError);
  });

  it.runIf(testDatabaseKinds().includes('postgres'))(
    'PostgreSQL: server settings in the URL (options=-c …) reach every connection, as README documents',
    async () => {
      const target = await createTestDatabaseUrl('postgres');
      const url = new URL(target.url);
      url.searchParams.set('options', '-c synchronous_commit=off');
      const database = await openDatabase(url.href, { poolSize: 2 });
      try {
        const shown = await Promise.all(
          [1, 2].map(() => sql<{ synchronous_commit: string }>`show synchronous_commit`.execute(database.db)),
        );
        expect(shown.map((r) => r.rows[0]?.synchronous_commit)).toEqual(['off', 'off']);
      } finally {
        await database.close();
        await target.drop();
      }
    },
  );

  it.runIf(testDatabaseKinds().includes('postgres'))(
    'PostgreSQL: data statements stay prepared per connection and survive a schema change under them',
    async () => {
      const target = await createTestDatabaseUrl('postgres');
      const other = new pg.Client({ connectionString: target.url });
      const database = await openDatabase(target.url, { poolSize: 1 });
      try {
        await other.connect();
        await other.query('create table widgets (id integer primary key)');
        await other.query('insert into widgets values (1)');
        const select = () =>
          sql<Record<string, unknown>>`select * from widgets where id = ${1}`.execute(database.db);
        expect((await select()).rows).toEqual([{ id: 1 }]);
        const prepared = await sql<{
          n: number;
        }>`select count(*)::int as n from pg_prepared_statements where statement like 'select * from widgets%'`.execute(
          database.db,
        );
        expect(prepared.rows[0]?.n).toBe(1);
        // Another process migrates: the prepared plan's result type changes under this connection.
        await other.query("alter table widgets add column label text not null default 'w'");
        expect((await select()).rows).toEqual([{ id: 1, label: 'w' }]);
        expect((await select()).rows).toEqual([{ id: 1, label: 'w' }]);
        // DDL and transaction control are never kept prepared.
        await sql`create table gadgets (id integer)`.execute(database.db);
        const ddl = await sql<{
          n: number;
        }>`select count(*)::int as n from pg_prepared_statements where statement like 'create%'`.execute(
          database.db,
        );
        expect(ddl.rows[0]?.n).toBe(0);
      } finally {
        await database.close();
        await other.end();
        await target.drop();
      }
    },
  );

  it('creates the folder of a SQLite file and turns on WAL and foreign keys', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'latchkey-open-'));
    try {
      const database = await openDatabase(`sqlite:${path.join(dir, 'nested', 'deeper', 'x.db')}`);
      try {
        const { sql } = await import('kysely');
        const journal = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(database.db);
        expect(journal.rows[0]?.journal_mode).toBe('wal');
        const fk = await sql<{ foreign_keys: number }>`pragma foreign_keys`.execute(database.db);
        expect(fk.rows[0]?.foreign_keys).toBe(1);
        const busy = await sql<{ timeout: number }>`pragma busy_timeout`.execute(database.db);
        expect(busy.rows[0]?.timeout).toBe(5000);
      } finally {
        await database.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
