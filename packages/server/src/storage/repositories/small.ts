import type { ResourceConfig } from '../../config/types.js';
import { newId } from '../../crypto/ids.js';
import type { SecretBox } from '../../crypto/secret-box.js';
import type { StoredKey } from '../../protocol/keys.js';
import type { Database } from '../database.js';
import { parseJson } from '../json.js';

/** Resources (APIs). Contract: keyed by their identifier (the access token audience). */
export function resourcesRepository(database: Database) {
  const { db } = database;
  return {
    async upsert(resource: ResourceConfig): Promise<void> {
      const values = {
        name: resource.name,
        scopes: JSON.stringify(resource.scopes),
        access_token_ttl: resource.accessTokenTtl ?? null,
      };
      const existing = await db
        .selectFrom('resources')
        .select('id')
        .where('id', '=', resource.id)
        .executeTakeFirst();
      if (existing) await db.updateTable('resources').set(values).where('id', '=', resource.id).execute();
      else
        await db
          .insertInto('resources')
          .values({ id: resource.id, ...values, created_at: Date.now() })
          .execute();
    },
    async list(): Promise<ResourceConfig[]> {
      const rows = await db.selectFrom('resources').selectAll().orderBy('id').execute();
      return rows.map((r) => ({
        id: r.id,
        name: r.name,
        scopes: parseJson<string[]>(r.scopes, []),
        accessTokenTtl: r.access_token_ttl ?? undefined,
      }));
    },
  };
}

/** Signing and cookie keys. Contract: material is encrypted, bound to the key id. */
export function signingKeysRepository(database: Database, box: SecretBox) {
  const { db } = database;
  return {
    async list(): Promise<StoredKey[]> {
      const rows = await db.selectFrom('signing_keys').selectAll().orderBy('created_at').execute();
      return rows.map((r) => ({
        kid: r.kid,
        use: r.use,
        alg: r.alg,
        material: box.decrypt(r.material, `signing_keys:${r.kid}`),
        activatesAt: r.activates_at,
        retiresAt: r.retires_at,
        expiresAt: r.expires_at,
        createdAt: r.created_at,
      }));
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

/** Upstream round trips (OIDC state, SAML request ids). Contract: consumed at most once. */
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
      await db
        .insertInto('upstream_requests')
        .values({
          id: input.id,
          connection_id: input.connectionId,
          interaction_uid: input.interactionUid,
          data: JSON.stringify(input.data),
          expires_at: input.expiresAt,
          consumed_at: null,
        })
        .execute();
    },
    /** Returns the request once; a second (or concurrent) consume gets undefined. */
    async consume(
      id: string,
    ): Promise<{ connectionId: string; interactionUid: string; data: Record<string, unknown> } | undefined> {
      const now = Date.now();
      const result = await db
        .updateTable('upstream_requests')
        .set({ consumed_at: now })
        .where('id', '=', id)
        .where('consumed_at', 'is', null)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return undefined;
      const row = await db
        .selectFrom('upstream_requests')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      return {
        connectionId: row.connection_id,
        interactionUid: row.interaction_uid,
        data: parseJson(row.data, {}),
      };
    },
  };
}

/** One-time use of values (SAML assertion ids…). Contract: `remember` is true only the first time. */
export function replayCacheRepository(database: Database) {
  const { db } = database;
  return {
    async remember(key: string, expiresAt: number): Promise<boolean> {
      const now = Date.now();
      await db.deleteFrom('replay_cache').where('key', '=', key).where('expires_at', '<=', now).execute();
      const result = await db
        .insertInto('replay_cache')
        .values({ key, expires_at: expiresAt })
        .onConflict((oc) => oc.column('key').doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
    },
  };
}

/** One-time links (password reset). Contract: stored hashed; consumed at most once before expiry. */
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
    async consume(tokenHash: string, kind: string): Promise<{ userId: string } | undefined> {
      const now = Date.now();
      const result = await db
        .updateTable('action_tokens')
        .set({ used_at: now })
        .where('token_hash', '=', tokenHash)
        .where('kind', '=', kind)
        .where('used_at', 'is', null)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return undefined;
      const row = await db
        .selectFrom('action_tokens')
        .select('user_id')
        .where('token_hash', '=', tokenHash)
        .executeTakeFirstOrThrow();
      return { userId: row.user_id };
    },
  };
}
