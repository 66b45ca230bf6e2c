import type { LifetimesConfig } from '../config/types.js';
import type { OrganizationDirectory } from '../domain/directory.js';
import type { Revalidator } from '../federation/revalidate.js';
import {
  type AccountRow,
  accountGroups,
  latestIdentityProfile,
  scimGroupNames,
} from '../storage/account-row.js';
import type { Database } from '../storage/database.js';
import { param, prepared } from '../storage/prepared-statements.js';
import { prefetchedAccount } from '../storage/request-scope.js';
import { asUnavailable } from '../storage/unavailable.js';
import type { AccountRecord, AccountSource } from './accounts.js';

/**
 * The engine's accounts, read from `users` (and the groups of the latest upstream identity).
 * Federated accounts are re-checked upstream on refresh (federation/revalidate.ts): revoked
 * upstream → everything of the user revoked here; upstream unreachable → kept, bounded by the
 * organization's maxUpstreamAge.
 */
export function createAccountSource(deps: {
  database: Database;
  organizations: OrganizationDirectory;
  revalidator: Revalidator;
  lifetimes: Pick<LifetimesConfig, 'refreshAbsolute'>;
}): AccountSource {
  const { database, organizations, revalidator } = deps;
  const accountQuery = prepared(
    database.db
      .selectFrom('users')
      .select(['id', 'organization_id', 'email', 'name', 'status'])
      .select(latestIdentityProfile('users.id').as('profile'))
      .select(scimGroupNames('users.id', database.dialect).as('scim_groups'))
      .where('id', '=', param('id')),
  );
  return {
    async revalidateOnRefresh(record) {
      const org = organizations.byId(record.organizationId);
      if (!org || org.connection.type === 'local') return true;
      return revalidator.allowRefresh({ id: record.id, organizationId: record.organizationId });
    },
    // Every refresh grant and code exchange asks for the account: the adapter has usually read it
    // in the same statement as the token (prefetchedAccount); otherwise the user and the groups of
    // its latest upstream identity come in one compiled statement.
    async findAccountRecord(id) {
      const row =
        prefetchedAccount(id) ??
        (
          await database.db.executeQuery<AccountRow>(accountQuery({ id })).catch((error: unknown) => {
            throw asUnavailable(error);
          })
        ).rows[0];
      if (!row) return undefined;
      const record: AccountRecord = {
        id: row.id,
        organizationId: row.organization_id,
        email: row.email,
        emailVerified: Boolean(row.email),
        name: row.name,
        // The upstream identity's groups and the SCIM groups (docs/scim.md), released with scope `groups`.
        groups: accountGroups(row),
        status: row.status as AccountRecord['status'],
      };
      return record;
    },
    policyFor: (organizationId) => organizations.byId(organizationId)?.policy,
    longestAbsoluteLifetime: () =>
      Math.max(
        deps.lifetimes.refreshAbsolute,
        ...[...organizations.all()].map((o) => o.policy.refreshAbsoluteTtl),
      ),
  };
}
