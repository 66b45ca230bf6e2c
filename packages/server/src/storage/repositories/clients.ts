import type { ClientConfig } from '../../config/types.js';
import type { SecretBox } from '../../crypto/secret-box.js';
import type { Database } from '../database.js';
import { insertUnique } from '../errors.js';
import { parseJson } from '../json.js';

const secretAd = (id: string) => `clients:${id}`;

/**
 * Registered clients (public native desktop apps, confidential web apps).
 * Contract: ids are unique (`add` throws DuplicateError; `upsertFromConfig` replaces); a confidential
 * client's secret is stored encrypted, bound to its id, and returned decrypted because the engine
 * compares the presented secret with it; `source` tells configuration from admin-made clients.
 */
export function clientsRepository(database: Database, box: SecretBox) {
  const { db } = database;

  function toConfig(row: { id: string; metadata: string; secret: string | null }): ClientConfig {
    const config = parseJson<ClientConfig>(row.metadata, {} as ClientConfig);
    return {
      ...config,
      id: row.id,
      secret: row.secret ? box.decrypt(row.secret, secretAd(row.id)) : undefined,
    };
  }

  function columns(client: ClientConfig, now: number) {
    const { secret, ...metadata } = client;
    return {
      name: client.name,
      kind: client.kind,
      metadata: JSON.stringify(metadata),
      secret: secret ? box.encrypt(secret, secretAd(client.id)) : null,
      updated_at: now,
    };
  }

  return {
    /** Creates or replaces a client declared in the configuration file. */
    async upsertFromConfig(client: ClientConfig): Promise<void> {
      const now = Date.now();
      const values = { ...columns(client, now), source: 'config' as const };
      await db
        .insertInto('clients')
        .values({ id: client.id, ...values, created_at: now })
        .onConflict((oc) => oc.column('id').doUpdateSet(values))
        .execute();
    },
    /** Adds a client made with the admin API/CLI; throws DuplicateError when the id is taken. */
    async add(client: ClientConfig): Promise<void> {
      const now = Date.now();
      await insertUnique(
        () =>
          db
            .insertInto('clients')
            .values({ id: client.id, ...columns(client, now), source: 'admin', created_at: now })
            .execute(),
        `client ${client.id} already exists`,
      );
    },
    async find(id: string): Promise<ClientConfig | undefined> {
      const row = await db.selectFrom('clients').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toConfig(row) : undefined;
    },
    async list(): Promise<(ClientConfig & { source: 'config' | 'admin' })[]> {
      const rows = await db.selectFrom('clients').selectAll().orderBy('id').execute();
      return rows.map((r) => ({ ...toConfig(r), source: r.source }));
    },
    async remove(id: string): Promise<boolean> {
      const r = await db.deleteFrom('clients').where('id', '=', id).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
  };
}
