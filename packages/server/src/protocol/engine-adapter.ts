import type { Configuration } from 'oidc-provider';
import type { LifetimesConfig } from '../config/types.js';
import type { Database } from '../storage/database.js';
import { createOidcAdapter, type RefreshFamilyRevoked } from '../storage/oidc-adapter.js';
import type { Repositories } from '../storage/repositories.js';
import { asUnavailable } from '../storage/unavailable.js';
import { createClientAdapter } from './clients.js';

const ADAPTER_METHODS = [
  'find',
  'findByUid',
  'findByUserCode',
  'upsert',
  'consume',
  'destroy',
  'revokeByGrantId',
];

/**
 * A database outage inside the engine becomes a 503 with `temporarily_unavailable` (a readable page
 * for people, JSON for apps) instead of a 500 (storage/unavailable.ts).
 */
// biome-ignore lint/suspicious/noExplicitAny: oidc-provider adapters are loosely typed.
function failFast(adapter: any): any {
  for (const method of ADAPTER_METHODS) {
    const original = adapter[method]?.bind(adapter);
    if (!original) continue;
    adapter[method] = async (...args: unknown[]) => {
      try {
        return await original(...args);
      } catch (error) {
        throw asUnavailable(error);
      }
    };
  }
  return adapter;
}

export type EngineAdapter = NonNullable<Configuration['adapter']>;

/**
 * The engine's storage: protocol records (sessions, grants, codes, tokens, device codes,
 * interactions) in `oidc_records`, clients from the `clients` table.
 */
export function createEngineAdapter(deps: {
  database: Database;
  clients: Pick<Repositories['clients'], 'find'>;
  lifetimes: Pick<LifetimesConfig, 'refreshReuseGrace'>;
  /** The key bearer-secret record ids are hashed under: `deriveKey(secret, 'latchkey/record-ids')`. */
  recordIdKey: Buffer;
  /** A refresh-token family revoked for a forked or replayed chain (storage/oidc-adapter.ts): the audit log. */
  onRefreshFamilyRevoked?: (event: RefreshFamilyRevoked) => void | Promise<void>;
}): EngineAdapter {
  const RecordsAdapter = createOidcAdapter(deps.database, {
    refreshReuseGraceMs: () => deps.lifetimes.refreshReuseGrace * 1000,
    recordIdKey: deps.recordIdKey,
    ...(deps.onRefreshFamilyRevoked ? { onRefreshFamilyRevoked: deps.onRefreshFamilyRevoked } : {}),
  });
  const ClientAdapter = createClientAdapter(deps.clients);
  // biome-ignore lint/suspicious/noExplicitAny: oidc-provider's adapter constructor type is loose.
  return function Adapter(this: unknown, name: string): any {
    // biome-ignore lint/suspicious/noExplicitAny: see above
    const adapter = name === 'Client' ? new ClientAdapter() : new (RecordsAdapter as any)(name);
    return failFast(adapter);
  } as unknown as EngineAdapter;
}
