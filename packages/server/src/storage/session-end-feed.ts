import type { Database } from './database.js';
import { localOutboxWrites, parseSessionEnd, SESSION_END_CHANNEL, type SessionEnd } from './session-ends.js';

/** What a server process hears of session ends, made by itself or any other process. */
export interface SessionEndFeedHandlers {
  onEnd(end: SessionEnd): void;
  /**
   * Ends may have been missed (the LISTEN connection was lost for a while, or the outbox could not
   * be read): whoever holds streams should make their apps check again.
   */
  onGap(): void;
  onError(error: unknown, message: string): void;
}

export interface SessionEndFeed {
  /** Resolves once the feed is listening (PostgreSQL) or has its starting point (SQLite). */
  ready: Promise<void>;
  close(): Promise<void>;
}

export interface SessionEndFeedOptions {
  /** SQLite: how often the outbox is read for ends committed by other processes. Default 300 ms. */
  pollIntervalMs?: number;
}

/**
 * Session ends as they commit (storage/session-ends.ts): on PostgreSQL the NOTIFYs of every process
 * of the fleet, on a dedicated LISTEN connection; on SQLite the outbox rows after the last one seen,
 * read at once after a write in this process and every `pollIntervalMs` for other processes'.
 */
export function openSessionEndFeed(
  database: Database,
  handlers: SessionEndFeedHandlers,
  options: SessionEndFeedOptions = {},
): SessionEndFeed {
  const deliver = (text: string) => {
    const end = parseSessionEnd(text);
    if (end) handlers.onEnd(end);
    else handlers.onError(new Error('malformed session end'), 'session end ignored');
  };
  if (database.listen) {
    const listener = database.listen(SESSION_END_CHANNEL, {
      onNotification: deliver,
      onReconnected: () => handlers.onGap(),
      onError: (error) => handlers.onError(error, 'session end listener connection failed'),
    });
    return { ready: listener.ready, close: () => listener.close() };
  }
  return pollOutbox(database, handlers, deliver, options.pollIntervalMs ?? 300);
}

function pollOutbox(
  database: Database,
  handlers: SessionEndFeedHandlers,
  deliver: (text: string) => void,
  intervalMs: number,
): SessionEndFeed {
  const { db } = database;
  let last = 0;
  let closed = false;
  let running: Promise<void> | undefined;
  let again = false;
  let failing = false;
  let started = false;

  const readOnce = async () => {
    const rows = await db
      .selectFrom('session_end_events')
      .select(['seq', 'payload'])
      .where('seq', '>', last)
      .orderBy('seq')
      .limit(500)
      .execute();
    for (const row of rows) {
      last = row.seq;
      deliver(row.payload);
    }
    if (failing) {
      failing = false;
      // Rows may have come and gone (swept) while the file could not be read.
      handlers.onGap();
    }
    if (rows.length === 500) again = true;
  };

  const poll = () => {
    if (closed || !started) return;
    if (running) {
      again = true;
      return;
    }
    running = readOnce()
      .catch((error: unknown) => {
        if (!failing) handlers.onError(error, 'reading session ends failed');
        failing = true;
      })
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          poll();
        }
      });
  };

  const ready = (async () => {
    const row = await db
      .selectFrom('session_end_events')
      .select((eb) => eb.fn.max('seq').as('seq'))
      .executeTakeFirst();
    last = Number(row?.seq ?? 0);
    started = true;
  })();
  const timer = setInterval(poll, intervalMs);
  timer.unref();
  localOutboxWrites.on('written', poll);
  ready.catch((error: unknown) => handlers.onError(error, 'reading session ends failed'));
  return {
    ready,
    async close() {
      closed = true;
      clearInterval(timer);
      localOutboxWrites.off('written', poll);
      await running;
    },
  };
}
