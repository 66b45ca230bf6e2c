import { type Compilable, CompiledQuery } from 'kysely';
import type { Adapter, AdapterConstructor, AdapterPayload } from 'oidc-provider';
import Provider, { errors } from 'oidc-provider';
import { type AccountRow, latestIdentityProfile } from './account-row.js';
import type { Database } from './database.js';
import { createRotationCommit, type HeldConsume, type RecordValues } from './rotation-commit.js';
import { asUnavailable } from './unavailable.js';

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

type FoundWithGrant = RecordRow & {
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
};

const COLUMNS = ['payload', 'expires_at', 'consumed_at', 'grace_used_at'] as const;

const SLOT = '\u0000latchkey-slot:';

/** A named placeholder for `prepared` (typed as anything so it fits every column). */
export function param(name: string): never {
  return `${SLOT}${name}` as never;
}

/**
 * Compiles a Kysely query once; each call returns it with the named `param()` slots filled in. The
 * SQL text (and so the dialect's placeholders) is fixed, only the parameter array changes.
 */
export function prepared(query: Compilable<unknown>): (values: Record<string, unknown>) => CompiledQuery {
  const { sql: text, parameters } = query.compile();
  const slots = parameters.map((p) =>
    typeof p === 'string' && p.startsWith(SLOT) ? p.slice(SLOT.length) : undefined,
  );
  return (values) =>
    CompiledQuery.raw(
      text,
      slots.map((name, i) => (name === undefined ? parameters[i] : (values[name] ?? null))),
    );
}

/** What a request saw when it read a refresh token (`find`), keyed by the engine's request context. */
interface TokenRead {
  consumedAt: number | null;
  at: number;
}
const tokenReads = new WeakMap<object, Map<string, TokenRead>>();

function remember(ctx: unknown, id: string, read: TokenRead): void {
  if (!ctx || typeof ctx !== 'object') return;
  let reads = tokenReads.get(ctx);
  if (!reads) {
    reads = new Map();
    tokenReads.set(ctx, reads);
  }
  reads.set(id, read);
}

function readsOf(ctx: unknown): Map<string, TokenRead> | undefined {
  return ctx && typeof ctx === 'object' ? tokenReads.get(ctx) : undefined;
}

/**
 * The account read along with a refresh token or code, for the same request's account lookup (the
 * engine asks for the account right after the token and its grant): keyed by the request context,
 * taken once, so it is never older than the request's own read of the token.
 */
const accountReads = new WeakMap<object, AccountRow>();

/** The account row this engine request read with its token, if it is `id`'s (once). */
export function prefetchedAccount(id: string): AccountRow | undefined {
  const ctx = Provider.ctx;
  if (!ctx) return undefined;
  const row = accountReads.get(ctx);
  if (row?.id !== id) return undefined;
  accountReads.delete(ctx);
  return row;
}

/**
 * Rotations this process ran lately: refresh-token id -> when its response was finished (Infinity
 * while it is still being answered). A second use that arrived before that moment overlapped the rotation:
 * a race, not a retry after a lost response, even when the successor is already stored. (For a
 * rotation run by another process the rule falls back to "the successor existed before the second
 * request read the token".) Entries are dropped a minute after they finish.
 */
const rotations = new Map<string, number>();
/**
 * A re-presentation that arrives within this time after the rotation answered is part of a race.
 * Requests are not always interleaved (a server may answer one completely before it even reads the
 * other, e.g. SQLite in one process), so "arrived after the answer" alone cannot tell two requests
 * sent together from a retry; a client that lost a response notices it later than this.
 */
const RACE_SETTLE_MS = 1_000;
const ROTATION_MEMORY_MS = 60_000;

function markRotating(ctx: unknown, id: string, at: number): void {
  const res = (ctx as { res?: { once?(event: 'close', listener: () => void): unknown } } | undefined)?.res;
  if (typeof res?.once !== 'function') return;
  for (const [old, finished] of rotations) {
    if (finished > at - ROTATION_MEMORY_MS) break;
    rotations.delete(old);
  }
  rotations.set(id, Number.POSITIVE_INFINITY);
  res.once('close', () => {
    // Re-inserted so the map stays ordered by finish time for the pruning above.
    rotations.delete(id);
    rotations.set(id, Date.now());
  });
}

/**
 * A rotation whose consume is held back until the request's last write (rotation-commit.ts), keyed by
 * the engine's request context.
 */
interface HeldRotation {
  consume: HeldConsume;
  records: RecordValues[];
  commit(consume: HeldConsume, records: RecordValues[]): Promise<boolean>;
}
const heldRotations = new WeakMap<object, HeldRotation>();

/** Commits a held rotation; the engine's InvalidGrant when another use of the token won meanwhile. */
async function commitHeld(ctx: object, held: HeldRotation): Promise<void> {
  heldRotations.delete(ctx);
  if (!(await held.commit(held.consume, held.records))) {
    // Consumed between this request's read and its commit: the two uses overlapped, a race. Exactly
    // one wins; this one is refused and nothing is revoked (as in `consume` below).
    throw new errors.InvalidGrant('refresh token already used');
  }
  markRotating(ctx, held.consume.id, held.consume.at);
}

/**
 * Engine middleware (`provider.use`) that settles what a request left held when its response is
 * ready: committed behind a successful response, dropped behind an error. The adapter commits at the
 * access token's save; this commits when the engine stores nothing after the successor refresh token
 * (a JWT access token for an API). A failed commit is answered as the engine answers a failure inside
 * the grant (the engine has already emitted `grant.success`; metrics count a grant on its response).
 */
export function heldWritesMiddleware(
  provider: Provider,
  onServerError?: (ctx: unknown, error: Error) => void,
): Parameters<Provider['use']>[0] {
  return async (ctx, next) => {
    await next();
    const held = heldRotations.get(ctx);
    if (!held) return;
    if (ctx.status >= 400) {
      heldRotations.delete(ctx);
      return;
    }
    try {
      await commitHeld(ctx, held);
    } catch (caught) {
      const error = asUnavailable(caught) as Error & {
        expose?: boolean;
        statusCode?: number;
        error_description?: string;
      };
      ctx.status = error.expose && error.statusCode ? error.statusCode : 500;
      ctx.body = error.expose
        ? { error: error.message, error_description: error.error_description }
        : { error: 'server_error', error_description: 'oops! something went wrong' };
      if (!error.expose) onServerError?.(ctx, error);
      provider.emit('grant.error', ctx, error);
    }
  };
}

/**
 * Set on the raw request (`IncomingMessage`) by the HTTP layer when a request reaches the engine
 * (http/provider-mount.ts): epoch milliseconds.
 */
export const REQUEST_RECEIVED_AT: unique symbol = Symbol.for('latchkey.requestReceivedAt');

function receivedAtOf(ctx: unknown): number | undefined {
  const req = (ctx as { req?: Record<symbol, unknown> } | undefined)?.req;
  const at = req?.[REQUEST_RECEIVED_AT];
  return typeof at === 'number' ? at : undefined;
}

/**
 * True inside a refresh-token grant, or outside any engine request (direct calls, tests). The grace
 * applies only there: introspection and revocation see a rotated token as what it is, consumed.
 */
function isRefreshGrant(ctx: unknown): boolean {
  if (!ctx || typeof ctx !== 'object' || !('oidc' in ctx)) return true;
  const oidc = (ctx as { oidc?: { route?: string; params?: { grant_type?: unknown } } }).oidc;
  return oidc?.route === 'token' && oidc.params?.grant_type === 'refresh_token';
}

/**
 * oidc-provider's storage adapter (its `adapter` option) on one table, `oidc_records`, keyed by
 * (model, id) with indexed grant_id, account_id, uid, user_code and expires_at. The engine constructs
 * it once per model name. Every call on the hot path is one statement; a refresh grant reads once (the
 * token with its grant and account) and commits once (the rotation).
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
 * refresh token exactly one wins. In a refresh grant, the consume of a token the request read unused
 * is held back and runs, still conditional, in one commit with the successor and the access token
 * (rotation-commit.ts); the loser of a race is then refused at that commit, the same way.
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
        .where('r.model', '=', param('model'))
        .where('r.id', '=', param('id')),
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
        })
        .onConflict((oc) =>
          oc.columns(['model', 'id']).doUpdateSet((eb) => ({
            payload: eb.ref('excluded.payload'),
            grant_id: eb.ref('excluded.grant_id'),
            account_id: eb.ref('excluded.account_id'),
            uid: eb.ref('excluded.uid'),
            user_code: eb.ref('excluded.user_code'),
            expires_at: eb.ref('excluded.expires_at'),
          })),
        ),
    ),
    consume: prepared(
      db
        .updateTable('oidc_records')
        .set({ consumed_at: param('at') })
        .where('model', '=', param('model'))
        .where('id', '=', param('id'))
        .where('consumed_at', 'is', null),
    ),
    destroy: prepared(
      db.deleteFrom('oidc_records').where('model', '=', param('model')).where('id', '=', param('id')),
    ),
    revoke: prepared(db.deleteFrom('oidc_records').where('grant_id', '=', param('grant_id'))),
  };
  const commitRotation = createRotationCommit(database, q);

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

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      const at = now();
      const session = (payload as { session?: { accountId?: unknown } }).session;
      const accountId =
        payload.accountId ?? (typeof session?.accountId === 'string' ? session.accountId : undefined);
      if (this.model === 'Grant') prefetched.delete(id);
      const record: RecordValues = {
        model: this.model,
        id,
        payload: JSON.stringify(payload),
        // A grant is its own family: indexing it under its id lets revokeByGrantId remove it too.
        grant_id: payload.grantId ?? (this.model === 'Grant' ? id : null),
        account_id: accountId ?? null,
        uid: payload.uid ?? null,
        user_code: payload.userCode ?? null,
        expires_at: expiresIn ? at + expiresIn * 1000 : null,
        created_at: at,
      };
      const ctx = Provider.ctx;
      const held = ctx ? heldRotations.get(ctx) : undefined;
      if (ctx && held) {
        held.records.push(record);
        // The successor waits for the access token, the rotation's last write. (An access token that
        // is a JWT is not stored: then the engine middleware commits, heldWritesMiddleware.)
        if (this.model === 'RefreshToken') return;
        await commitHeld(ctx, held);
        return;
      }
      await db.executeQuery(q.upsert(record));
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
        const forgivable =
          grace > 0 &&
          row.grace_used_at === null &&
          at - row.consumed_at < grace &&
          isRefreshGrant(Provider.ctx);
        if (!forgivable) payload.consumed = Math.floor(row.consumed_at / 1000);
      }
      return payload;
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.model === 'Grant') {
        const hit = prefetched.get(id);
        if (hit) {
          prefetched.delete(id);
          if (now() - hit.at < PREFETCH_MS) return this.#hydrate(hit.row);
        }
      }
      let row: RecordRow | undefined;
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
          accountReads.set(ctx, {
            id: found.account_id,
            organization_id: found.account_organization_id,
            email: found.account_email,
            name: found.account_name,
            status: found.account_status,
            profile: found.account_profile,
          });
        }
        row = found;
      } else {
        row = (await db.executeQuery<RecordRow>(q.find({ model: this.model, id }))).rows[0];
      }
      if (row && this.model === 'RefreshToken')
        remember(Provider.ctx, id, { consumedAt: row.consumed_at, at: now() });
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
      const ctx = Provider.ctx;
      if (
        this.model === 'RefreshToken' &&
        ctx &&
        isRefreshGrant(ctx) &&
        readsOf(ctx)?.get(id)?.consumedAt === null &&
        !heldRotations.has(ctx)
      ) {
        // A rotation of a token this request read unconsumed: held back and committed with the
        // successor and the access token, in one commit (rotation-commit.ts).
        heldRotations.set(ctx, {
          consume: { model: this.model, id, at },
          records: [],
          commit: commitRotation,
        });
        return;
      }
      const first = await db.executeQuery(q.consume({ model: this.model, id, at }));
      if (Number(first.numAffectedRows) === 1) {
        if (this.model === 'RefreshToken') markRotating(Provider.ctx, id, at);
        return;
      }

      const grace = this.#grace();
      if (grace > 0) {
        const seen = readsOf(Provider.ctx)?.get(id);
        // Overlapping uses are a race, not a retry after a lost response: this request read the token
        // before anyone had consumed it, or arrived while the rotation that consumed it was still being
        // answered (known in this process). Exactly one wins (the update above); the other is refused
        // and nothing is revoked.
        const readAt = seen?.at ?? at;
        const receivedAt = receivedAtOf(Provider.ctx);
        const answeredAt = rotations.get(id);
        const overlapped =
          (seen !== undefined && seen.consumedAt === null) ||
          (receivedAt !== undefined && answeredAt !== undefined && receivedAt < answeredAt);
        // Arrived right after the rotation answered (or, from another process, was consumed): most
        // likely sent together with it, so not forgiven either (see RACE_SETTLE_MS).
        const settledAt = answeredAt ?? seen?.consumedAt ?? null;
        const settling =
          receivedAt !== undefined && settledAt !== null && receivedAt < settledAt + RACE_SETTLE_MS;
        if (!overlapped && (await forgive(id, at, grace, readAt, settling))) return;
      }
      throw new errors.InvalidGrant(
        this.model === 'RefreshToken' ? 'refresh token already used' : 'grant already used',
      );
    }

    async destroy(id: string): Promise<void> {
      if (this.model === 'Grant') prefetched.delete(id);
      await db.executeQuery(q.destroy({ model: this.model, id }));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      prefetched.delete(grantId);
      await db.executeQuery(q.revoke({ grant_id: grantId }));
    }
  };

  /**
   * The one-time grace for a rotated refresh token (see above). Runs only after a failed consume, so
   * its extra statements never touch the hot path. `readAt` is when this request read the token
   * (`find`): the rotation must have completed before that, or the two requests overlapped (a race,
   * refused without revoking anything). `settling`: arrived too soon after the rotation to be a retry
   * (refused unless it is a replay). True when forgiven.
   */
  async function forgive(
    id: string,
    at: number,
    grace: number,
    readAt: number,
    settling: boolean,
  ): Promise<boolean> {
    return db.transaction().execute(async (trx) => {
      const old = await trx
        .selectFrom('oidc_records')
        .select(['grant_id', 'consumed_at', 'grace_used_at'])
        .where('model', '=', 'RefreshToken')
        .where('id', '=', id)
        .executeTakeFirst();
      if (!old?.grant_id || old.consumed_at === null) return false;
      const grantId = old.grant_id;

      // The successor this token's rotation issued: the grant's first refresh token created after it
      // was consumed (rotation saves it in the same request, right after the consume). Only this one
      // counts: a later generation (or another chain of the grant) says nothing about this token.
      const successor = await trx
        .selectFrom('oidc_records')
        .select(['id', 'consumed_at', 'created_at'])
        .where('model', '=', 'RefreshToken')
        .where('grant_id', '=', grantId)
        .where('id', '!=', id)
        .where('created_at', '>=', old.consumed_at)
        .orderBy('created_at')
        .orderBy('id')
        .limit(1)
        .executeTakeFirst();

      const revokeFamily = async () => {
        await trx
          .deleteFrom('oidc_records')
          .where((eb) =>
            eb.or([
              eb('grant_id', '=', grantId),
              eb.and([eb('model', '=', 'Grant'), eb('id', '=', grantId)]),
            ]),
          )
          .execute();
      };

      // The client received the rotated token and used it: the old one is a replay. Revoke the
      // family, as the engine does outside the window.
      if (successor && successor.consumed_at !== null) {
        await revokeFamily();
        return false;
      }
      // No successor yet, or it appeared after this request read the token: the first rotation had
      // not finished when this request started. A race, not a lost response: refuse, revoke nothing.
      if (!successor || successor.created_at > readAt || settling) return false;
      if (old.grace_used_at !== null || at - old.consumed_at >= grace) return false;

      const marked = await trx
        .updateTable('oidc_records')
        .set({ grace_used_at: at })
        .where('model', '=', 'RefreshToken')
        .where('id', '=', id)
        .where('grace_used_at', 'is', null)
        .executeTakeFirst();
      if (Number(marked.numUpdatedRows) !== 1) return false;

      // The successor is the response the client lost: without it, one live chain remains. If it was
      // used in the meantime after all, the client had it: a replay.
      const dropped = await trx
        .deleteFrom('oidc_records')
        .where('model', '=', 'RefreshToken')
        .where('id', '=', successor.id)
        .where('consumed_at', 'is', null)
        .executeTakeFirst();
      if (Number(dropped.numDeletedRows) !== 1) {
        await revokeFamily();
        return false;
      }
      return true;
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
