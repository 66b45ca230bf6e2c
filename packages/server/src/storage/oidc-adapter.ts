import { errors } from 'oidc-provider';
import type { Database } from './database.js';

type Payload = Record<string, unknown> & {
  grantId?: string;
  accountId?: string;
  uid?: string;
  userCode?: string;
  consumed?: number;
};

export interface OidcAdapterOptions {
  /** Re-presenting a rotated refresh token within this window is forgiven once (0 disables). */
  refreshReuseGraceMs(): number;
  now?: () => number;
}

/**
 * oidc-provider's storage adapter on one table, `oidc_records`, keyed by (model, id) with indexed
 * grant_id, account_id, uid, user_code and expires_at. One query per call on the hot path.
 *
 * Single use (FACTS.md): the engine checks `consumed` after `find` and then calls `consume()`
 * without looking at its result. `consume` here is a conditional update (`consumed_at IS NULL`) that
 * throws the engine's own InvalidGrant when it changed nothing, so of two simultaneous uses of one
 * code or refresh token exactly one wins.
 *
 * Refresh-token reuse grace (DESIGN §5): a rotated refresh token presented again within the grace
 * window is forgiven once, for a client that lost the response:
 *   - `find` hides `consumed` for such a token (otherwise the engine revokes the whole grant);
 *   - `consume` then marks `grace_used_at`, but only if the first rotation has finished (a successor
 *     refresh token of the grant exists). The successor is destroyed, so one live chain remains, and
 *     the engine issues a fresh token to the retrying client.
 *   - When the first request has not finished yet (a true race), or the grace was already used,
 *     `consume` throws InvalidGrant and revokes nothing.
 * Outside the window the engine sees `consumed` and revokes the grant family itself.
 */
export function createOidcAdapter(database: Database, options: OidcAdapterOptions) {
  const { db } = database;
  const now = options.now ?? Date.now;

  return class LatchkeyAdapter {
    constructor(readonly model: string) {}

    async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
      const at = now();
      const values = {
        payload: JSON.stringify(payload),
        // A grant is its own family: indexing it under its id lets revokeByGrantId remove it too.
        grant_id: payload.grantId ?? (this.model === 'Grant' ? id : null),
        account_id: payload.accountId ?? null,
        uid: payload.uid ?? null,
        user_code: payload.userCode ?? null,
        expires_at: expiresIn ? at + expiresIn * 1000 : null,
      };
      await db
        .insertInto('oidc_records')
        .values({ model: this.model, id, ...values, consumed_at: null, grace_used_at: null, created_at: at })
        .onConflict((oc) => oc.columns(['model', 'id']).doUpdateSet(values))
        .execute();
    }

    #hydrate(
      row:
        | {
            payload: string;
            expires_at: number | null;
            consumed_at: number | null;
            grace_used_at: number | null;
          }
        | undefined,
    ) {
      if (!row) return undefined;
      const at = now();
      if (row.expires_at !== null && row.expires_at <= at) return undefined;
      const payload = JSON.parse(row.payload) as Payload;
      if (row.consumed_at !== null) {
        const grace = this.model === 'RefreshToken' ? options.refreshReuseGraceMs() : 0;
        const forgivable = grace > 0 && row.grace_used_at === null && at - row.consumed_at < grace;
        if (!forgivable) payload.consumed = Math.floor(row.consumed_at / 1000);
      }
      return payload;
    }

    async find(id: string) {
      const row = await db
        .selectFrom('oidc_records')
        .select(['payload', 'expires_at', 'consumed_at', 'grace_used_at'])
        .where('model', '=', this.model)
        .where('id', '=', id)
        .executeTakeFirst();
      return this.#hydrate(row);
    }

    async findByUid(uid: string) {
      const row = await db
        .selectFrom('oidc_records')
        .select(['payload', 'expires_at', 'consumed_at', 'grace_used_at'])
        .where('model', '=', this.model)
        .where('uid', '=', uid)
        .executeTakeFirst();
      return this.#hydrate(row);
    }

    async findByUserCode(userCode: string) {
      const row = await db
        .selectFrom('oidc_records')
        .select(['payload', 'expires_at', 'consumed_at', 'grace_used_at'])
        .where('model', '=', this.model)
        .where('user_code', '=', userCode)
        .executeTakeFirst();
      return this.#hydrate(row);
    }

    async consume(id: string): Promise<void> {
      const at = now();
      const first = await db
        .updateTable('oidc_records')
        .set({ consumed_at: at })
        .where('model', '=', this.model)
        .where('id', '=', id)
        .where('consumed_at', 'is', null)
        .executeTakeFirst();
      if (Number(first.numUpdatedRows) === 1) return;

      const grace = this.model === 'RefreshToken' ? options.refreshReuseGraceMs() : 0;
      if (grace > 0 && (await this.#forgive(id, at, grace))) return;
      throw new errors.InvalidGrant(
        `${this.model === 'RefreshToken' ? 'refresh token' : 'grant'} already used`,
      );
    }

    /** Uses the one-time grace for a rotated refresh token whose rotation has completed. */
    async #forgive(id: string, at: number, grace: number): Promise<boolean> {
      return db.transaction().execute(async (trx) => {
        const row = await trx
          .selectFrom('oidc_records')
          .select(['grant_id', 'consumed_at'])
          .where('model', '=', 'RefreshToken')
          .where('id', '=', id)
          .executeTakeFirst();
        if (!row?.grant_id || row.consumed_at === null) return false;
        const successors = await trx
          .selectFrom('oidc_records')
          .select('id')
          .where('model', '=', 'RefreshToken')
          .where('grant_id', '=', row.grant_id)
          .where('id', '!=', id)
          .where('created_at', '>=', row.consumed_at)
          .where('consumed_at', 'is', null)
          .execute();
        if (successors.length === 0) return false;
        const marked = await trx
          .updateTable('oidc_records')
          .set({ grace_used_at: at })
          .where('model', '=', 'RefreshToken')
          .where('id', '=', id)
          .where('grace_used_at', 'is', null)
          .where('consumed_at', '>', at - grace)
          .executeTakeFirst();
        if (Number(marked.numUpdatedRows) !== 1) return false;
        await trx
          .deleteFrom('oidc_records')
          .where('model', '=', 'RefreshToken')
          .where(
            'id',
            'in',
            successors.map((s) => s.id),
          )
          .execute();
        return true;
      });
    }

    async destroy(id: string): Promise<void> {
      await db.deleteFrom('oidc_records').where('model', '=', this.model).where('id', '=', id).execute();
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await db.deleteFrom('oidc_records').where('grant_id', '=', grantId).execute();
    }
  };
}

/** "Revoke everything for this user": sessions, grants, codes and tokens in one statement. */
export async function revokeAllForAccount(database: Database, accountId: string): Promise<number> {
  const result = await database.db
    .deleteFrom('oidc_records')
    .where('account_id', '=', accountId)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Live sessions and grants of a user, for `latchkey admin sessions list`. */
export async function listAccountRecords(database: Database, accountId: string) {
  const rows = await database.db
    .selectFrom('oidc_records')
    .select(['model', 'id', 'grant_id', 'created_at', 'expires_at', 'payload'])
    .where('account_id', '=', accountId)
    .where('model', 'in', ['Session', 'Grant', 'RefreshToken'])
    .orderBy('created_at')
    .execute();
  return rows
    .filter((r) => r.expires_at === null || r.expires_at > Date.now())
    .map((r) => {
      const payload = JSON.parse(r.payload) as { clientId?: string; consumed?: number };
      return {
        model: r.model,
        id: r.id,
        grantId: r.grant_id,
        clientId: payload.clientId,
        createdAt: r.created_at,
        expiresAt: r.expires_at,
      };
    });
}
