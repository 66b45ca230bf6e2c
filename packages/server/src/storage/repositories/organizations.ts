import type { OrganizationConfig, OrganizationPolicy } from '../../config/types.js';
import type { SecretBox } from '../../crypto/secret-box.js';
import type { Database } from '../database.js';
import { DuplicateError, insertUnique } from '../errors.js';
import { parseJson } from '../json.js';

export interface Connection {
  id: string;
  organizationId: string;
  type: string;
  settings: Record<string, unknown>;
  /** Decrypted. */
  secrets: Record<string, string>;
}

export interface Domain {
  domain: string;
  organizationId: string;
  verificationToken: string | null;
  verifiedAt: number | null;
}

export interface OrganizationDetails {
  id: string;
  name: string;
  policy: OrganizationPolicy;
  /** Every domain the organization claims, verified or not (a claim blocks other organizations). */
  domains: string[];
  /** The domains that route sign-ins: an unverified domain routes nobody until `domains verify`. */
  verifiedDomains: string[];
  connection?:
    | { id: string; type: string; settings: Record<string, unknown>; secrets: Record<string, string> }
    | undefined;
}

/** The connection settings that are secret and stored encrypted. */
const SECRET_SETTINGS = new Set(['clientSecret', 'privateKey', 'spPrivateKey']);

const connectionAd = (id: string) => `connections:${id}`;

const toDomain = (row: {
  domain: string;
  organization_id: string;
  verification_token: string | null;
  verified_at: number | null;
}): Domain => ({
  domain: row.domain,
  organizationId: row.organization_id,
  verificationToken: row.verification_token,
  verifiedAt: row.verified_at,
});

/**
 * Organizations, their domains and their one connection (v1).
 * Contract:
 * - a domain (stored lower-case) belongs to at most one organization: claiming it again throws
 *   DuplicateError, also under concurrency (primary key);
 * - an organization has at most one connection (unique organization_id); its secrets are stored
 *   encrypted, bound to the connection id, and returned decrypted;
 * - `upsertFromConfig` is idempotent: applying the same configuration twice changes nothing but
 *   `updated_at`; it adds domains but never removes one (removal is an admin action).
 */
export function organizationsRepository(database: Database, box: SecretBox) {
  const { db } = database;

  function splitSecrets(connection: Record<string, unknown>) {
    const settings: Record<string, unknown> = {};
    const secrets: Record<string, string> = {};
    for (const [key, value] of Object.entries(connection)) {
      if (SECRET_SETTINGS.has(key) && typeof value === 'string') secrets[key] = value;
      else settings[key] = value;
    }
    return { settings, secrets };
  }

  function toConnection(row: {
    id: string;
    organization_id: string;
    type: string;
    settings: string;
    secrets: string | null;
  }): Connection {
    return {
      id: row.id,
      organizationId: row.organization_id,
      type: row.type,
      settings: parseJson(row.settings, {}),
      secrets: row.secrets ? parseJson(box.decrypt(row.secrets, connectionAd(row.id)), {}) : {},
    };
  }

  const repo = {
    async upsertFromConfig(org: OrganizationConfig): Promise<void> {
      const now = Date.now();
      await db.transaction().execute(async (trx) => {
        await trx
          .insertInto('organizations')
          .values({
            id: org.id,
            name: org.name,
            policy: JSON.stringify(org.policy),
            created_at: now,
            updated_at: now,
          })
          .onConflict((oc) =>
            oc
              .column('id')
              .doUpdateSet({ name: org.name, policy: JSON.stringify(org.policy), updated_at: now }),
          )
          .execute();
        for (const domain of org.domains.map((d) => d.toLowerCase())) {
          const owner = await trx
            .selectFrom('domains')
            .select('organization_id')
            .where('domain', '=', domain)
            .executeTakeFirst();
          if (owner && owner.organization_id !== org.id)
            throw new DuplicateError(
              `domain ${domain} already belongs to organization ${owner.organization_id}`,
            );
          if (!owner)
            await trx
              .insertInto('domains')
              .values({
                domain,
                organization_id: org.id,
                verification_token: null,
                verified_at: now,
                created_at: now,
              })
              .execute();
        }
        const { type, ...rest } = org.connection as { type: string } & Record<string, unknown>;
        const { settings, secrets } = splitSecrets(rest);
        const id = `${org.id}-${type}`;
        const values = {
          id,
          type,
          settings: JSON.stringify(settings),
          secrets: Object.keys(secrets).length
            ? box.encrypt(JSON.stringify(secrets), connectionAd(id))
            : null,
          updated_at: now,
        };
        // In place (keeps created_at); the id changes only with the type, and identities of another
        // type's subjects would not match anyway.
        await trx
          .insertInto('connections')
          .values({ ...values, organization_id: org.id, created_at: now })
          .onConflict((oc) => oc.column('organization_id').doUpdateSet(values))
          .execute();
      });
    },

    async findById(id: string): Promise<OrganizationDetails | undefined> {
      return (await repo.listWithDetails({ id }))[0];
    },

    /** The organization owning a domain (verified or not: `findDomain` tells). */
    async findByDomain(domain: string): Promise<OrganizationDetails | undefined> {
      const row = await db
        .selectFrom('domains')
        .select('organization_id')
        .where('domain', '=', domain.toLowerCase())
        .executeTakeFirst();
      return row ? repo.findById(row.organization_id) : undefined;
    },

    async listWithDetails(filter: { id?: string } = {}): Promise<OrganizationDetails[]> {
      let orgsQuery = db.selectFrom('organizations').selectAll().orderBy('id');
      let domainsQuery = db.selectFrom('domains').selectAll().orderBy('domain');
      let connectionsQuery = db.selectFrom('connections').selectAll();
      if (filter.id !== undefined) {
        orgsQuery = orgsQuery.where('id', '=', filter.id);
        domainsQuery = domainsQuery.where('organization_id', '=', filter.id);
        connectionsQuery = connectionsQuery.where('organization_id', '=', filter.id);
      }
      const [orgs, domains, connections] = await Promise.all([
        orgsQuery.execute(),
        domainsQuery.execute(),
        connectionsQuery.execute(),
      ]);
      return orgs.map((org) => {
        const connection = connections.find((c) => c.organization_id === org.id);
        const decrypted = connection ? toConnection(connection) : undefined;
        return {
          id: org.id,
          name: org.name,
          policy: parseJson<OrganizationPolicy>(org.policy, {} as OrganizationPolicy),
          domains: domains.filter((d) => d.organization_id === org.id).map((d) => d.domain),
          verifiedDomains: domains
            .filter((d) => d.organization_id === org.id && d.verified_at !== null)
            .map((d) => d.domain),
          connection: decrypted
            ? {
                id: decrypted.id,
                type: decrypted.type,
                settings: decrypted.settings,
                secrets: decrypted.secrets,
              }
            : undefined,
        };
      });
    },

    async setPolicy(id: string, policy: OrganizationPolicy): Promise<void> {
      await db
        .updateTable('organizations')
        .set({ policy: JSON.stringify(policy), updated_at: Date.now() })
        .where('id', '=', id)
        .execute();
    },

    async remove(id: string): Promise<boolean> {
      const result = await db.deleteFrom('organizations').where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    /** Claims a domain; verified now unless a verification token is given. Throws DuplicateError. */
    async addDomain(organizationId: string, domain: string, verificationToken: string | null): Promise<void> {
      const now = Date.now();
      const name = domain.toLowerCase();
      await insertUnique(
        () =>
          db
            .insertInto('domains')
            .values({
              domain: name,
              organization_id: organizationId,
              verification_token: verificationToken,
              verified_at: verificationToken ? null : now,
              created_at: now,
            })
            .execute(),
        `domain ${name} already belongs to an organization`,
      );
    },

    async findDomain(domain: string): Promise<Domain | undefined> {
      const row = await db
        .selectFrom('domains')
        .selectAll()
        .where('domain', '=', domain.toLowerCase())
        .executeTakeFirst();
      return row ? toDomain(row) : undefined;
    },

    /** Same as `findDomain`. */
    domain(domain: string): Promise<Domain | undefined> {
      return repo.findDomain(domain);
    },

    /** Every domain (of one organization, when given), sorted by name. */
    async listDomains(organizationId?: string): Promise<Domain[]> {
      let query = db.selectFrom('domains').selectAll().orderBy('domain');
      if (organizationId !== undefined) query = query.where('organization_id', '=', organizationId);
      return (await query.execute()).map(toDomain);
    },

    /** Marks a pending domain verified; false when it is unknown or already verified. */
    async markDomainVerified(domain: string): Promise<boolean> {
      const result = await db
        .updateTable('domains')
        .set({ verified_at: Date.now() })
        .where('domain', '=', domain.toLowerCase())
        .where('verified_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async removeDomain(domain: string): Promise<boolean> {
      const result = await db
        .deleteFrom('domains')
        .where('domain', '=', domain.toLowerCase())
        .executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    async connection(organizationId: string): Promise<Connection | undefined> {
      const row = await db
        .selectFrom('connections')
        .selectAll()
        .where('organization_id', '=', organizationId)
        .executeTakeFirst();
      return row ? toConnection(row) : undefined;
    },

    async connectionById(id: string): Promise<Connection | undefined> {
      const row = await db.selectFrom('connections').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toConnection(row) : undefined;
    },

    /** Sets the organization's one connection (replacing its settings in place); returns its id. */
    async setConnection(
      organizationId: string,
      connection: { type: string } & Record<string, unknown>,
    ): Promise<string> {
      const now = Date.now();
      const { type, ...rest } = connection;
      const { settings, secrets } = splitSecrets(rest);
      const id = `${organizationId}-${type}`;
      const values = {
        id,
        type,
        settings: JSON.stringify(settings),
        secrets: Object.keys(secrets).length ? box.encrypt(JSON.stringify(secrets), connectionAd(id)) : null,
        updated_at: now,
      };
      await db
        .insertInto('connections')
        .values({ ...values, organization_id: organizationId, created_at: now })
        .onConflict((oc) => oc.column('organization_id').doUpdateSet(values))
        .execute();
      return id;
    },
  };
  return repo;
}
