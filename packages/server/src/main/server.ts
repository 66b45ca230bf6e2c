import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import type Provider from 'oidc-provider';
import { type Backend, createBackend } from './backend.js';
import type { LatchkeyConfig } from '../config/types.js';
import { createApp } from '../http/app.js';
import { Csrf } from '../web/csrf.js';
import { pagePlugins, signInExtensions } from '../sign-in/extensions.js';
import { createPasswordHasher } from '../domain/passwords/password-hasher.js';
import { AccountStore } from '../protocol/accounts.js';
import { ProtocolKeys } from '../protocol/keys.js';
import { buildProvider } from '../protocol/provider.js';

export interface StartOptions {
  /** Bind and listen (default true); tests may use `app.inject` instead. */
  listen?: boolean;
  logger?: FastifyServerOptions['logger'];
  /** How often each process re-reads keys and organization policies (default 10 s). */
  pollIntervalMs?: number;
}

export interface RunningServer {
  app: FastifyInstance;
  backend: Backend;
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
  const hasher = createPasswordHasher(config.argon2);
  let app: FastifyInstance | undefined;
  const backend = await createBackend(config, hasher, {
    onDatabaseError: (error) => {
      if (app) app.log.error({ err: error }, 'database background work failed');
      else process.emitWarning(error);
    },
  });
  const keys = new ProtocolKeys(backend.keyStore);
  await keys.init();

  const accounts = new AccountStore(backend.accountSource, config.lifetimes);
  let provider: Provider;
  const build = () =>
    buildProvider({
      config,
      adapter: backend.oidcAdapter,
      accounts,
      keys,
      findResource: (id) => backend.resources.get(id),
      onError: (ctx, error) => {
        const status = (error as { statusCode?: number }).statusCode ?? 500;
        const entry = { err: { name: error.name, message: error.message }, path: ctx.path, status };
        if (status >= 500) app?.log.error(entry, 'protocol error');
        else app?.log.info(entry, 'protocol request refused');
      },
    });
  // The key set (in signing order) the current engine was built with. Compared with what the
  // database holds now rather than trusting `refresh()`'s change flag: `keys.rotate()` in this very
  // process refreshes the key list itself, and the engine must still be rebuilt afterwards.
  const keySet = () =>
    keys
      .list()
      .map((k) => k.kid)
      .join(',');
  provider = build();
  let builtWith = keySet();

  const reloadKeys = async () => {
    await keys.refresh();
    const current = keySet();
    if (current === builtWith) return false;
    provider = build();
    builtWith = current;
    app?.log.info({ kids: keys.activeKids() }, 'signing keys changed; engine rebuilt');
    return true;
  };

  const csrf = new Csrf(backend.deriveKey('latchkey/csrf'), config.issuer.startsWith('https:'));
  const extensionDeps = { config, backend, provider: () => provider, csrf };
  app = await createApp({
    config,
    engine: { current: () => provider },
    login: backend.loginServices({ provider: () => provider, csrf }),
    ping: () => backend.ping(),
    logger: options.logger,
    signInExtensions: signInExtensions(extensionDeps),
    plugins: pagePlugins(extensionDeps),
  });

  const interval = options.pollIntervalMs ?? 10_000;
  const poll = setInterval(() => {
    Promise.all([reloadKeys(), backend.refreshDirectory()]).catch((error: unknown) =>
      app?.log.warn({ err: error }, 'periodic reload failed'),
    );
  }, interval);
  poll.unref();

  let url = config.issuer;
  try {
    if (options.listen !== false) {
      const address = await app.listen({ host: config.host, port: config.port });
      url = address;
    } else {
      await app.ready();
    }
  } catch (error) {
    // A port already taken, say: the process may go on (a test, a supervisor retrying), so nothing
    // of this server may stay open behind the error.
    clearInterval(poll);
    await app.close().catch(() => {});
    await backend.close();
    throw error;
  }

  let closed = false;
  return {
    app,
    backend,
    url,
    provider: () => provider,
    keys,
    reloadKeys,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(poll);
      await app?.close();
      await backend.close();
    },
  };
}
