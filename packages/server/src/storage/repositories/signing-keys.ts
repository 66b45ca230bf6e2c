import type { SecretBox } from '../../crypto/secret-box.js';
import type { Database } from '../database.js';

/** A signing key (or cookie key) with its rotation state, decrypted. */
export interface StoredKey {
  kid: string;
  use: 'sig' | 'cookie';
  alg: string;
  /** Private JWK as JSON for `sig`, a random secret for `cookie`. */
  material: string;
  activatesAt: number;
  retiresAt?: number | null | undefined;
  expiresAt?: number | null | undefined;
  createdAt: number;
}

/**
 * Signing and cookie keys with their rotation state (activates_at → retires_at → expires_at).
 * Contract: material is stored encrypted, bound to the key id, and returned decrypted; kids are
 * unique (insert throws on a duplicate); `retire` only touches keys not retired yet.
 */
export function signingKeysRepository(database: Database, box: SecretBox) {
  const { db } = database;
  const selectKeys = () =>
    db.selectFrom('signing_keys').selectAll().orderBy('created_at').orderBy('kid').execute();
  type Row = Awaited<ReturnType<typeof selectKeys>>[number];
  const toKey = (r: Row): StoredKey => ({
    kid: r.kid,
    use: r.use,
    alg: r.alg,
    material: box.decrypt(r.material, `signing_keys:${r.kid}`),
    activatesAt: r.activates_at,
    retiresAt: r.retires_at,
    expiresAt: r.expires_at,
    createdAt: r.created_at,
  });
  return {
    /** Every key, oldest first. */
    async list(): Promise<StoredKey[]> {
      return (await selectKeys()).map(toKey);
    },
    /** Keys not expired at `now` (published in the JWKS or pending activation), oldest first. */
    async listActive(now: number = Date.now()): Promise<StoredKey[]> {
      const rows = await db
        .selectFrom('signing_keys')
        .selectAll()
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
        .orderBy('created_at')
        .orderBy('kid')
        .execute();
      return rows.map(toKey);
    },
    async insert(keys: StoredKey[]): Promise<void> {
      if (!keys.length) return;
      await db
        .insertInto('signing_keys')
        .values(
          keys.map((k) => ({
            kid: k.kid,
            use: k.use,
            alg: k.alg,
            material: box.encrypt(k.material, `signing_keys:${k.kid}`),
            activates_at: k.activatesAt,
            retires_at: k.retiresAt ?? null,
            expires_at: k.expiresAt ?? null,
            created_at: k.createdAt,
          })),
        )
        .execute();
    },
    async retire(kids: string[], retiresAt: number, expiresAt: number): Promise<void> {
      if (!kids.length) return;
      await db
        .updateTable('signing_keys')
        .set({ retires_at: retiresAt, expires_at: expiresAt })
        .where('kid', 'in', kids)
        .where('retires_at', 'is', null)
        .execute();
    },
    async deleteExpired(now: number): Promise<number> {
      const r = await db.deleteFrom('signing_keys').where('expires_at', '<', now).executeTakeFirst();
      return Number(r.numDeletedRows);
    },
  };
}
