import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import type pg from 'pg';
import { ServerError } from '../errors/server-error.js';
import { type BackgroundCheckpointOptions, startBackgroundCheckpoints } from './background-checkpoints.js';
import { type ListenHandlers, listenForNotifications, type NotificationListener } from './pg-listener.js';
import type { Schema } from './schema.js';

export type Dialect = 'sqlite' | 'postgres';

/** An open database: the typed query builder plus what the server needs to run and stop. */
export interface Database {
  db: Kysely<Schema>;
  dialect: Dialect;
  /** One round trip; throws when the database is unreachable. */
  ping(): Promise<void>;
  /** Closes the file or drains the pool; the object is unusable afterwards. */
  close(): Promise<void>;
  /**
   * The server has gone quiet (`true`: no request for a while, main/idle-heap.ts) or is busy again.
   * SQLite stops its checkpoint thread while quiet (its writer checkpoints the little there is) and
   * starts a new one when requests come back. Absent where there is nothing to do.
   */
  quiet?(isQuiet: boolean): Promise<void>;
  /**
   * PostgreSQL only: LISTEN on `channel` over a dedicated connection that reconnects
   * (storage/pg-listener.ts). Closed by its own `close()`, not by the database's.
   */
  listen?(channel: string, handlers: ListenHandlers): NotificationListener;
}

export interface OpenDatabaseOptions {
  /** PostgreSQL pool size (default 10). */
  poolSize?: number;
  /**
   * An SQLite file's write-ahead log is checkpointed on a worker thread instead of by the writer
   * (storage/background-checkpoints.ts). The server sets this; one-shot commands do not need it.
   */
  backgroundCheckpoints?: BackgroundCheckpointOptions;
}

export class DatabaseUrlError extends ServerError {
  override readonly name = 'DatabaseUrlError';
  constructor(message: string) {
    super('database_url_invalid', message);
  }
}

const INT8_OID = 20;

/**
 * int8 columns (epoch milliseconds, counts) as numbers instead of pg's default strings: every value we
 * store fits in 2^53. Set per pool, so other users of `pg` in the process are unaffected.
 */
function pgTypes(types: typeof pg.types): pg.CustomTypesConfig {
  return {
    getTypeParser(oid: number, format?: 'text' | 'binary') {
      if (oid === INT8_OID && format !== 'binary') return (value: string) => Number(value);
      // biome-ignore lint/suspicious/noExplicitAny: pg's getTypeParser overloads do not compose.
      return (types.getTypeParser as any)(oid, format);
    },
  } as pg.CustomTypesConfig;
}

/**
 * Opens `sqlite:<path>` (the embedded default; the path is relative to the working directory and its
 * folder is created) or `postgres://…` / `postgresql://…` (production; one pool per process).
 *
 * SQLite runs in WAL mode so readers never wait for the writer, with `synchronous=NORMAL` (durable
 * across process crashes; a power loss may drop the last transactions, never corrupt), foreign keys
 * on, and a 5 s busy timeout for several processes on one file. better-sqlite3 is synchronous and
 * Kysely's SqliteDialect runs one query at a time on its single connection, so every statement and
 * transaction is serialized within a process.
 */
export async function openDatabase(url: string, options: OpenDatabaseOptions = {}): Promise<Database> {
  if (url.startsWith('sqlite:')) return openSqlite(url, options);
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return openPostgres(url, options);
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1];
  throw new DatabaseUrlError(
    `unsupported database URL${scheme ? ` scheme "${scheme}:"` : ''}: use sqlite:<path> (e.g. sqlite:./data/latchkey.db) or postgres://user@host:5432/db`,
  );
}

function openSqlite(url: string, options: OpenDatabaseOptions): Database {
  // sqlite:./x.db, sqlite:/abs/x.db, sqlite:///abs/x.db and sqlite::memory:
  const file = url.startsWith('sqlite://') ? url.slice('sqlite://'.length) : url.slice('sqlite:'.length);
  if (!file) throw new DatabaseUrlError('sqlite: needs a file path, e.g. sqlite:./data/latchkey.db');
  if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const sqlite = new SqliteDatabase(file);
  try {
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
  } catch (error) {
    sqlite.close();
    throw error;
  }
  const background =
    options.backgroundCheckpoints && file !== ':memory:' ? options.backgroundCheckpoints : undefined;
  const startCheckpoints = () =>
    background ? startBackgroundCheckpoints(sqlite, path.resolve(file), background) : undefined;
  let checkpoints = startCheckpoints();
  // Stops and starts of the thread, one after the other (a start waits for the stop before it: the
  // stopped thread's exit turns the writer's own checkpoints back on).
  let transition = Promise.resolve();
  let closed = false;
  const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  return {
    db,
    dialect: 'sqlite',
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: async () => {
      closed = true;
      await transition;
      // The worker's connection closes first, so the writer's is the last one: closing it copies
      // what is left of the log into the database and removes the log file.
      await checkpoints?.stop();
      await db.destroy();
    },
    ...(background
      ? {
          // Quiet, the thread is ~5 MB of resident memory doing nothing (README, Performance).
          quiet: (isQuiet: boolean) => {
            transition = transition
              .then(async () => {
                if (closed) return;
                if (isQuiet) {
                  await checkpoints?.stop();
                  checkpoints = undefined;
                } else {
                  checkpoints ??= startCheckpoints();
                }
              })
              // A thread that cannot start leaves the writer checkpointing (as it does while quiet);
              // the chain goes on for the next change and for close().
              .catch((error: unknown) =>
                background.onError(error instanceof Error ? error : new Error(String(error))),
              );
            return transition;
          },
        }
      : {}),
  };
}

async function openPostgres(url: string, options: OpenDatabaseOptions): Promise<Database> {
  // Loaded only for PostgreSQL: an SQLite deployment never carries the driver (about 3 MB).
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    types: pgTypes(pg.types),
  });
  // A connection the server drops must not end the process: the pool listens for errors only on the
  // connections it holds idle, and one lent out (inside a transaction, between two statements) would
  // otherwise emit an `error` nobody hears when PostgreSQL restarts or fails over. Its next query
  // fails instead (storage/pg-connection-loss.test.ts), and the pool replaces it.
  pool.on('error', () => {});
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool: withNamedStatements(pool) }) });
  return {
    db,
    dialect: 'postgres',
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: () => db.destroy(),
    listen: (channel, handlers) => listenForNotifications(pg, url, pgTypes(pg.types), channel, handlers),
  };
}

/**
 * Kysely's SQLite driver prepares every statement anew; the hot paths (token grants) run the same few
 * statements thousands of times. better-sqlite3 statements are reusable (the driver runs one query
 * at a time and never iterates two at once), so prepared statements are kept by SQL text.
 */
function withStatementCache(sqlite: SqliteDatabase.Database, size = 256) {
  const cache = new Map<string, SqliteDatabase.Statement>();
  return {
    prepare(text: string): SqliteDatabase.Statement {
      let statement = cache.get(text);
      if (statement) {
        // Refresh its place in the least-recently-used order.
        cache.delete(text);
      } else {
        statement = sqlite.prepare(text);
        if (cache.size >= size) {
          const oldest = cache.keys().next().value;
          if (oldest !== undefined) cache.delete(oldest);
        }
      }
      cache.set(text, statement);
      return statement;
    },
    close(): void {
      cache.clear();
      sqlite.close();
    },
  };
}

/** Statements worth keeping prepared on a connection: data queries, never DDL or transaction control. */
const DATA_STATEMENT = /^\s*(select|insert|update|delete|with)\b/i;
/** PostgreSQL's answer when a prepared statement's result columns changed under it (a migration). */
const STALE_PLAN = 'cached plan must not change result type';

/**
 * PostgreSQL parses and plans an unnamed statement on every execution; the token grants run the same
 * few statements all day. Naming a data statement (by a hash of its text) lets pg prepare it once per
 * connection and then only bind and execute it: the database's CPU per silent sign-in drops by about
 * a fifth (README, Performance). A connection that sees a statement's result shape change (another process migrated the
 * schema) forgets it and runs the query unnamed once; the next use prepares it afresh.
 */
function withNamedStatements(pool: pg.Pool) {
  const names = new Map<string, string>();
  const nameFor = (text: string) => {
    let name = names.get(text);
    if (name === undefined) {
      name = `lk_${createHash('sha256').update(text).digest('base64url').slice(0, 22)}`;
      if (names.size < 1_000) names.set(text, name);
    }
    return name;
  };
  type PoolClient = pg.PoolClient & { connection?: { parsedStatements?: Record<string, string> } };
  return {
    async connect() {
      const client = (await pool.connect()) as PoolClient;
      return {
        // biome-ignore lint/suspicious/noExplicitAny: mirrors pg's overloaded query (text or cursor).
        query(textOrCursor: any, values?: readonly unknown[]): any {
          if (typeof textOrCursor !== 'string' || !DATA_STATEMENT.test(textOrCursor))
            return client.query(textOrCursor, values as unknown[]);
          const name = nameFor(textOrCursor);
          const params = values ? [...values] : [];
          return client.query({ name, text: textOrCursor, values: params }).catch(async (error: unknown) => {
            if (!(error instanceof Error) || !error.message.includes(STALE_PLAN)) throw error;
            await client.query(`deallocate "${name}"`).catch(() => {});
            delete client.connection?.parsedStatements?.[name];
            return client.query(textOrCursor, params);
          });
        },
        release: () => client.release(),
      };
    },
    end: () => pool.end(),
  };
}
