import type { OrganizationConfig, OrganizationPolicy } from '../../config/types.js';
import type { SecretBox } from '../../crypto/secret-box.js';
import type { Database } from '../database.js';
import { parseJson } from '../json.js';

export interface OrganizationDetails {
  id: string;
  name: string;
  policy: OrganizationPolicy;
  domains: string[];
  connection?:
    | { id: string; type: string; settings: Record<string, unknown>; secrets: Record<string, string> }
    | undefined;
}

/** The parts of a connection setting that are secret and stored encrypted. */
const SECRET_SETTINGS = new Set(['clientSecret']);

/**
 * Organizations, their domains and their one connection (v1).
 * Contract: a domain (lower-case) belongs to at most one organization — a second claim throws the
 * database's unique violation; connection secrets are stored encrypted, bound to the connection id.
 */
export function organizationsRepository(database: Database, box: SecretBox) {
  const { db } = database;
  return {
    async upsertFromConfig(org: OrganizationConfig): Promise<void> {
      const now = Date.now();
      await db.transaction().execute(async (trx) => {
        const existing = await trx
          .selectFrom('organizations')
          .select('id')
          .where('id', '=', org.id)
          .executeTakeFirst();
        if (existing) {
          await trx
            .updateTable('organizations')
            .set({ name: org.name, policy: JSON.stringify(org.policy), updated_at: now })
            .where('id', '=', org.id)
            .execute();
        } else {
          await trx
            .insertInto('organizations')
            .values({
              id: org.id,
              name: org.name,
              policy: JSON.stringify(org.policy),
              created_at: now,
              updated_at: now,
            })
            .execute();
        }
        for (const domain of org.domains.map((d) => d.toLowerCase())) {
          const owner = await trx
            .selectFrom('domains')
            .select('organization_id')
            .where('domain', '=', domain)
            .executeTakeFirst();
          if (!owner) {
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
          } else if (owner.organization_id !== org.id) {
            throw new Error(`domain ${domain} already belongs to organization ${owner.organization_id}`);
          }
        }
        const { type, ...rest } = org.connection as { type: string } & Record<string, unknown>;
        const settings: Record<string, unknown> = {};
        const secrets: Record<string, string> = {};
        for (const [key, value] of Object.entries(rest)) {
          if (SECRET_SETTINGS.has(key) && typeof value === 'string') secrets[key] = value;
          else settings[key] = value;
        }
        const connectionId = `${org.id}-${type}`;
        const sealed = Object.keys(secrets).length
          ? box.encrypt(JSON.stringify(secrets), `connections:${connectionId}`)
          : null;
        const current = await trx
          .selectFrom('connections')
          .select('id')
          .where('organization_id', '=', org.id)
          .executeTakeFirst();
        if (current) await trx.deleteFrom('connections').where('organization_id', '=', org.id).execute();
        await trx
          .insertInto('connections')
          .values({
            id: connectionId,
            organization_id: org.id,
            type,
            settings: JSON.stringify(settings),
            secrets: sealed,
            created_at: now,
            updated_at: now,
          })
          .execute();
      });
    },

    async listWithDetails(): Promise<OrganizationDetails[]> {
      const [orgs, domains, connections] = await Promise.all([
        db.selectFrom('organizations').selectAll().orderBy('id').execute(),
        db.selectFrom('domains').selectAll().execute(),
        db.selectFrom('connections').selectAll().execute(),
      ]);
      return orgs.map((org) => {
        const connection = connections.find((c) => c.organization_id === org.id);
        return {
          id: org.id,
          name: org.name,
          policy: parseJson<OrganizationPolicy>(org.policy, {} as OrganizationPolicy),
          domains: domains.filter((d) => d.organization_id === org.id).map((d) => d.domain),
          connection: connection
            ? {
                id: connection.id,
                type: connection.type,
                settings: parseJson(connection.settings, {}),
                secrets: connection.secrets
                  ? parseJson(box.decrypt(connection.secrets, `connections:${connection.id}`), {})
                  : {},
              }
            : undefined,
        };
      });
    },

    async addDomain(organizationId: string, domain: string, verificationToken: string | null): Promise<void> {
      await db
        .insertInto('domains')
        .values({
          domain: domain.toLowerCase(),
          organization_id: organizationId,
          verification_token: verificationToken,
          verified_at: verificationToken ? null : Date.now(),
          created_at: Date.now(),
        })
        .execute();
    },

    async removeDomain(domain: string): Promise<boolean> {
      const result = await db
        .deleteFrom('domains')
        .where('domain', '=', domain.toLowerCase())
        .executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
  };
}
