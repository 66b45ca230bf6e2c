import { type RawBuilder, sql } from 'kysely';

/**
 * A user as the engine's account lookups need it: the user row plus the profile (holding `groups`)
 * of its most recently used upstream identity. protocol/accounts.ts turns it into an AccountRecord.
 */
export interface AccountRow {
  id: string;
  organization_id: string;
  email: string | null;
  name: string | null;
  status: string;
  profile: string | null;
}

/** `profile` of the user's latest upstream identity, as a scalar subquery on `userId` (a column ref). */
export function latestIdentityProfile(userId: string): RawBuilder<string | null> {
  return sql<string | null>`(select ${sql.ref('profile')} from ${sql.table('identities')}
    where ${sql.ref('user_id')} = ${sql.ref(userId)}
    order by ${sql.ref('last_authenticated_at')} desc limit 1)`;
}
