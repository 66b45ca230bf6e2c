import type { Kysely } from 'kysely';

/**
 * Two things for the admin API and the session listing. Frozen in time: written against
 * Kysely<any>, importing no application code.
 *
 * - `oidc_records.ip`, `user_agent`, `updated_at`: where a browser session, an app's grant or a
 *   refresh token was last saved from (the engine's request, written by the adapter), so a person's
 *   sessions can be listed per app and device with their last use (domain/session-list.ts).
 * - `administrators`: who may use the admin API and console. `id` is `<user>:<organization or *>`,
 *   so a grant is unique per user and scope; `organization_id` null means instance administrator.
 *   `source` is 'config' (declared in the YAML file, re-applied at start) or 'admin' (granted by
 *   the CLI or the API).
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen against an untyped database.
export async function up(db: Kysely<any>, dialect: 'sqlite' | 'postgres'): Promise<void> {
  const time = dialect === 'postgres' ? 'bigint' : 'integer';
  await db.schema.alterTable('oidc_records').addColumn('ip', 'text').execute();
  await db.schema.alterTable('oidc_records').addColumn('user_agent', 'text').execute();
  await db.schema.alterTable('oidc_records').addColumn('updated_at', time).execute();

  await db.schema
    .createTable('administrators')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('organization_id', 'text', (c) => c.references('organizations.id').onDelete('cascade'))
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('granted_by', 'text')
    .addColumn('created_at', time, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('administrators_user').on('administrators').column('user_id').execute();
}
