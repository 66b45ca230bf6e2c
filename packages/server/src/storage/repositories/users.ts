import { newId } from '../../crypto/ids.js';
import type { SecretBox } from '../../crypto/secret-box.js';
import type { Database } from '../database.js';
import { DuplicateError, insertUnique } from '../errors.js';
import { parseJson } from '../json.js';

export { DuplicateError };

export interface User {
  id: string;
  organizationId: string;
  email: string | null;
  name: string | null;
  status: 'active' | 'disabled';
  createdAt: number;
  lastSignInAt: number | null;
}

export interface Identity {
  id: string;
  userId: string;
  connectionId: string;
  subject: string;
  email: string | null;
  profile: { groups?: string[]; name?: string } & Record<string, unknown>;
  /** Decrypted. */
  upstreamRefreshToken: string | null;
  lastAuthenticatedAt: number;
  lastValidatedAt: number;
}

/** Emails compare case-insensitively and without surrounding blanks. */
/** The lookup key of an email (`users.email_normalized`): trimmed and lower-case, so lookups ignore case. */
export const emailLookupKey = (email: string) => email.trim().toLowerCase();

const identityAd = (id: string) => `identities:${id}`;

function toUser(row: {
  id: string;
  organization_id: string;
  email: string | null;
  name: string | null;
  status: 'active' | 'disabled';
  created_at: number;
  last_sign_in_at: number | null;
}): User {
  return {
    id: row.id,
    organizationId: row.organization_id,
    email: row.email,
    name: row.name,
    status: row.status,
    createdAt: row.created_at,
    lastSignInAt: row.last_sign_in_at,
  };
}

/**
 * Users and their upstream identities.
 * Contract:
 * - an email (normalized: trimmed, lower-case) belongs to at most one user: `create` throws
 *   DuplicateError, also when two creations race (unique index);
 * - an identity is keyed by (connection, upstream subject), never by email: `linkIdentity` throws
 *   DuplicateError when that pair is already linked;
 * - the upstream refresh token is stored encrypted, bound to the identity row;
 * - status changes never delete data; a user with status 'disabled' is still found.
 */
export function usersRepository(database: Database, box: SecretBox) {
  const { db } = database;

  function toIdentity(row: IdentityRow): Identity {
    return {
      id: row.id,
      userId: row.user_id,
      connectionId: row.connection_id,
      subject: row.subject,
      email: row.email,
      profile: parseJson(row.profile, {}),
      upstreamRefreshToken: row.upstream_refresh_token
        ? box.decrypt(row.upstream_refresh_token, identityAd(row.id))
        : null,
      lastAuthenticatedAt: row.last_authenticated_at,
      lastValidatedAt: row.last_validated_at,
    };
  }

  return {
    async create(input: {
      organizationId: string;
      email?: string | null | undefined;
      name?: string | null | undefined;
    }): Promise<User> {
      const now = Date.now();
      const row = {
        id: newId(now),
        organization_id: input.organizationId,
        email: input.email ?? null,
        email_normalized: input.email ? emailLookupKey(input.email) : null,
        name: input.name ?? null,
        status: 'active' as const,
        created_at: now,
        updated_at: now,
        last_sign_in_at: null,
      };
      await insertUnique(
        () => db.insertInto('users').values(row).execute(),
        `a user with email ${row.email_normalized} already exists`,
      );
      return toUser(row);
    },

    async findById(id: string): Promise<User | undefined> {
      const row = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toUser(row) : undefined;
    },

    async findByEmail(email: string): Promise<User | undefined> {
      const row = await db
        .selectFrom('users')
        .selectAll()
        .where('email_normalized', '=', emailLookupKey(email))
        .executeTakeFirst();
      return row ? toUser(row) : undefined;
    },

    async list(options: { organizationId?: string; limit?: number } = {}): Promise<User[]> {
      let query = db
        .selectFrom('users')
        .selectAll()
        .orderBy('email_normalized')
        .limit(options.limit ?? 1000);
      if (options.organizationId) query = query.where('organization_id', '=', options.organizationId);
      return (await query.execute()).map(toUser);
    },

    /**
     * A page of users by email then id (keyset: `after` is the last row of the previous page);
     * `query` matches part of the email or name, case-insensitively.
     */
    async search(filter: {
      query?: string | undefined;
      status?: 'active' | 'disabled' | undefined;
      organizationIds?: readonly string[] | undefined;
      after?: { email: string; id: string } | undefined;
      limit: number;
    }): Promise<User[]> {
      let q = db
        .selectFrom('users')
        .selectAll()
        .orderBy('email_normalized')
        .orderBy('id')
        .limit(filter.limit);
      if (filter.organizationIds !== undefined) {
        if (filter.organizationIds.length === 0) return [];
        q = q.where('organization_id', 'in', [...filter.organizationIds]);
      }
      if (filter.status !== undefined) q = q.where('status', '=', filter.status);
      if (filter.query) {
        const like = `%${filter.query
          .trim()
          .toLowerCase()
          .replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        q = q.where((eb) =>
          eb.or([
            eb(eb.fn('lower', [eb.fn.coalesce('email', eb.val(''))]), 'like', like),
            eb(eb.fn('lower', [eb.fn.coalesce('name', eb.val(''))]), 'like', like),
          ]),
        );
      }
      const after = filter.after;
      if (after) {
        q = q.where((eb) =>
          eb.or([
            eb(eb.fn.coalesce('email_normalized', eb.val('')), '>', after.email),
            eb.and([
              eb(eb.fn.coalesce('email_normalized', eb.val('')), '=', after.email),
              eb('id', '>', after.id),
            ]),
          ]),
        );
      }
      return (await q.execute()).map(toUser);
    },

    async setStatus(id: string, status: 'active' | 'disabled'): Promise<boolean> {
      const result = await db
        .updateTable('users')
        .set({ status, updated_at: Date.now() })
        .where('id', '=', id)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },

    async touchLastSignIn(id: string): Promise<void> {
      await db.updateTable('users').set({ last_sign_in_at: Date.now() }).where('id', '=', id).execute();
    },

    /** Groups as the user's most recently used upstream identity reported them. */
    async groupsOf(userId: string): Promise<string[]> {
      const row = await db
        .selectFrom('identities')
        .select('profile')
        .where('user_id', '=', userId)
        .orderBy('last_authenticated_at', 'desc')
        .executeTakeFirst();
      const groups = parseJson<{ groups?: unknown }>(row?.profile, {}).groups;
      return Array.isArray(groups) ? groups.filter((g): g is string => typeof g === 'string') : [];
    },

    async findIdentity(connectionId: string, subject: string): Promise<Identity | undefined> {
      const row = await db
        .selectFrom('identities')
        .selectAll()
        .where('connection_id', '=', connectionId)
        .where('subject', '=', subject)
        .executeTakeFirst();
      return row ? toIdentity(row) : undefined;
    },

    async identitiesOf(userId: string): Promise<Identity[]> {
      const rows = await db.selectFrom('identities').selectAll().where('user_id', '=', userId).execute();
      return rows.map(toIdentity);
    },

    async linkIdentity(input: {
      userId: string;
      connectionId: string;
      subject: string;
      email?: string | null | undefined;
      profile: Record<string, unknown>;
      upstreamRefreshToken?: string | null | undefined;
    }): Promise<Identity> {
      const now = Date.now();
      const row = {
        id: newId(now),
        user_id: input.userId,
        connection_id: input.connectionId,
        subject: input.subject,
        email: input.email ?? null,
        profile: JSON.stringify(input.profile),
        upstream_refresh_token: null as string | null,
        last_authenticated_at: now,
        last_validated_at: now,
        created_at: now,
      };
      if (input.upstreamRefreshToken)
        row.upstream_refresh_token = box.encrypt(input.upstreamRefreshToken, identityAd(row.id));
      await insertUnique(
        () => db.insertInto('identities').values(row).execute(),
        `identity ${input.subject} of connection ${input.connectionId} is already linked`,
      );
      return toIdentity(row);
    },

    async updateIdentity(
      id: string,
      changes: {
        profile?: Record<string, unknown>;
        email?: string | null;
        upstreamRefreshToken?: string | null;
        authenticated?: boolean;
        validated?: boolean;
      },
    ): Promise<void> {
      const now = Date.now();
      const set = {
        ...(changes.profile ? { profile: JSON.stringify(changes.profile) } : {}),
        ...(changes.email !== undefined ? { email: changes.email } : {}),
        ...(changes.upstreamRefreshToken !== undefined
          ? {
              upstream_refresh_token: changes.upstreamRefreshToken
                ? box.encrypt(changes.upstreamRefreshToken, identityAd(id))
                : null,
            }
          : {}),
        ...(changes.authenticated ? { last_authenticated_at: now, last_validated_at: now } : {}),
        ...(changes.validated ? { last_validated_at: now } : {}),
      };
      if (Object.keys(set).length === 0) return;
      await db.updateTable('identities').set(set).where('id', '=', id).execute();
    },
  };
}

type IdentityRow = {
  id: string;
  user_id: string;
  connection_id: string;
  subject: string;
  email: string | null;
  profile: string;
  upstream_refresh_token: string | null;
  last_authenticated_at: number;
  last_validated_at: number;
};
