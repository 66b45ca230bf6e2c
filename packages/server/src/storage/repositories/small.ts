import type { ResourceConfig } from '../../config/types.js';
import { newId } from '../../crypto/ids.js';
import type { SecretBox } from '../../crypto/secret-box.js';
import type { StoredKey } from '../../protocol/keys.js';
import type { Database } from '../database.js';
import { insertUnique } from '../errors.js';
import { parseJson } from '../json.js';

/** Resources (APIs). Contract: keyed by their identifier (the access token audience); `upsert` replaces. */
export function resourcesRepository(database: Database) {
  const { db } = database;
  const toResource = (r: { id: string; name: string; scopes: string; access_token_ttl: number | null }) => ({
    id: r.id,
    name: r.name,
    scopes: parseJson<string[]>(r.scopes, []),
    accessTokenTtl: r.access_token_ttl ?? undefined,
  });
  return {
    async upsert(resource: ResourceConfig): Promise<void> {
      const values = {
        name: resource.name,
        scopes: JSON.stringify(resource.scopes),
        access_token_ttl: resource.accessTokenTtl ?? null,
      };
      await db
        .insertInto('resources')
        .values({ id: resource.id, ...values, created_at: Date.now() })
        .onConflict((oc) => oc.column('id').doUpdateSet(values))
        .execute();
    },
    async find(id: string): Promise<ResourceConfig | undefined> {
      const row = await db.selectFrom('resources').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toResource(row) : undefined;
    },
    async list(): Promise<ResourceConfig[]> {
      const rows = await db.selectFrom('resources').selectAll().orderBy('id').execute();
      return rows.map(toResource);
    },
    async remove(id: string): Promise<boolean> {
      const r = await db.deleteFrom('resources').where('id', '=', id).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
  };
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

export interface AuditEvent {
  id: string;
  at: number;
  action: string;
  outcome: 'success' | 'failure' | 'info';
  actor: string | null;
  userId: string | null;
  organizationId: string | null;
  clientId: string | null;
  ip: string | null;
  userAgent: string | null;
  details: Record<string, unknown>;
}

/** Audit events. Contract: append-only — there is no update or delete. */
export function auditRepository(database: Database) {
  const { db } = database;
  return {
    async append(event: {
      action: string;
      outcome: 'success' | 'failure' | 'info';
      actor?: string | undefined;
      userId?: string | undefined;
      organizationId?: string | undefined;
      clientId?: string | undefined;
      ip?: string | undefined;
      userAgent?: string | undefined;
      details?: Record<string, unknown> | undefined;
    }): Promise<void> {
      const now = Date.now();
      await db
        .insertInto('audit_events')
        .values({
          id: newId(now),
          at: now,
          action: event.action,
          outcome: event.outcome,
          actor: event.actor ?? null,
          user_id: event.userId ?? null,
          organization_id: event.organizationId ?? null,
          client_id: event.clientId ?? null,
          ip: event.ip ?? null,
          user_agent: event.userAgent?.slice(0, 512) ?? null,
          details: JSON.stringify(event.details ?? {}),
        })
        .execute();
    },
    async query(
      filter: { userId?: string; since?: number; action?: string; limit?: number } = {},
    ): Promise<AuditEvent[]> {
      let q = db
        .selectFrom('audit_events')
        .selectAll()
        .orderBy('at', 'desc')
        .orderBy('id', 'desc')
        .limit(filter.limit ?? 100);
      if (filter.userId) q = q.where('user_id', '=', filter.userId);
      if (filter.since !== undefined) q = q.where('at', '>=', filter.since);
      if (filter.action) q = q.where('action', '=', filter.action);
      const rows = await q.execute();
      return rows.map((r) => ({
        id: r.id,
        at: r.at,
        action: r.action,
        outcome: r.outcome,
        actor: r.actor,
        userId: r.user_id,
        organizationId: r.organization_id,
        clientId: r.client_id,
        ip: r.ip,
        userAgent: r.user_agent,
        details: parseJson(r.details, {}),
      }));
    },
  };
}

/** Per-interaction sign-in progress. Contract: expired rows read as absent. */
export function signInStatesRepository(database: Database) {
  const { db } = database;
  return {
    async get(id: string): Promise<Record<string, unknown> | undefined> {
      const row = await db
        .selectFrom('sign_in_states')
        .select(['data', 'expires_at'])
        .where('id', '=', id)
        .executeTakeFirst();
      if (!row || row.expires_at <= Date.now()) return undefined;
      return parseJson(row.data, {});
    },
    async put(id: string, data: Record<string, unknown>, expiresAt: number): Promise<void> {
      const values = { data: JSON.stringify(data), expires_at: expiresAt };
      await db
        .insertInto('sign_in_states')
        .values({ id, ...values })
        .onConflict((oc) => oc.column('id').doUpdateSet(values))
        .execute();
    },
    async delete(id: string): Promise<void> {
      await db.deleteFrom('sign_in_states').where('id', '=', id).execute();
    },
  };
}

/**
 * Upstream round trips (OIDC state, SAML request ids), correlated across server processes.
 * Contract: ids are unique (create throws DuplicateError); `consume` returns the request to exactly one
 * caller, before it expires — a second or concurrent consume gets undefined.
 */
export function upstreamRequestsRepository(database: Database) {
  const { db } = database;
  return {
    async create(input: {
      id: string;
      connectionId: string;
      interactionUid: string;
      data: Record<string, unknown>;
      expiresAt: number;
    }): Promise<void> {
      await insertUnique(
        () =>
          db
            .insertInto('upstream_requests')
            .values({
              id: input.id,
              connection_id: input.connectionId,
              interaction_uid: input.interactionUid,
              data: JSON.stringify(input.data),
              expires_at: input.expiresAt,
              consumed_at: null,
            })
            .execute(),
        'upstream request id already used',
      );
    },
    /** Returns the request once; a second (or concurrent) consume gets undefined. */
    async consume(
      id: string,
    ): Promise<{ connectionId: string; interactionUid: string; data: Record<string, unknown> } | undefined> {
      const now = Date.now();
      // One conditional UPDATE … RETURNING: the row comes back to exactly one caller.
      const row = await db
        .updateTable('upstream_requests')
        .set({ consumed_at: now })
        .where('id', '=', id)
        .where('consumed_at', 'is', null)
        .where('expires_at', '>', now)
        .returning(['connection_id', 'interaction_uid', 'data'])
        .executeTakeFirst();
      if (!row) return undefined;
      return {
        connectionId: row.connection_id,
        interactionUid: row.interaction_uid,
        data: parseJson(row.data, {}),
      };
    },
  };
}

/**
 * One-time use of values (SAML assertion ids, …).
 * Contract: `remember(key, expiresAt)` resolves true for the first caller and false while the key is
 * remembered and unexpired — atomically, across processes. An expired entry counts as absent.
 */
export function replayCacheRepository(database: Database) {
  const { db } = database;
  return {
    async remember(key: string, expiresAt: number): Promise<boolean> {
      const now = Date.now();
      // One statement: insert, or take over an expired entry the sweeper has not removed yet; an
      // unexpired entry is left alone and reports no row changed (ON CONFLICT … DO UPDATE … WHERE).
      const result = await db
        .insertInto('replay_cache')
        .values({ key, expires_at: expiresAt })
        .onConflict((oc) =>
          oc.column('key').doUpdateSet({ expires_at: expiresAt }).where('replay_cache.expires_at', '<=', now),
        )
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
    },
  };
}

/**
 * One-time links (password reset). Contract: only the token's hash is stored (`sha256Base64url`);
 * `consume` succeeds at most once, before expiry, for the right kind.
 */
export function actionTokensRepository(database: Database) {
  const { db } = database;
  return {
    async create(input: {
      tokenHash: string;
      kind: string;
      userId: string;
      expiresAt: number;
    }): Promise<void> {
      await db
        .insertInto('action_tokens')
        .values({
          token_hash: input.tokenHash,
          kind: input.kind,
          user_id: input.userId,
          expires_at: input.expiresAt,
          used_at: null,
          created_at: Date.now(),
        })
        .execute();
    },
    async peek(tokenHash: string, kind: string): Promise<{ userId: string } | undefined> {
      const row = await db
        .selectFrom('action_tokens')
        .select('user_id')
        .where('token_hash', '=', tokenHash)
        .where('kind', '=', kind)
        .where('used_at', 'is', null)
        .where('expires_at', '>', Date.now())
        .executeTakeFirst();
      return row ? { userId: row.user_id } : undefined;
    },
    /** Uses the token: its user for exactly one caller before expiry, undefined otherwise. */
    async consume(tokenHash: string, kind: string): Promise<{ userId: string } | undefined> {
      const now = Date.now();
      const row = await db
        .updateTable('action_tokens')
        .set({ used_at: now })
        .where('token_hash', '=', tokenHash)
        .where('kind', '=', kind)
        .where('used_at', 'is', null)
        .where('expires_at', '>', now)
        .returning('user_id')
        .executeTakeFirst();
      return row ? { userId: row.user_id } : undefined;
    },
  };
}
