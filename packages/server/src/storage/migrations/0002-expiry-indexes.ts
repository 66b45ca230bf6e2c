import type { Kysely } from 'kysely';

/**
 * Indexes the sweeper and the admin views need that 0001 lacked. Frozen in time: written against
 * Kysely<any>, importing no application code.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen against an untyped database.
export async function up(db: Kysely<any>, _dialect: 'sqlite' | 'postgres'): Promise<void> {
  // The sweeper deletes expired one-time links in batches ordered by nothing but expiry.
  await db.schema.createIndex('action_tokens_expires').on('action_tokens').column('expires_at').execute();
  await db.schema.createIndex('action_tokens_user').on('action_tokens').column('user_id').execute();
  // Audit queries per organization (admin API), newest first.
  await db.schema
    .createIndex('audit_organization')
    .on('audit_events')
    .columns(['organization_id', 'at'])
    .execute();
}
