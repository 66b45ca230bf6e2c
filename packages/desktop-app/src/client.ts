/** Acme Desktop's one `createClient` call: the same settings on the window's thread and the launch worker. */
import path from 'node:path';
import {
  createClient,
  createFileStore,
  createKeychainStore,
  defaultCacheDir,
  type LatchkeyClient,
  type TokenStore,
} from '@latchkey/desktop';
import type { AppConfig } from './config.js';

export function makeStore(config: AppConfig): TokenStore {
  if (config.store === 'file') {
    return createFileStore({
      directory: config.storeDir ?? path.join(defaultCacheDir(), '..', 'acme-desktop', 'tokens'),
      onWarning: () => {},
    });
  }
  return createKeychainStore();
}

export function clientFor(
  config: AppConfig,
  redirect: string,
  store = makeStore(config),
): Promise<LatchkeyClient> {
  return createClient({
    issuer: config.issuer,
    clientId: config.clientId,
    redirect,
    store,
    // The loopback page (when the scheme cannot be registered): "return to Acme Desktop"; the
    // User-Agent, so that her session list says "Acme Desktop on Linux".
    appName: 'Acme Desktop',
    appVersion: '0.1.0',
    resources: [config.api.resource],
    cacheDir: config.cacheDir ?? defaultCacheDir(),
  });
}
