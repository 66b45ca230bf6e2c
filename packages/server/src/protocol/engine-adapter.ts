import Provider, { type Configuration } from 'oidc-provider';
import type { LifetimesConfig } from '../config/types.js';
import type { Database } from '../storage/database.js';
import { createOidcAdapter, type RefreshFamilyRevoked } from '../storage/oidc-adapter.js';
import type { Repositories } from '../storage/repositories.js';
import { asUnavailable } from '../storage/unavailable.js';
import { createClientAdapter } from './clients.js';
import { bindOnFirstProof, proofThumbprint, rememberPresentedToken } from './dpop-binding.js';

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

/**
 * RefreshToken records pass through the DPoP glue (dpop-binding.ts): a successor of an unbound token
 * refreshed with a proof is bound to the proof's key, and the token a request presented is
 * remembered for the audit of a refusal.
 */
// biome-ignore lint/suspicious/noExplicitAny: see above
function withDpopGlue(adapter: any): any {
  const upsert = adapter.upsert.bind(adapter);
  const find = adapter.find.bind(adapter);
  adapter.upsert = async (id: string, payload: Record<string, unknown>, expiresIn?: number) =>
    upsert(id, await bindOnFirstProof(Provider.ctx, payload), expiresIn);
  adapter.find = async (id: string) => {
    const found = await find(id);
    rememberPresentedToken(Provider.ctx, found);
    return found;
  };
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
    proofKeyOf: proofThumbprint,
    ...(deps.onRefreshFamilyRevoked ? { onRefreshFamilyRevoked: deps.onRefreshFamilyRevoked } : {}),
  });
  const ClientAdapter = createClientAdapter(deps.clients);
  // biome-ignore lint/suspicious/noExplicitAny: oidc-provider's adapter constructor type is loose.
  return function Adapter(this: unknown, name: string): any {
    // biome-ignore lint/suspicious/noExplicitAny: see above
    const adapter = name === 'Client' ? new ClientAdapter() : new (RecordsAdapter as any)(name);
    return failFast(name === 'RefreshToken' ? withDpopGlue(adapter) : adapter);
  } as unknown as EngineAdapter;
}
