import { sql } from 'kysely';
import type { Database } from './database.js';

export interface Sweeper {
  /** Deletes expired rows in every table, batch by batch; returns how many. Never throws. */
  sweepOnce(): Promise<number>;
  /** Stops the timer and waits for a sweep in progress. */
  stop(): Promise<void>;
}

/** The subset of a pino-style logger the sweeper uses. */
export interface SweeperLogger {
  warn(obj: unknown, msg: string): void;
}

export interface SweeperOptions {
  intervalMs: number;
  /** Rows per DELETE statement; small, so no statement holds a lock for long. */
  batchSize: number;
  /** Most batches per table per sweep (default 50); the rest waits for the next tick. */
  maxBatchesPerTable?: number;
  logger?: SweeperLogger;
  /** Clock in epoch milliseconds (tests). */
  now?: () => number;
}

/** Every table with an `expires_at`, with its primary key. */
const TABLES = [
  { table: 'oidc_records', key: ['model', 'id'] },
  { table: 'sign_in_states', key: ['id'] },
  { table: 'upstream_requests', key: ['id'] },
  { table: 'replay_cache', key: ['key'] },
  { table: 'action_tokens', key: ['token_hash'] },
  { table: 'session_end_events', key: ['seq'] },
] as const;

/**
 * Removes expired rows from oidc_records, sign_in_states, upstream_requests, replay_cache and
 * action_tokens. Each batch is one bounded statement, `DELETE … WHERE (key) IN (SELECT key … WHERE
 * expires_at <= now LIMIT n)`, using the expires_at indexes; batches run one after another, so a
 * sweep never holds a long lock and requests interleave with it (on SQLite too, whose writer lock is
 * per statement). Readers never depend on the sweeper: expired rows already read as absent.
 * The timer is unref'd (it never keeps the process alive); errors are logged, never thrown.
 */
export function startSweeper(database: Database, options: SweeperOptions): Sweeper {
  const { db } = database;
  const now = options.now ?? Date.now;
  const maxBatches = options.maxBatchesPerTable ?? 50;
  let running: Promise<number> | undefined;

  async function sweepTable(entry: (typeof TABLES)[number], at: number): Promise<number> {
    const table = sql.table(entry.table);
    const key = sql.join(entry.key.map((column) => sql.ref(column)));
    let total = 0;
    for (let batch = 0; batch < maxBatches; batch += 1) {
      const result = await sql`
        delete from ${table} where (${key}) in (
          select ${key} from ${table} where expires_at <= ${at} limit ${options.batchSize}
        )`.execute(db);
      const deleted = Number(result.numAffectedRows ?? 0n);
      total += deleted;
      if (deleted < options.batchSize) break;
      // Let queued requests run between batches.
      await new Promise((resolve) => setImmediate(resolve));
    }
    return total;
  }

  async function sweep(): Promise<number> {
    let total = 0;
    const at = now();
    for (const entry of TABLES) {
      try {
        total += await sweepTable(entry, at);
      } catch (error) {
        options.logger?.warn({ err: error, table: entry.table }, 'sweeping expired records failed');
      }
    }
    return total;
  }

  function sweepOnce(): Promise<number> {
    if (!running) {
      running = sweep().finally(() => {
        running = undefined;
      });
    }
    return running;
  }

  const timer = setInterval(() => {
    void sweepOnce();
  }, options.intervalMs);
  timer.unref();

  return {
    sweepOnce,
    async stop() {
      clearInterval(timer);
      if (running) await running;
    },
  };
}
