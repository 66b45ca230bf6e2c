import { newId } from '../../crypto/ids.js';
import type { Database } from '../database.js';
import { parseJson } from '../json.js';

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
  upstreamRefreshToken: string | null;
  lastAuthenticatedAt: number;
  lastValidatedAt: number;
}

export class DuplicateError extends Error {
  override readonly name = 'DuplicateError';
  readonly code = 'DUPLICATE';
}

const normalize = (email: string) => email.trim().toLowerCase();

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
 * Contract: an email (normalized) belongs to at most one user (DuplicateError); an identity is keyed
 * by (connection, upstream subject) and never by email; status changes never delete data.
 */
export function usersRepository(database: Database) {
  const { db } = database;
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
        email_normalized: input.email ? normalize(input.email) : null,
        name: input.name ?? null,
        status: 'active' as const,
        created_at: now,
        updated_at: now,
        last_sign_in_at: null,
      };
      if (row.email_normalized) {
        const taken = await db
          .selectFrom('users')
          .select('id')
          .where('email_normalized', '=', row.email_normalized)
          .executeTakeFirst();
        if (taken) throw new DuplicateError(`a user with email ${input.email} already exists`);
      }
      await db.insertInto('users').values(row).execute();
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
        .where('email_normalized', '=', normalize(email))
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
        upstream_refresh_token: input.upstreamRefreshToken ?? null,
        last_authenticated_at: now,
        last_validated_at: now,
        created_at: now,
      };
      await db.insertInto('identities').values(row).execute();
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
      await db
        .updateTable('identities')
        .set({
          ...(changes.profile ? { profile: JSON.stringify(changes.profile) } : {}),
          ...(changes.email !== undefined ? { email: changes.email } : {}),
          ...(changes.upstreamRefreshToken !== undefined
            ? { upstream_refresh_token: changes.upstreamRefreshToken }
            : {}),
          ...(changes.authenticated ? { last_authenticated_at: now, last_validated_at: now } : {}),
          ...(changes.validated ? { last_validated_at: now } : {}),
        })
        .where('id', '=', id)
        .execute();
    },
  };
}

function toIdentity(row: {
  id: string;
  user_id: string;
  connection_id: string;
  subject: string;
  email: string | null;
  profile: string;
  upstream_refresh_token: string | null;
  last_authenticated_at: number;
  last_validated_at: number;
}): Identity {
  return {
    id: row.id,
    userId: row.user_id,
    connectionId: row.connection_id,
    subject: row.subject,
    email: row.email,
    profile: parseJson(row.profile, {}),
    upstreamRefreshToken: row.upstream_refresh_token,
    lastAuthenticatedAt: row.last_authenticated_at,
    lastValidatedAt: row.last_validated_at,
  };
}
