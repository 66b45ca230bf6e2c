import { newId } from '../../crypto/ids.js';
import type { SecretBox } from '../../crypto/secret-box.js';
import type { Database } from '../database.js';
import { insertUnique } from '../errors.js';
import { parseJson } from '../json.js';

export interface TotpCredential {
  id: string;
  secret: string;
  lastStep: number | null;
}

export interface PasskeyCredential {
  id: string;
  credentialId: string;
  data: Record<string, unknown>;
  createdAt: number;
  lastUsedAt: number | null;
}

/**
 * Password hashes, TOTP secrets (encrypted, bound to the credential row), passkeys and recovery code
 * hashes.
 * Contract:
 * - at most one password and one TOTP per user (`set*` replaces, in one transaction);
 * - a passkey's WebAuthn credential id is unique across all users (`addPasskey` throws DuplicateError;
 *   `findPasskey` finds its owner);
 * - "use once" operations (`useRecoveryCode`, `acceptTotpStep`) are conditional updates: of two
 *   simultaneous uses exactly one gets true.
 */
export function credentialsRepository(database: Database, box: SecretBox) {
  const { db } = database;

  async function replaceSingle(
    userId: string,
    type: 'password' | 'totp',
    secret: (id: string) => string,
    data: Record<string, unknown>,
  ) {
    const now = Date.now();
    const id = newId(now);
    await db.transaction().execute(async (trx) => {
      await trx.deleteFrom('credentials').where('user_id', '=', userId).where('type', '=', type).execute();
      await trx
        .insertInto('credentials')
        .values({
          id,
          user_id: userId,
          type,
          secret: secret(id),
          lookup: null,
          data: JSON.stringify(data),
          created_at: now,
          last_used_at: null,
          used_at: null,
        })
        .execute();
    });
    return id;
  }

  return {
    async passwordHash(userId: string): Promise<string | undefined> {
      const row = await db
        .selectFrom('credentials')
        .select('secret')
        .where('user_id', '=', userId)
        .where('type', '=', 'password')
        .executeTakeFirst();
      return row?.secret ?? undefined;
    },

    async setPassword(userId: string, hash: string): Promise<void> {
      await replaceSingle(userId, 'password', () => hash, {});
    },

    async setTotp(userId: string, secret: string): Promise<void> {
      await replaceSingle(userId, 'totp', (id) => box.encrypt(secret, `credentials:${id}`), {
        lastStep: null,
      });
    },

    async totp(userId: string): Promise<TotpCredential | undefined> {
      const row = await db
        .selectFrom('credentials')
        .selectAll()
        .where('user_id', '=', userId)
        .where('type', '=', 'totp')
        .executeTakeFirst();
      if (!row?.secret) return undefined;
      const data = parseJson<{ lastStep?: number | null }>(row.data, {});
      return {
        id: row.id,
        secret: box.decrypt(row.secret, `credentials:${row.id}`),
        lastStep: data.lastStep ?? null,
      };
    },

    /**
     * Records the accepted time step as a compare-and-set from `expectedLastStep` (what `totp()`
     * returned): false when another request accepted a step in between (a replay, or a race), so two
     * processes cannot both accept one code. The caller checks `step > lastStep` first.
     */
    async acceptTotpStep(
      credentialId: string,
      expectedLastStep: number | null,
      step: number,
    ): Promise<boolean> {
      let query = db
        .updateTable('credentials')
        .set({ data: JSON.stringify({ lastStep: step }), last_used_at: Date.now() })
        .where('id', '=', credentialId);
      query = query.where('data', '=', JSON.stringify({ lastStep: expectedLastStep }));
      const result = await query.executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async removeType(
      userId: string,
      type: 'totp' | 'webauthn' | 'recovery_code' | 'password',
    ): Promise<number> {
      const result = await db
        .deleteFrom('credentials')
        .where('user_id', '=', userId)
        .where('type', '=', type)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    async addPasskey(userId: string, credentialId: string, data: Record<string, unknown>): Promise<string> {
      const now = Date.now();
      const id = newId(now);
      await insertUnique(
        () =>
          db
            .insertInto('credentials')
            .values({
              id,
              user_id: userId,
              type: 'webauthn',
              secret: null,
              lookup: `webauthn:${credentialId}`,
              data: JSON.stringify(data),
              created_at: now,
              last_used_at: null,
              used_at: null,
            })
            .execute(),
        'this passkey is already registered',
      );
      return id;
    },

    async passkeys(userId: string): Promise<PasskeyCredential[]> {
      const rows = await db
        .selectFrom('credentials')
        .selectAll()
        .where('user_id', '=', userId)
        .where('type', '=', 'webauthn')
        .execute();
      return rows.map((r) => ({
        id: r.id,
        credentialId: (r.lookup ?? '').slice('webauthn:'.length),
        data: parseJson(r.data, {}),
        createdAt: r.created_at,
        lastUsedAt: r.last_used_at,
      }));
    },

    async findPasskey(credentialId: string): Promise<(PasskeyCredential & { userId: string }) | undefined> {
      const r = await db
        .selectFrom('credentials')
        .selectAll()
        .where('lookup', '=', `webauthn:${credentialId}`)
        .executeTakeFirst();
      return r
        ? {
            id: r.id,
            userId: r.user_id,
            credentialId,
            data: parseJson(r.data, {}),
            createdAt: r.created_at,
            lastUsedAt: r.last_used_at,
          }
        : undefined;
    },

    async updatePasskey(id: string, data: Record<string, unknown>): Promise<void> {
      await db
        .updateTable('credentials')
        .set({ data: JSON.stringify(data), last_used_at: Date.now() })
        .where('id', '=', id)
        .execute();
    },

    /** Removes the passkeys and authenticator app added at or after `since`; returns how many. */
    async removeAddedSince(userId: string, since: number): Promise<number> {
      const result = await db
        .deleteFrom('credentials')
        .where('user_id', '=', userId)
        .where('type', 'in', ['webauthn', 'totp'])
        .where('created_at', '>=', since)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    async removePasskey(userId: string, id: string): Promise<boolean> {
      const r = await db
        .deleteFrom('credentials')
        .where('id', '=', id)
        .where('user_id', '=', userId)
        .where('type', '=', 'webauthn')
        .executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },

    async replaceRecoveryCodes(userId: string, hashes: string[]): Promise<void> {
      const now = Date.now();
      await db.transaction().execute(async (trx) => {
        await trx
          .deleteFrom('credentials')
          .where('user_id', '=', userId)
          .where('type', '=', 'recovery_code')
          .execute();
        for (const hash of hashes) {
          await trx
            .insertInto('credentials')
            .values({
              id: newId(now),
              user_id: userId,
              type: 'recovery_code',
              secret: hash,
              lookup: null,
              data: '{}',
              created_at: now,
              last_used_at: null,
              used_at: null,
            })
            .execute();
        }
      });
    },

    async unusedRecoveryCodes(userId: string): Promise<{ id: string; hash: string }[]> {
      const rows = await db
        .selectFrom('credentials')
        .select(['id', 'secret'])
        .where('user_id', '=', userId)
        .where('type', '=', 'recovery_code')
        .where('used_at', 'is', null)
        .execute();
      return rows.map((r) => ({ id: r.id, hash: r.secret ?? '' }));
    },

    /** Marks a recovery code used; false if it was already used (exactly one of two racers wins). */
    async useRecoveryCode(id: string): Promise<boolean> {
      const result = await db
        .updateTable('credentials')
        .set({ used_at: Date.now() })
        .where('id', '=', id)
        .where('used_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    /** When the TOTP and the most recent passkey were last used, to offer the last-used method first. */
    async lastUsed(userId: string): Promise<{ totp: number | null; passkey: number | null }> {
      const rows = await db
        .selectFrom('credentials')
        .select(['type', 'last_used_at'])
        .where('user_id', '=', userId)
        .where('type', 'in', ['totp', 'webauthn'])
        .execute();
      const latest = (type: string) =>
        rows
          .filter((r) => r.type === type && r.last_used_at !== null)
          .reduce<number | null>((max, r) => Math.max(max ?? 0, r.last_used_at ?? 0), null);
      return { totp: latest('totp'), passkey: latest('webauthn') };
    },

    async methodsOf(
      userId: string,
    ): Promise<{ totp: boolean; passkeys: number; recoveryCodes: number; password: boolean }> {
      const rows = await db
        .selectFrom('credentials')
        .select(['type', 'used_at'])
        .where('user_id', '=', userId)
        .execute();
      return {
        password: rows.some((r) => r.type === 'password'),
        totp: rows.some((r) => r.type === 'totp'),
        passkeys: rows.filter((r) => r.type === 'webauthn').length,
        recoveryCodes: rows.filter((r) => r.type === 'recovery_code' && r.used_at === null).length,
      };
    },
  };
}
