import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import type Provider from 'oidc-provider';
import type { LatchkeyConfig } from '../config/types.js';
import { createApp } from '../http/app.js';
import type { ProtocolKeys } from '../protocol/keys.js';
import { assemble, type ServerParts } from './assemble.js';
import { type IdleHeapOptions, startIdleHeapRelease } from './idle-heap.js';

export interface StartOptions {
  /** Bind and listen (default true); tests may use `app.inject` instead. */
  listen?: boolean;
  logger?: FastifyServerOptions['logger'];
  /** How often each process re-reads keys and organization policies (default 10 s). */
  pollIntervalMs?: number;
  /**
   * Give memory back when no request has come for 5 s: collect garbage until V8 shrinks the young
   * generation, and stop SQLite's checkpoint thread until the next request (default true;
   * idle-heap.ts; `false` turns it off, the timings are for tests).
   */
  idleHeap?: false | Pick<IdleHeapOptions, 'idleMs' | 'checkMs'>;
}

export interface RunningServer {
  app: FastifyInstance;
  /** Storage, directory, throttle, audit…: for operations and tests. */
  parts: ServerParts;
  /** Base URL the server listens on (the issuer, unless behind a proxy). */
  url: string;
  provider(): Provider;
  keys: ProtocolKeys;
  /** Re-reads keys now and rebuilds the engine if they changed (also runs on a timer). */
  reloadKeys(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Starts one stateless server process: everything shared between processes (protocol records, keys,
 * clients, users, sign-in progress) lives in the database, so any number of processes can serve one
 * issuer behind a load balancer.
 */
export async function startServer(
  config: LatchkeyConfig,
  options: StartOptions = {},
): Promise<RunningServer> {
  let app: FastifyInstance | undefined;
  const assembly = await assemble(config, {
    log: {
      error: (entry, message) => (app ? app.log.error(entry, message) : process.emitWarning(message)),
      info: (entry, message) => app?.log.info(entry, message),
    },
  });
  try {
    app = await createApp({
      config,
      engine: { current: assembly.provider },
      ping: () => assembly.parts.database.ping(),
      logger: options.logger,
      routes: assembly.routes,
      brands: assembly.brands,
    });
  } catch (error) {
    await assembly.close();
    throw error;
  }

  const poll = setInterval(() => {
    assembly.poll().catch((error: unknown) => app?.log.warn({ err: error }, 'periodic reload failed'));
  }, options.pollIntervalMs ?? 10_000);
  poll.unref();

  let url = config.issuer;
  try {
    if (options.listen !== false) url = await app.listen({ host: config.host, port: config.port });
    else await app.ready();
  } catch (error) {
    // A port already taken, say: the process may go on (a test, a supervisor retrying), so nothing
    // of this server may stay open behind the error.
    clearInterval(poll);
    await app.close().catch(() => {});
    await assembly.close();
    throw error;
  }

  // Quiet spells (idle-heap.ts) also pause the database's background work; `quiet` reports its own
  // failures (storage/database.ts), so nothing here waits for it or catches.
  const { database } = assembly.parts;
  const stopIdleHeap =
    options.listen !== false && options.idleHeap !== false
      ? startIdleHeapRelease(app.server, {
          ...options.idleHeap,
          onQuiet: () => void database.quiet?.(true),
          onBusy: () => void database.quiet?.(false),
        })
      : () => {};
  let closed = false;
  return {
    app,
    parts: assembly.parts,
    url,
    provider: assembly.provider,
    keys: assembly.keys,
    reloadKeys: assembly.reloadKeys,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(poll);
      stopIdleHeap();
      await app?.close();
      await assembly.close();
    },
  };
}
