import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { type Database, openDatabase } from '../storage/database.js';
import { migrateToLatest } from '../storage/migrate.js';

export type TestDatabaseKind = 'sqlite' | 'postgres';

export const POSTGRES_ADMIN_URL =
  process.env.LATCHKEY_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * Dialects to run the shared suites against: both by default; `LATCHKEY_TEST_DATABASES=sqlite` (or
 * `postgres`, or a comma-separated list) narrows.
 */
export function testDatabaseKinds(): TestDatabaseKind[] {
  const wanted = (process.env.LATCHKEY_TEST_DATABASES ?? 'sqlite,postgres').split(',').map((s) => s.trim());
  return (['sqlite', 'postgres'] as const).filter((k) => wanted.includes(k));
}

/**
 * A fresh, empty (unmigrated) database URL: a file in a new temp folder, or a new PostgreSQL database
 * `latchkey_t_<random>` made through LATCHKEY_TEST_POSTGRES_URL (default
 * postgres://postgres@127.0.0.1:5432/test). `drop()` removes the folder or drops the database.
 */
export async function createTestDatabaseUrl(
  kind: TestDatabaseKind,
  dir?: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  if (kind === 'sqlite') {
    const folder = dir ?? (await mkdtemp(path.join(os.tmpdir(), 'latchkey-db-')));
    return {
      url: `sqlite:${path.join(folder, 'latchkey.db')}`,
      drop: async () => {
        if (!dir) await rm(folder, { recursive: true, force: true });
      },
    };
  }
  const name = `latchkey_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  try {
    await admin.connect();
  } catch (cause) {
    throw new Error(
      `PostgreSQL for tests is not reachable at ${new URL(POSTGRES_ADMIN_URL).host} (LATCHKEY_TEST_POSTGRES_URL); run with LATCHKEY_TEST_DATABASES=sqlite to test SQLite only`,
      { cause },
    );
  }
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** A fresh database, opened and migrated; `drop()` closes it and removes it. */
export async function createTestDatabase(
  kind: TestDatabaseKind,
): Promise<{ url: string; database: Database; drop(): Promise<void> }> {
  const created = await createTestDatabaseUrl(kind);
  const database = await openDatabase(created.url);
  await migrateToLatest(database);
  return {
    url: created.url,
    database,
    async drop() {
      await database.close();
      await created.drop();
    },
  };
}
