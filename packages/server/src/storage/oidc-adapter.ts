import type { Adapter, AdapterConstructor, AdapterPayload } from 'oidc-provider';
import Provider, { errors } from 'oidc-provider';
import { latestIdentityProfile, scimGroupNames } from './account-row.js';
import type { Database } from './database.js';
import { heldRotationOf, holdConsume, writeHeld } from './held-rotation.js';
import { param, prepared } from './prepared-statements.js';
import { createRecordIds, restoredPayload, storedPayload } from './record-ids.js';
import {
  createReuseGrace,
  createRotationKeyLookup,
  familyOf,
  hidesConsumed,
  markRotating,
  type RefreshFamilyRevoked,
} from './refresh-reuse-grace.js';
import { isRefreshGrant, rememberAccountRead, rememberTokenRead, tokenReadOf } from './request-scope.js';
import { createRotationCommit, type RecordValues } from './rotation-commit.js';
import { recordSessionEnd, type SessionEndReason } from './session-ends.js';

// The names other modules import from here (the adapter's parts live in their own modules).
export { type AccountRecord, listAccountRecords, revokeAllForAccount } from './account-records.js';
export { heldWritesMiddleware } from './held-rotation.js';
export { param, prepared } from './prepared-statements.js';
export type { RefreshFamilyRevoked } from './refresh-reuse-grace.js';
export { prefetchedAccount, REQUEST_RECEIVED_AT } from './request-scope.js';

export interface OidcAdapterOptions {
  /**
   * The key record ids are hashed under (record-ids.ts): `deriveKey(secret, 'latchkey/record-ids')`.
   * Refresh tokens, codes, device codes, access tokens and browser sessions are stored and looked up
   * by HMAC-SHA256 of their value, never as issued.
   */
  recordIdKey: Buffer;
  /** Re-presenting a rotated refresh token within this window is forgiven once (0 disables). */
  refreshReuseGraceMs(): number;
  /** Clock in epoch milliseconds (tests). */
  now?: () => number;
  /**
   * Told after a refresh-token family was revoked because its chain was forked (a successor the
   * grace superseded came back) or replayed inside the window: for the audit log. Awaited.
   */
  onRefreshFamilyRevoked?: (event: RefreshFamilyRevoked) => void | Promise<void>;
  /**
   * The JWK thumbprint of the DPoP proof of engine request `ctx` (undefined without a proof), from
   * the protocol layer (protocol/dpop-binding.ts). With it, a rotated refresh token re-presented
   * without the rotating request's key is theft: the family ends (see `find`).
   */
  proofKeyOf?: (ctx: unknown) => Promise<string | undefined>;
}

type RecordRow = {
  payload: string;
  expires_at: number | null;
  consumed_at: number | null;
  grace_used_at: number | null;
  superseded_at?: number | null;
};

type FoundWithGrant = RecordRow & {
  superseded_at: number | null;
  grant_id: string | null;
  grant_payload: string | null;
  grant_expires_at: number | null;
  grant_consumed_at: number | null;
  account_id: string | null;
  account_organization_id: string | null;
  account_email: string | null;
  account_name: string | null;
  account_status: string | null;
  account_profile: string | null;
  account_scim_groups: string | null;
};

const COLUMNS = ['payload', 'expires_at', 'consumed_at', 'grace_used_at', 'superseded_at'] as const;

/**
 * oidc-provider's storage adapter (its `adapter` option) on one table, `oidc_records`, keyed by
 * (model, id) with indexed grant_id, account_id, uid, user_code and expires_at. The engine constructs
 * it once per model name. Every call on the hot path is one statement; a refresh grant reads once (the
 * token with its grant and account) and commits once (the rotation).
 *
 * Bearer secrets (refresh tokens, codes, device and user codes, access tokens, session ids) are
 * stored and looked up under a keyed hash of their value, with no `jti` in the stored payload
 * (record-ids.ts): a copy of the database alone signs nobody in. Below, "id" is the stored id.
 *
 * Contract, as the engine expects it (panva/node-oidc-provider example/my_adapter.js):
 * - `find`/`findByUid`/`findByUserCode` return the payload, or undefined when absent or expired;
 *   a consumed record carries `consumed: <epoch seconds>` (except during the refresh grace below).
 * - `destroy` removes one record; `revokeByGrantId` removes every record of a grant, whatever its model,
 *   the Grant itself included (a Grant row is indexed under its own id), in one statement (the engine
 *   calls it per model; the first call does the work).
 * - `upsert` keeps `created_at`, `consumed_at` and `grace_used_at` of an existing record.
 *
 * Single use: the engine checks `consumed` after `find` and then calls `consume()` without
 * looking at its result. `consume` here is a conditional update (`consumed_at IS NULL`) that throws
 * the engine's own InvalidGrant when it changed nothing, so of two simultaneous uses of one code or
 * refresh token exactly one wins. In a refresh grant, the consume of a token the request read unused
 * is held back and runs, still conditional, in one commit with the successor and the access token
 * (rotation-commit.ts); the loser of a race is then refused at that commit, the same way.
 *
 * Refresh-token reuse grace (model RefreshToken only, `refreshReuseGraceMs() > 0`): a
 * rotated refresh token presented again within the window is forgiven once, for a client that lost
 * the response to its refresh request.
 * - `find` returns such a token (consumed less than `grace` ms ago, grace unused) WITHOUT `consumed`,
 *   so the engine does not revoke the grant family and goes on to `consume` it.
 * - `consume` fails its normal conditional update and then tries one conditional update that marks
 *   `grace_used_at`, only while the token is inside the window, its grace is unused, and its rotation
 *   has finished: an unused successor RefreshToken of the same grant was created after this one was
 *   consumed. It then marks that successor `superseded_at` (the response the client lost; kept, not
 *   deleted), so one live chain remains, and returns: the engine issues a fresh token.
 * - A superseded refresh token presented later (any `find` of it) means two parties held the chain
 *   (a copied token re-presented inside the window): `find` revokes the whole grant family, the
 *   forgiven chain included, reports `fork_detected` through `onRefreshFamilyRevoked`, and returns
 *   undefined (invalid_grant). A client that really lost the response never presents it.
 * - When no successor exists yet (a true race: the first request has not finished) or the grace was
 *   already used (two retries racing), `consume` throws InvalidGrant and revokes nothing.
 * - When the successor exists but has itself been used, the client did receive the rotated token:
 *   the old token is a replay, so `consume` revokes the grant family (as the engine does outside the
 *   window) and throws InvalidGrant.
 * - DPoP (RFC 9449, with `proofKeyOf`): a rotated token is forgiven only when the request proves the
 *   key of the request that rotated it (the chain's `jkt`; for a token issued before DPoP, its
 *   successor's). A re-presentation without that proof, or with another key's, is theft: `find`
 *   revokes the grant family, reports `dpop_key_mismatch` and returns undefined (invalid_grant),
 *   inside the window or not. (An unrotated bound token without its proof is refused by the engine.)
 * Outside the window, with the grace used, or with grace 0, `find` reports `consumed` and the engine
 * revokes the whole grant family itself.
 */
export function createOidcAdapter(database: Database, options: OidcAdapterOptions): AdapterConstructor {
  const { db } = database;
  const now = options.now ?? Date.now;
  const ids = createRecordIds(options.recordIdKey);

  // The hot path runs on statements compiled once (see `prepared`): building and compiling Kysely
  // queries per call cost about a sixth of a refresh grant's CPU.
  const q = {
    find: prepared(
      db
        .selectFrom('oidc_records')
        .select(COLUMNS)
        .where('model', '=', param('model'))
        .where('id', '=', param('id')),
    ),
    // A refresh token or code is always followed by a lookup of its grant (the engine's
    // validateGrant): fetch both in one round trip.
    findWithGrant: prepared(
      db
        .selectFrom('oidc_records as r')
        .leftJoin('oidc_records as g', (join) =>
          join.on('g.model', '=', 'Grant').onRef('g.id', '=', 'r.grant_id'),
        )
        // …and the account the engine asks for next (see prefetchedAccount).
        .leftJoin('users as u', 'u.id', 'r.account_id')
        .select([
          'r.payload',
          'r.expires_at',
          'r.consumed_at',
          'r.grace_used_at',
          'r.superseded_at',
          'r.grant_id',
          'g.payload as grant_payload',
          'g.expires_at as grant_expires_at',
          'g.consumed_at as grant_consumed_at',
          'u.id as account_id',
          'u.organization_id as account_organization_id',
          'u.email as account_email',
          'u.name as account_name',
          'u.status as account_status',
        ])
        .select(latestIdentityProfile('u.id').as('account_profile'))
        .select(scimGroupNames('u.id', database.dialect).as('account_scim_groups'))
        .where('r.model', '=', param('model'))
        .where('r.id', '=', param('id')),
    ),
    // Each interaction page and resume finds the browser's Session by its uid.
    findByUid: prepared(
      db
        .selectFrom('oidc_records')
        .select([...COLUMNS, 'id'])
        .where('model', '=', param('model'))
        .where('uid', '=', param('uid')),
    ),
    findByUserCode: prepared(
      db
        .selectFrom('oidc_records')
        .select([...COLUMNS, 'id'])
        .where('model', '=', param('model'))
        .where('user_code', '=', param('user_code')),
    ),
    upsert: prepared(
      db
        .insertInto('oidc_records')
        .values({
          model: param('model'),
          id: param('id'),
          payload: param('payload'),
          grant_id: param('grant_id'),
          account_id: param('account_id'),
          uid: param('uid'),
          user_code: param('user_code'),
          expires_at: param('expires_at'),
          consumed_at: null,
          grace_used_at: null,
          created_at: param('created_at'),
          ip: param('ip'),
          user_agent: param('user_agent'),
          updated_at: param('updated_at'),
        })
        .onConflict((oc) =>
          oc.columns(['model', 'id']).doUpdateSet((eb) => ({
            payload: eb.ref('excluded.payload'),
            grant_id: eb.ref('excluded.grant_id'),
            account_id: eb.ref('excluded.account_id'),
            uid: eb.ref('excluded.uid'),
            user_code: eb.ref('excluded.user_code'),
            expires_at: eb.ref('excluded.expires_at'),
            ip: eb.ref('excluded.ip'),
            user_agent: eb.ref('excluded.user_agent'),
            updated_at: eb.ref('excluded.updated_at'),
          })),
        ),
    ),
    consume: prepared(
      db
        .updateTable('oidc_records')
        .set({ consumed_at: param('at') })
        .where('model', '=', param('model'))
        .where('id', '=', param('id'))
        .where('consumed_at', 'is', null)
        // A token superseded after this request read it (a forgiven retry meanwhile) is not rotated:
        // the request is refused as a race, and the token's next presentation is the fork.
        .where('superseded_at', 'is', null),
    ),
    destroy: prepared(
      db.deleteFrom('oidc_records').where('model', '=', param('model')).where('id', '=', param('id')),
    ),
    revoke: prepared(db.deleteFrom('oidc_records').where('grant_id', '=', param('grant_id'))),
  };
  const commitRotation = createRotationCommit(database, q);
  const forgiveReuse = createReuseGrace(db, options.onRefreshFamilyRevoked, database.dialect);
  const rotationKey = createRotationKeyLookup(db);

  /**
   * Removes every record of a grant and, when that removed anything, records the session end for
   * the account's live sign-out stream in the same transaction (storage/session-ends.ts).
   */
  const revokeGrant = (grantId: string, reason: SessionEndReason) =>
    db.transaction().execute(async (trx) => {
      const removed = await trx
        .deleteFrom('oidc_records')
        .where('grant_id', '=', grantId)
        .returning(['account_id', 'payload'])
        .execute();
      const accountId = removed.find((r) => r.account_id)?.account_id;
      if (accountId)
        await recordSessionEnd(trx, database.dialect, {
          accountId,
          grants: [{ id: grantId, clientId: clientIdOf(removed) }],
          reason,
        });
    });

  // Grants fetched with their token, waiting for the engine's Grant.find that follows within the same
  // request. Single use and short-lived, dropped whenever the grant is written or revoked here; a
  // revocation by another process in between is still caught by the conditional consume (the token
  // is gone by then).
  const prefetched = new Map<string, { row: RecordRow; at: number }>();
  const PREFETCH_MS = 1_000;
  const WITH_GRANT = new Set([
    'RefreshToken',
    'AuthorizationCode',
    'DeviceCode',
    'BackchannelAuthenticationRequest',
  ]);

  return class LatchkeyOidcAdapter implements Adapter {
    readonly #grace: () => number;

    constructor(readonly model: string) {
      this.#grace = model === 'RefreshToken' ? () => options.refreshReuseGraceMs() : () => 0;
    }

    async upsert(value: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      const at = now();
      const id = ids.write(this.model, value);
      const session = (payload as { session?: { accountId?: unknown } }).session;
      const accountId =
        payload.accountId ?? (typeof session?.accountId === 'string' ? session.accountId : undefined);
      if (this.model === 'Grant') prefetched.delete(id);
      const record: RecordValues = {
        model: this.model,
        id,
        payload: JSON.stringify(storedPayload(ids, this.model, value, payload)),
        // A grant is its own family: indexing it under its id lets revokeByGrantId remove it too.
        grant_id: payload.grantId ?? (this.model === 'Grant' ? id : null),
        account_id: accountId ?? null,
        uid: payload.uid ?? null,
        user_code: typeof payload.userCode === 'string' ? ids.userCode(payload.userCode) : null,
        expires_at: expiresIn ? at + expiresIn * 1000 : null,
        created_at: at,
        ...savedFrom(this.model, Provider.ctx),
        updated_at: at,
      };
      const ctx = Provider.ctx;
      const held = heldRotationOf(ctx);
      if (ctx && held) {
        // Joins the held rotation (held-rotation.ts): the access token's save commits it.
        await writeHeld(ctx, held, this.model, record);
        return;
      }
      await db.executeQuery(q.upsert(record));
    }

    /** `value`: the id the engine gets back as `jti` (what it asked for, or the stored id). */
    #hydrate(row: RecordRow | undefined, value: string): AdapterPayload | undefined {
      if (!row) return undefined;
      const at = now();
      if (row.expires_at !== null && row.expires_at <= at) return undefined;
      const payload = restoredPayload(ids, this.model, value, JSON.parse(row.payload)) as AdapterPayload;
      // The column is the truth; a `consumed` inside the stored JSON is not.
      delete payload.consumed;
      if (row.consumed_at !== null) {
        const forgivable = hidesConsumed(
          { consumed_at: row.consumed_at, grace_used_at: row.grace_used_at },
          this.#grace(),
          at,
          Provider.ctx,
        );
        if (!forgivable) payload.consumed = Math.floor(row.consumed_at / 1000);
      }
      return payload;
    }

    async find(value: string): Promise<AdapterPayload | undefined> {
      // Whatever the client presented is hashed (record-ids.ts): a stored id is not a token.
      const id = ids.lookup(this.model, value);
      if (this.model === 'Grant') {
        const hit = prefetched.get(id);
        if (hit) {
          prefetched.delete(id);
          if (now() - hit.at < PREFETCH_MS) return this.#hydrate(hit.row, value);
        }
      }
      let row: (RecordRow & { grant_id?: string | null }) | undefined;
      if (WITH_GRANT.has(this.model)) {
        const { rows } = await db.executeQuery<FoundWithGrant>(q.findWithGrant({ model: this.model, id }));
        const found = rows[0];
        if (found?.grant_id && found.grant_payload !== null) {
          if (prefetched.size >= 1_000) prefetched.clear();
          prefetched.set(found.grant_id, {
            at: now(),
            row: {
              payload: found.grant_payload,
              expires_at: found.grant_expires_at,
              consumed_at: found.grant_consumed_at,
              grace_used_at: null,
            },
          });
        }
        const ctx = Provider.ctx;
        if (ctx && found?.account_id && found.account_organization_id && found.account_status) {
          rememberAccountRead(ctx, {
            id: found.account_id,
            organization_id: found.account_organization_id,
            email: found.account_email,
            name: found.account_name,
            status: found.account_status,
            profile: found.account_profile,
            scim_groups: found.account_scim_groups,
          });
        }
        row = found;
      } else {
        row = (await db.executeQuery<RecordRow>(q.find({ model: this.model, id }))).rows[0];
      }
      if (row && this.model === 'RefreshToken') {
        if (row.superseded_at != null && row.grant_id) return this.#forked(row.grant_id, row.payload);
        if (row.consumed_at !== null && row.grant_id && options.proofKeyOf && isRefreshGrant(Provider.ctx)) {
          // RFC 9449 and the reuse grace: only the app, proving the key of the request that rotated
          // the token, is a retry after a lost response. Without that proof (none, or another key's)
          // a rotated token is in someone else's hands: the family ends, inside the window or not.
          const expected = await rotationKey(
            { grant_id: row.grant_id, consumed_at: row.consumed_at, payload: row.payload },
            id,
          );
          if (expected !== null && expected !== (await options.proofKeyOf(Provider.ctx)))
            return this.#forked(row.grant_id, row.payload, 'dpop_key_mismatch');
        }
        rememberTokenRead(Provider.ctx, id, { consumedAt: row.consumed_at, at: now() });
      }
      return this.#hydrate(row, value);
    }

    /**
     * A refresh token the reuse grace superseded was presented: whoever presents it did receive it,
     * so two parties held one chain (a copied token re-presented inside the window, forgiven as a
     * lost response). Nobody can tell which is the app: the whole family goes, the grant and every
     * token of it (the forgiven chain included), in one statement, reported as `fork_detected`.
     * Found as absent: the engine answers invalid_grant.
     */
    async #forked(
      grantId: string,
      payload: string,
      reason: RefreshFamilyRevoked['reason'] = 'fork_detected',
    ): Promise<undefined> {
      prefetched.delete(grantId);
      await revokeGrant(grantId, 'refresh_token_reuse');
      await options.onRefreshFamilyRevoked?.(familyOf(grantId, payload, reason));
      return undefined;
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const row = (await db.executeQuery<RecordRow & { id: string }>(q.findByUid({ model: this.model, uid })))
        .rows[0];
      // A Session found by uid comes back under its stored id (its cookie value is not kept).
      return row && this.#hydrate(row, row.id);
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      const row = (
        await db.executeQuery<RecordRow & { id: string }>(
          q.findByUserCode({ model: this.model, user_code: ids.userCode(userCode) }),
        )
      ).rows[0];
      // The device code's own value comes back from its sealed copy (record-ids.ts).
      return row && this.#hydrate(row, row.id);
    }

    async consume(value: string): Promise<void> {
      const at = now();
      const id = ids.write(this.model, value);
      const ctx = Provider.ctx;
      if (
        this.model === 'RefreshToken' &&
        ctx &&
        isRefreshGrant(ctx) &&
        tokenReadOf(ctx, id)?.consumedAt === null &&
        heldRotationOf(ctx) === undefined
      ) {
        // A rotation of a token this request read unconsumed: held back and committed with the
        // successor and the access token, in one commit (rotation-commit.ts).
        holdConsume(ctx, { model: this.model, id, at }, commitRotation);
        return;
      }
      const first = await db.executeQuery(q.consume({ model: this.model, id, at }));
      if (Number(first.numAffectedRows) === 1) {
        if (this.model === 'RefreshToken') markRotating(Provider.ctx, id, at);
        return;
      }

      const grace = this.#grace();
      if (grace > 0) {
        // Forgiven once for a lost response; refused for a race or a replay (refresh-reuse-grace.ts).
        if (await forgiveReuse(Provider.ctx, id, at, grace)) return;
      }
      throw new errors.InvalidGrant(
        this.model === 'RefreshToken' ? 'refresh token already used' : 'grant already used',
      );
    }

    async destroy(value: string): Promise<void> {
      const id = ids.write(this.model, value);
      if (this.model === 'Grant') prefetched.delete(id);
      await db.executeQuery(q.destroy({ model: this.model, id }));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      prefetched.delete(grantId);
      // The engine revokes a family when a rotated refresh token or a used code comes back (at the
      // token endpoint), and when the app itself revokes its token or signs out (revocation,
      // end-session). The engine calls this once per model: only the call that removed rows
      // reports the end.
      const route = (Provider.ctx as { oidc?: { route?: string } } | undefined)?.oidc?.route;
      await revokeGrant(grantId, route === 'token' ? 'refresh_token_reuse' : 'grant_revoked');
    }
  };
}

/** The client of a grant's removed records (each names it). */
function clientIdOf(rows: { payload: string }[]): string | undefined {
  for (const row of rows) {
    try {
      const clientId = (JSON.parse(row.payload) as { clientId?: unknown }).clientId;
      if (typeof clientId === 'string') return clientId;
    } catch {
      // The next record.
    }
  }
  return undefined;
}

/**
 * The models a person's session listing shows (domain/session-list.ts): where the engine request
 * that saved them came from. Koa's `ctx.ip` is the client's address as Fastify's trusted-proxy
 * verdict gave it (http/provider-mount.ts). Other models (access tokens, codes) keep nulls: nothing
 * lists them, and the hot path writes no extra bytes for them.
 */
const ORIGIN_MODELS = new Set(['Session', 'Grant', 'RefreshToken']);

function savedFrom(model: string, ctx: unknown): { ip: string | null; user_agent: string | null } {
  if (!ORIGIN_MODELS.has(model) || !ctx || typeof ctx !== 'object') return { ip: null, user_agent: null };
  const koa = ctx as { ip?: unknown; get?: (header: string) => string };
  const ip = typeof koa.ip === 'string' && koa.ip ? koa.ip.slice(0, 64) : null;
  const agent = typeof koa.get === 'function' ? koa.get('user-agent') : '';
  return { ip, user_agent: agent ? agent.slice(0, 512) : null };
}
