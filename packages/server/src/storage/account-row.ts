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
  /** Display names of the user's SCIM groups, newline-separated (null for none). */
  scim_groups: string | null;
}

/** `profile` of the user's latest upstream identity, as a scalar subquery on `userId` (a column ref). */
export function latestIdentityProfile(userId: string): RawBuilder<string | null> {
  return sql<string | null>`(select ${sql.ref('profile')} from ${sql.table('identities')}
    where ${sql.ref('user_id')} = ${sql.ref(userId)}
    order by ${sql.ref('last_authenticated_at')} desc limit 1)`;
}

/**
 * The display names of the user's SCIM groups (scim/), newline-separated, as a scalar subquery: they
 * join the upstream identity's groups in the `groups` claim (protocol/account-source.ts).
 */
export function scimGroupNames(userId: string, dialect: 'sqlite' | 'postgres'): RawBuilder<string | null> {
  const aggregate =
    dialect === 'postgres'
      ? sql`string_agg(${sql.ref('g.display_name')}, chr(10))`
      : sql`group_concat(${sql.ref('g.display_name')}, char(10))`;
  return sql<string | null>`(select ${aggregate} from ${sql.table('scim_group_members')} as m
    join ${sql.table('scim_groups')} as g on ${sql.ref('g.id')} = ${sql.ref('m.group_id')}
    where ${sql.ref('m.user_id')} = ${sql.ref(userId)})`;
}

/** The `groups` claim: the upstream identity's groups and the SCIM groups, each once, in order. */
export function accountGroups(row: Pick<AccountRow, 'profile' | 'scim_groups'>): string[] {
  let upstream: unknown;
  try {
    upstream = row.profile ? (JSON.parse(row.profile) as { groups?: unknown }).groups : undefined;
  } catch {
    upstream = undefined;
  }
  const fromUpstream = Array.isArray(upstream)
    ? upstream.filter((g): g is string => typeof g === 'string')
    : [];
  const fromScim = row.scim_groups ? row.scim_groups.split('\n').sort() : [];
  return [...new Set([...fromUpstream, ...fromScim])];
}
