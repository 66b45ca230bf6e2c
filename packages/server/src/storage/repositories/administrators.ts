import type { Database } from '../database.js';

export interface AdministratorRow {
  userId: string;
  email: string | null;
  /** null: instance administrator. */
  organizationId: string | null;
  grantedBy: string | null;
  createdAt: number;
}

const grantId = (userId: string, organizationId: string | null) => `${userId}:${organizationId ?? '*'}`;

/**
 * Administrator grants made by the CLI or the admin API (the file's `admin.administrators` are read
 * from the configuration, not stored). Contract: one grant per (user, organization or instance) —
 * the id is `<user>:<organization or *>`, so granting twice throws on the primary key; a user's
 * grants go with the user and an organization's with the organization (cascade).
 */
export function administratorsRepository(database: Database) {
  const { db } = database;
  return {
    async scopesOf(userId: string): Promise<(string | null)[]> {
      const rows = await db
        .selectFrom('administrators')
        .select('organization_id')
        .where('user_id', '=', userId)
        .execute();
      return rows.map((r) => r.organization_id);
    },
    async exists(userId: string, organizationId: string | null): Promise<boolean> {
      const row = await db
        .selectFrom('administrators')
        .select('id')
        .where('id', '=', grantId(userId, organizationId))
        .executeTakeFirst();
      return row !== undefined;
    },
    async grant(input: {
      userId: string;
      organizationId: string | null;
      grantedBy: string;
      at: number;
    }): Promise<void> {
      await db
        .insertInto('administrators')
        .values({
          id: grantId(input.userId, input.organizationId),
          user_id: input.userId,
          organization_id: input.organizationId,
          source: 'admin',
          granted_by: input.grantedBy,
          created_at: input.at,
        })
        .execute();
    },
    /** True when a grant was removed. */
    async revoke(userId: string, organizationId: string | null): Promise<boolean> {
      const result = await db
        .deleteFrom('administrators')
        .where('id', '=', grantId(userId, organizationId))
        .executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
    async list(): Promise<AdministratorRow[]> {
      const rows = await db
        .selectFrom('administrators as a')
        .innerJoin('users as u', 'u.id', 'a.user_id')
        .select(['a.user_id', 'u.email', 'a.organization_id', 'a.granted_by', 'a.created_at'])
        .orderBy('a.created_at')
        .execute();
      return rows.map((r) => ({
        userId: r.user_id,
        email: r.email,
        organizationId: r.organization_id,
        grantedBy: r.granted_by,
        createdAt: r.created_at,
      }));
    },
  };
}
