import type { ClientConfig } from '../../config/types.js';
import type { SecretBox } from '../../crypto/secret-box.js';
import type { Database } from '../database.js';
import { parseJson } from '../json.js';

/**
 * Registered clients. Contract: ids are unique; a confidential client's secret is stored encrypted
 * (bound to its id) because the engine compares the presented secret with it.
 */
export function clientsRepository(database: Database, box: SecretBox) {
  const { db } = database;

  function toConfig(row: { id: string; metadata: string; secret: string | null }): ClientConfig {
    const config = parseJson<ClientConfig>(row.metadata, {} as ClientConfig);
    return {
      ...config,
      id: row.id,
      secret: row.secret ? box.decrypt(row.secret, `clients:${row.id}`) : undefined,
    };
  }

  async function write(client: ClientConfig, source: 'config' | 'admin') {
    const now = Date.now();
    const { secret, ...metadata } = client;
    const values = {
      name: client.name,
      kind: client.kind,
      metadata: JSON.stringify(metadata),
      secret: secret ? box.encrypt(secret, `clients:${client.id}`) : null,
      updated_at: now,
    };
    const existing = await db
      .selectFrom('clients')
      .select('id')
      .where('id', '=', client.id)
      .executeTakeFirst();
    if (existing)
      await db
        .updateTable('clients')
        .set({ ...values, source })
        .where('id', '=', client.id)
        .execute();
    else
      await db
        .insertInto('clients')
        .values({ id: client.id, ...values, source, created_at: now })
        .execute();
  }

  return {
    upsertFromConfig: (client: ClientConfig) => write(client, 'config'),
    async add(client: ClientConfig): Promise<void> {
      const existing = await db
        .selectFrom('clients')
        .select('id')
        .where('id', '=', client.id)
        .executeTakeFirst();
      if (existing) throw new Error(`client ${client.id} already exists`);
      await write(client, 'admin');
    },
    async find(id: string): Promise<ClientConfig | undefined> {
      const row = await db.selectFrom('clients').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toConfig(row) : undefined;
    },
    async list(): Promise<(ClientConfig & { source: string })[]> {
      const rows = await db.selectFrom('clients').selectAll().orderBy('id').execute();
      return rows.map((r) => ({ ...toConfig(r), source: r.source }));
    },
    async remove(id: string): Promise<boolean> {
      const r = await db.deleteFrom('clients').where('id', '=', id).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
  };
}
