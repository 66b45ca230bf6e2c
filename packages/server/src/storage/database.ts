import { mkdirSync } from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import type { Schema } from './schema.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Database {
  db: Kysely<Schema>;
  dialect: Dialect;
  /** One round trip; throws when the database is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export class DatabaseUrlError extends Error {
  override readonly name = 'DatabaseUrlError';
  readonly code = 'DATABASE_URL_INVALID';
}

// int8 (epoch milliseconds, counts) as numbers: every value we store fits in 2^53.
pg.types.setTypeParser(20, (value: string) => Number(value));

/**
 * Opens `sqlite:<path>` (embedded default; WAL so readers never wait for the writer) or
 * `postgres://…` (production; a pool shared by all requests of the process).
 */
export async function openDatabase(url: string, options: { poolSize?: number } = {}): Promise<Database> {
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    if (!file) throw new DatabaseUrlError('sqlite: needs a file path, e.g. sqlite:./data/latchkey.db');
    if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    const sqlite = new SqliteDatabase(file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: sqlite }) });
    return {
      db,
      dialect: 'sqlite',
      ping: async () => {
        await sql`select 1`.execute(db);
      },
      close: () => db.destroy(),
    };
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
    });
    // A dropped connection must not crash the process; the next query reports the failure.
    pool.on('error', () => {});
    const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
    return {
      db,
      dialect: 'postgres',
      ping: async () => {
        await sql`select 1`.execute(db);
      },
      close: () => db.destroy(),
    };
  }
  throw new DatabaseUrlError('database URL must be sqlite:<path> or postgres://user@host:5432/db');
}
