import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { StoredKey } from '../storage/repositories/signing-keys.js';
import type { Repositories } from '../storage/repositories.js';

/** A key as kept in the `signing_keys` table (material already decrypted by the store). */
export type { StoredKey } from '../storage/repositories/signing-keys.js';

export interface KeyStore {
  listKeys(): Promise<StoredKey[]>;
  insertKeys(keys: StoredKey[]): Promise<void>;
  /** Marks keys that stop signing at `retiresAt` and leave the JWKS at `expiresAt`. */
  retireKeys(kids: string[], retiresAt: number, expiresAt: number): Promise<void>;
  deleteExpiredKeys(now: number): Promise<number>;
}

export const SIGNING_ALGS = ['ES256', 'RS256'] as const;

async function newSigningKey(alg: (typeof SIGNING_ALGS)[number], activatesAt: number, now: number) {
  const { privateKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'RS256' ? { modulusLength: 2048 } : {}),
  });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  const material: JWK = { ...jwk, kid, alg, use: 'sig' };
  return {
    kid,
    use: 'sig',
    alg,
    material: JSON.stringify(material),
    activatesAt,
    createdAt: now,
  } satisfies StoredKey;
}

function newCookieKey(activatesAt: number, now: number): StoredKey {
  const secret = randomBytes(32).toString('base64url');
  return {
    kid: `cookie-${randomBytes(8).toString('hex')}`,
    use: 'cookie',
    alg: 'HS256',
    material: secret,
    activatesAt,
    createdAt: now,
  };
}

/**
 * The keys the engine signs with, shared by every server process through the database.
 *
 * Rotation publishes before it signs: `rotate()` inserts new keys whose `activatesAt` lies in the
 * future. Until then they are listed in the JWKS (so relying parties that cache it can verify what
 * comes next) but sit behind the current key, and oidc-provider signs with the first key of an
 * algorithm. At activation the order flips; the old keys keep verifying until `expiresAt`, after the
 * longest-lived token they signed has expired. Each process polls `refresh()`; a change of the
 * ordered key set calls `onChange`, and the server rebuilds its Provider (oidc-provider fixes
 * its keys at construction).
 */
export class ProtocolKeys {
  #keys: StoredKey[] = [];
  #fingerprint = '';

  constructor(
    private readonly store: KeyStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** Loads keys, creating the first set when the database has none. */
  async init(): Promise<void> {
    let keys = await this.store.listKeys();
    if (!keys.some((k) => k.use === 'sig') || !keys.some((k) => k.use === 'cookie')) {
      const now = this.now();
      const fresh: StoredKey[] = [];
      for (const alg of SIGNING_ALGS)
        if (!keys.some((k) => k.use === 'sig' && k.alg === alg))
          fresh.push(await newSigningKey(alg, now, now));
      if (!keys.some((k) => k.use === 'cookie')) fresh.push(newCookieKey(now, now));
      await this.store.insertKeys(fresh);
      keys = await this.store.listKeys();
    }
    this.#apply(keys);
  }

  /** Re-reads the keys; returns true when the set or the order changed. */
  async refresh(): Promise<boolean> {
    const keys = await this.store.listKeys();
    return this.#apply(keys);
  }

  #apply(keys: StoredKey[]): boolean {
    const now = this.now();
    const live = keys.filter((k) => k.expiresAt == null || k.expiresAt > now);
    // Signing order: active and not retired first (newest activation first), then pending, then retired.
    const rank = (k: StoredKey) => {
      if (k.activatesAt > now) return 1;
      if (k.retiresAt != null && k.retiresAt <= now) return 2;
      return 0;
    };
    live.sort((a, b) => rank(a) - rank(b) || b.activatesAt - a.activatesAt);
    const fingerprint = live.map((k) => `${k.kid}:${rank(k)}`).join(',');
    const changed = fingerprint !== this.#fingerprint;
    this.#keys = live;
    this.#fingerprint = fingerprint;
    return changed;
  }

  /** Private JWKs in signing order (the engine publishes their public parts at /jwks). */
  jwks(): { keys: JWK[] } {
    return { keys: this.#keys.filter((k) => k.use === 'sig').map((k) => JSON.parse(k.material) as JWK) };
  }

  /** Cookie signing secrets, current first; older ones still verify. */
  cookieKeys(): string[] {
    return this.#keys.filter((k) => k.use === 'cookie').map((k) => k.material);
  }

  /** Keys that sign right now (first of each algorithm). */
  activeKids(): string[] {
    const seen = new Set<string>();
    const out: string[] = [];
    for (const k of this.#keys) {
      const id = `${k.use}:${k.alg}`;
      if (!seen.has(id)) {
        seen.add(id);
        out.push(k.kid);
      }
    }
    return out;
  }

  list(): readonly StoredKey[] {
    return this.#keys;
  }

  /**
   * Publishes new signing and cookie keys that start signing after `activateInMs`; the current ones
   * retire then and stay published for `keepOldForMs` more, so tokens they signed still verify.
   */
  async rotate({
    activateInMs,
    keepOldForMs,
  }: {
    activateInMs: number;
    keepOldForMs: number;
  }): Promise<StoredKey[]> {
    await this.refresh();
    const now = this.now();
    const activatesAt = now + activateInMs;
    const current = this.#keys.filter((k) => k.retiresAt == null);
    const fresh: StoredKey[] = [];
    for (const alg of SIGNING_ALGS) fresh.push(await newSigningKey(alg, activatesAt, now));
    fresh.push(newCookieKey(activatesAt, now));
    await this.store.insertKeys(fresh);
    await this.store.retireKeys(
      current.map((k) => k.kid),
      activatesAt,
      activatesAt + keepOldForMs,
    );
    await this.store.deleteExpiredKeys(now);
    await this.refresh();
    return fresh;
  }
}

/** The key store over the `signing_keys` repository. */
export function repositoryKeyStore(signingKeys: Repositories['signingKeys']): KeyStore {
  return {
    listKeys: () => signingKeys.list(),
    insertKeys: (keys) => signingKeys.insert(keys),
    retireKeys: (kids, retiresAt, expiresAt) => signingKeys.retire(kids, retiresAt, expiresAt),
    deleteExpiredKeys: (now) => signingKeys.deleteExpired(now),
  };
}
