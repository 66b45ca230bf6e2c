import type pg from 'pg';

/** What a LISTEN connection reports. */
export interface ListenHandlers {
  onNotification(payload: string): void;
  /**
   * The connection was lost and is back (LISTENing again): notifications sent in between are gone,
   * and the listener should assume it missed some.
   */
  onReconnected?(): void;
  onError?(error: unknown): void;
}

export interface NotificationListener {
  /** Resolves once the first LISTEN is in place (or rejects when the first connection fails). */
  ready: Promise<void>;
  close(): Promise<void>;
}

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 10_000;

/**
 * LISTEN on `channel` over a dedicated connection (never one of the pool's: a pooled connection
 * goes back to other queries, and LISTEN belongs to the session). When the connection drops (a
 * database restart, a failover, an idle cut by a proxy), it reconnects with back-off and LISTENs
 * again, then reports `onReconnected`: NOTIFY is not queued for absent listeners.
 */
export function listenForNotifications(
  pgModule: typeof pg,
  connectionString: string,
  types: pg.CustomTypesConfig,
  channel: string,
  handlers: ListenHandlers,
): NotificationListener {
  let client: pg.Client | undefined;
  let closed = false;
  let retryMs = RETRY_MIN_MS;
  let timer: NodeJS.Timeout | undefined;
  let connectedOnce = false;

  const connect = async (): Promise<void> => {
    const next = new pgModule.Client({
      connectionString,
      types,
      connectionTimeoutMillis: 5_000,
      // TCP keep-alive finds a silently dead peer (a dropped NAT entry) instead of waiting forever.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    next.on('notification', (message) => {
      if (message.channel === channel && message.payload !== undefined)
        handlers.onNotification(message.payload);
    });
    next.on('error', (error) => {
      handlers.onError?.(error);
      lost(next);
    });
    next.on('end', () => lost(next));
    try {
      await next.connect();
      // Identifiers cannot be bound as parameters; the channel is a constant of ours, quoted anyway.
      await next.query(`LISTEN "${channel.replaceAll('"', '""')}"`);
    } catch (error) {
      await next.end().catch(() => {});
      throw error;
    }
    if (closed) {
      await next.end().catch(() => {});
      return;
    }
    client = next;
    retryMs = RETRY_MIN_MS;
    if (connectedOnce) handlers.onReconnected?.();
    connectedOnce = true;
  };

  const lost = (which: pg.Client) => {
    if (client !== which) return;
    client = undefined;
    which.removeAllListeners('notification');
    void which.end().catch(() => {});
    schedule();
  };

  const schedule = () => {
    if (closed || timer) return;
    const delay = retryMs * (0.5 + Math.random() / 2);
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    timer = setTimeout(() => {
      timer = undefined;
      connect().catch((error) => {
        handlers.onError?.(error);
        schedule();
      });
    }, delay);
    timer.unref();
  };

  const ready = connect();
  ready.catch(() => schedule());
  return {
    ready,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      const current = client;
      client = undefined;
      await current?.end().catch(() => {});
    },
  };
}
