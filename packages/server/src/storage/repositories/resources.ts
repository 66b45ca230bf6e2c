import type { ResourceConfig } from '../../config/types.js';
import type { Database } from '../database.js';
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
