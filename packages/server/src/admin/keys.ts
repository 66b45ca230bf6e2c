import { type KeyStore, ProtocolKeys, repositoryKeyStore, type StoredKey } from '../protocol/keys.js';
import type { AdminContext } from './context.js';

export interface KeySummary {
  kid: string;
  alg: string;
  use: 'sig' | 'cookie';
  /** `pending`: published, not signing yet; `active`: signs; `retired`: verifies only, until `expiresAt`. */
  state: 'pending' | 'active' | 'retired';
  activatesAt: number;
  retiresAt: number | null;
  expiresAt: number | null;
}

function keyStore(ctx: AdminContext): KeyStore {
  return repositoryKeyStore(ctx.repos.signingKeys);
}

export function keyState(key: StoredKey, now = Date.now()): KeySummary['state'] {
  if (key.activatesAt > now) return 'pending';
  if (key.retiresAt != null && key.retiresAt <= now) return 'retired';
  return 'active';
}

function summarize(key: StoredKey, now: number): KeySummary {
  return {
    kid: key.kid,
    alg: key.alg,
    use: key.use,
    state: keyState(key, now),
    activatesAt: key.activatesAt,
    retiresAt: key.retiresAt ?? null,
    expiresAt: key.expiresAt ?? null,
  };
}

/** Every stored key that has not expired, in the order the servers use them. */
export async function listKeys(ctx: AdminContext): Promise<KeySummary[]> {
  const keys = new ProtocolKeys(keyStore(ctx));
  await keys.init();
  const now = Date.now();
  return keys.list().map((k) => summarize(k, now));
}

/**
 * Publishes new signing and cookie keys that start signing in `activateInMs` (so relying parties
 * that cache the JWKS see them first), and keeps the current ones for `keepOldForMs` after that so
 * tokens they signed still verify. Servers pick the change up at their next key poll.
 */
export async function rotateKeys(
  ctx: AdminContext,
  options: { activateInMs: number; keepOldForMs: number },
): Promise<KeySummary[]> {
  const keys = new ProtocolKeys(keyStore(ctx));
  await keys.init();
  const fresh = await keys.rotate(options);
  const now = Date.now();
  await ctx.audit({
    action: 'keys_rotated',
    details: {
      kids: fresh.map((k) => k.kid),
      activatesAt: fresh[0]?.activatesAt,
      keepOldForMs: options.keepOldForMs,
    },
  });
  return fresh.map((k) => summarize(k, now));
}
