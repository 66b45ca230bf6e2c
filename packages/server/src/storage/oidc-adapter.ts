import { sql } from 'kysely';
import type { Adapter, AdapterConstructor, AdapterPayload } from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { Database } from './database.js';

export interface OidcAdapterOptions {
  /** Re-presenting a rotated refresh token within this window is forgiven once (0 disables). */
  refreshReuseGraceMs(): number;
  /** Clock in epoch milliseconds (tests). */
  now?: () => number;
}

type RecordRow = {
  payload: string;
  expires_at: number | null;
  consumed_at: number | null;
  grace_used_at: number | null;
};

const COLUMNS = ['payload', 'expires_at', 'consumed_at', 'grace_used_at'] as const;

/**
 * oidc-provider's storage adapter (its `adapter` option) on one table, `oidc_records`, keyed by
 * (model, id) with indexed grant_id, account_id, uid, user_code and expires_at. The engine constructs
 * it once per model name. Every call on the hot path is one statement.
 *
 * Contract, as the engine expects it (panva/node-oidc-provider example/my_adapter.js):
 * - `find`/`findByUid`/`findByUserCode` return the payload, or undefined when absent or expired;
 *   a consumed record carries `consumed: <epoch seconds>` (except during the refresh grace below).
 * - `destroy` removes one record; `revokeByGrantId` removes every record of a grant, whatever its model,
 *   the Grant itself included (a Grant row is indexed under its own id), in one statement (the engine
 *   calls it per model; the first call does the work).
 * - `upsert` keeps `created_at`, `consumed_at` and `grace_used_at` of an existing record.
 *
 * Single use (FACTS.md): the engine checks `consumed` after `find` and then calls `consume()` without
 * looking at its result. `consume` here is a conditional update (`consumed_at IS NULL`) that throws
 * the engine's own InvalidGrant when it changed nothing, so of two simultaneous uses of one code or
 * refresh token exactly one wins.
 *
 * Refresh-token reuse grace (DESIGN §5; model RefreshToken only, `refreshReuseGraceMs() > 0`): a
 * rotated refresh token presented again within the window is forgiven once, for a client that lost
 * the response to its refresh request.
 * - `find` returns such a token (consumed less than `grace` ms ago, grace unused) WITHOUT `consumed`,
 *   so the engine does not revoke the grant family and goes on to `consume` it.
 * - `consume` fails its normal conditional update and then tries one conditional update that marks
 *   `grace_used_at`, only while the token is inside the window, its grace is unused, and its rotation
 *   has finished: an unused successor RefreshToken of the same grant was created after this one was
 *   consumed. It then destroys that successor (the response the client lost), so one live chain
 *   remains, and returns: the engine issues a fresh token.
 * - When no successor exists yet (a true race: the first request has not finished) or the grace was
 *   already used (two retries racing), `consume` throws InvalidGrant and revokes nothing.
 * - When the successor exists but has itself been used, the client did receive the rotated token:
 *   the old token is a replay, so `consume` revokes the grant family (as the engine does outside the
 *   window) and throws InvalidGrant.
 * Outside the window, with the grace used, or with grace 0, `find` reports `consumed` and the engine
 * revokes the whole grant family itself.
 */
export function createOidcAdapter(database: Database, options: OidcAdapterOptions): AdapterConstructor {
  const { db } = database;
  const now = options.now ?? Date.now;

  return class LatchkeyOidcAdapter implements Adapter {
    readonly #grace: () => number;

    constructor(readonly model: string) {
      this.#grace = model === 'RefreshToken' ? () => options.refreshReuseGraceMs() : () => 0;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      const at = now();
      const session = (payload as { session?: { accountId?: unknown } }).session;
      const accountId =
        payload.accountId ?? (typeof session?.accountId === 'string' ? session.accountId : undefined);
      const values = {
        payload: JSON.stringify(payload),
        // A grant is its own family: indexing it under its id lets revokeByGrantId remove it too.
        grant_id: payload.grantId ?? (this.model === 'Grant' ? id : null),
        account_id: accountId ?? null,
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

    #hydrate(row: RecordRow | undefined): AdapterPayload | undefined {
      if (!row) return undefined;
      const at = now();
      if (row.expires_at !== null && row.expires_at <= at) return undefined;
      const payload = JSON.parse(row.payload) as AdapterPayload;
      // The column is the truth; a `consumed` inside the stored JSON is not.
      delete payload.consumed;
      if (row.consumed_at !== null) {
        const grace = this.#grace();
        const forgivable = grace > 0 && row.grace_used_at === null && at - row.consumed_at < grace;
        if (!forgivable) payload.consumed = Math.floor(row.consumed_at / 1000);
      }
      return payload;
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      const row = await db
        .selectFrom('oidc_records')
        .select(COLUMNS)
        .where('model', '=', this.model)
        .where('id', '=', id)
        .executeTakeFirst();
      return this.#hydrate(row);
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const row = await db
        .selectFrom('oidc_records')
        .select(COLUMNS)
        .where('model', '=', this.model)
        .where('uid', '=', uid)
        .executeTakeFirst();
      return this.#hydrate(row);
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      const row = await db
        .selectFrom('oidc_records')
        .select(COLUMNS)
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

      const grace = this.#grace();
      if (grace > 0 && (await forgive(id, at, grace))) return;
      throw new errors.InvalidGrant(
        this.model === 'RefreshToken' ? 'refresh token already used' : 'grant already used',
      );
    }

    async destroy(id: string): Promise<void> {
      await db.deleteFrom('oidc_records').where('model', '=', this.model).where('id', '=', id).execute();
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await db.deleteFrom('oidc_records').where('grant_id', '=', grantId).execute();
    }
  };

  /**
   * The one-time grace for a rotated refresh token (see above). Runs only after a failed consume, so
   * its extra statements never touch the hot path. True when forgiven.
   */
  async function forgive(id: string, at: number, grace: number): Promise<boolean> {
    return db.transaction().execute(async (trx) => {
      const marked = await trx
        .updateTable('oidc_records')
        .set({ grace_used_at: at })
        .where('model', '=', 'RefreshToken')
        .where('id', '=', id)
        .where('grant_id', 'is not', null)
        .where('consumed_at', '>', at - grace)
        .where('grace_used_at', 'is', null)
        .where(({ exists, selectFrom }) =>
          exists(
            selectFrom('oidc_records as successor')
              .select(sql<number>`1`.as('one'))
              .where('successor.model', '=', 'RefreshToken')
              .whereRef('successor.grant_id', '=', 'oidc_records.grant_id')
              .whereRef('successor.id', '!=', 'oidc_records.id')
              .whereRef('successor.created_at', '>=', 'oidc_records.consumed_at')
              .where('successor.consumed_at', 'is', null),
          ),
        )
        .returning(['grant_id', 'consumed_at'])
        .executeTakeFirst();

      if (marked?.grant_id && marked.consumed_at !== null) {
        // The successor is the response the client lost: without it, one live chain remains.
        await trx
          .deleteFrom('oidc_records')
          .where('model', '=', 'RefreshToken')
          .where('grant_id', '=', marked.grant_id)
          .where('id', '!=', id)
          .where('created_at', '>=', marked.consumed_at)
          .where('consumed_at', 'is', null)
          .execute();
        return true;
      }

      // Not forgiven. If the rotation's successor was itself used, the client got the rotated token
      // and this is a replay of an old one: revoke the family, as the engine does outside the window.
      const replayed = await trx
        .selectFrom('oidc_records as old')
        .innerJoin('oidc_records as successor', (join) =>
          join
            .onRef('successor.grant_id', '=', 'old.grant_id')
            .on('successor.model', '=', 'RefreshToken')
            .onRef('successor.id', '!=', 'old.id')
            .onRef('successor.created_at', '>=', 'old.consumed_at'),
        )
        .select('old.grant_id')
        .where('old.model', '=', 'RefreshToken')
        .where('old.id', '=', id)
        .where('old.grace_used_at', 'is', null)
        .where('successor.consumed_at', 'is not', null)
        .executeTakeFirst();
      if (replayed?.grant_id)
        await trx.deleteFrom('oidc_records').where('grant_id', '=', replayed.grant_id).execute();
      return false;
    });
  }
}

/**
 * "Revoke everything for this user": sessions, grants, codes, tokens and in-flight interactions of
 * the account, in one statement. Returns how many records were removed.
 */
export async function revokeAllForAccount(database: Database, accountId: string): Promise<number> {
  const result = await database.db
    .deleteFrom('oidc_records')
    .where('account_id', '=', accountId)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

export interface AccountRecord {
  model: string;
  id: string;
  grantId: string | null;
  clientId: string | undefined;
  createdAt: number;
  expiresAt: number | null;
}

/** Live sessions, grants and refresh tokens of a user, for `latchkey admin sessions list`. */
export async function listAccountRecords(
  database: Database,
  accountId: string,
  now: number = Date.now(),
): Promise<AccountRecord[]> {
  const rows = await database.db
    .selectFrom('oidc_records')
    .select(['model', 'id', 'grant_id', 'created_at', 'expires_at', 'payload'])
    .where('account_id', '=', accountId)
    .where('model', 'in', ['Session', 'Grant', 'RefreshToken'])
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
    .orderBy('created_at')
    .execute();
  return rows.map((r) => {
    const payload = JSON.parse(r.payload) as { clientId?: string };
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
