import type { Database } from './database.js';

export interface Sweeper {
  /** Deletes one round of expired rows in every table; returns how many. */
  sweepOnce(): Promise<number>;
  stop(): Promise<void>;
}

type Logger = { warn(obj: unknown, msg: string): void };

const TABLES = [
  { table: 'oidc_records', key: ['model', 'id'] },
  { table: 'sign_in_states', key: ['id'] },
  { table: 'upstream_requests', key: ['id'] },
  { table: 'replay_cache', key: ['key'] },
  { table: 'action_tokens', key: ['token_hash'] },
] as const;

/**
 * Removes expired protocol records in small batches (a bounded `DELETE … WHERE key IN (SELECT …
 * LIMIT n)`), so no sweep holds a long lock or blocks requests; errors are logged, never thrown.
 */
export function startSweeper(
  database: Database,
  options: { intervalMs: number; batchSize: number; logger?: Logger },
): Sweeper {
  const { db } = database;
  let running: Promise<number> | undefined;

  async function sweepTable(table: (typeof TABLES)[number], now: number): Promise<number> {
    let total = 0;
    for (let round = 0; round < 20; round += 1) {
      // biome-ignore lint/suspicious/noExplicitAny: the table name varies; every one has expires_at.
      const anyDb = db as any;
      let deleted: number;
      if (table.key.length === 2) {
        const rows: { model: string; id: string }[] = await anyDb
          .selectFrom(table.table)
          .select(['model', 'id'])
          .where('expires_at', '<=', now)
          .limit(options.batchSize)
          .execute();
        for (const row of rows) {
          await anyDb
            .deleteFrom(table.table)
            .where('model', '=', row.model)
            .where('id', '=', row.id)
            .execute();
        }
        deleted = rows.length;
      } else {
        const key = table.key[0];
        const result = await anyDb
          .deleteFrom(table.table)
          .where(
            key,
            'in',
            anyDb.selectFrom(table.table).select(key).where('expires_at', '<=', now).limit(options.batchSize),
          )
          .executeTakeFirst();
        deleted = Number(result.numDeletedRows);
      }
      total += deleted;
      if (deleted < options.batchSize) break;
    }
    return total;
  }

  async function sweepOnce(): Promise<number> {
    if (running) return running;
    running = (async () => {
      let total = 0;
      const now = Date.now();
      for (const table of TABLES) {
        try {
          total += await sweepTable(table, now);
        } catch (error) {
          options.logger?.warn({ err: error, table: table.table }, 'sweeping expired records failed');
        }
      }
      return total;
    })();
    try {
      return await running;
    } finally {
      running = undefined;
    }
  }

  const timer = setInterval(() => {
    void sweepOnce();
  }, options.intervalMs);
  timer.unref();

  return {
    sweepOnce,
    async stop() {
      clearInterval(timer);
      if (running) await running.catch(() => 0);
    },
  };
}
