import type { Kysely } from 'kysely';

/**
 * SCIM 2.0 provisioning (scim/): per-organization bearer tokens (stored as SHA-256 hashes), the SCIM
 * view of a user (its `externalId` and the attributes a provisioning client sent, which Latchkey
 * keeps but does not interpret), groups and their members. Frozen in time: written against
 * Kysely<any>, importing no application code.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen against an untyped database.
export async function up(db: Kysely<any>, dialect: 'sqlite' | 'postgres'): Promise<void> {
  const time = dialect === 'postgres' ? 'bigint' : 'integer';

  await db.schema
    .createTable('scim_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('organization_id', 'text', (c) =>
      c.notNull().references('organizations.id').onDelete('cascade'),
    )
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('label', 'text')
    .addColumn('created_by', 'text')
    .addColumn('created_at', time, (c) => c.notNull())
    .addColumn('last_used_at', time)
    .addColumn('revoked_at', time)
    .execute();
  await db.schema
    .createIndex('scim_tokens_organization')
    .on('scim_tokens')
    .column('organization_id')
    .execute();

  await db.schema
    .createTable('scim_users')
    .addColumn('user_id', 'text', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
    .addColumn('organization_id', 'text', (c) => c.notNull())
    .addColumn('external_id', 'text')
    .addColumn('attributes', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('created_at', time, (c) => c.notNull())
    .addColumn('updated_at', time, (c) => c.notNull())
    // A SCIM DELETE disables the user and hides it from the SCIM view; the row and its audit stay.
    .addColumn('deleted_at', time)
    .execute();
  await db.schema
    .createIndex('scim_users_external_id')
    .on('scim_users')
    .columns(['organization_id', 'external_id'])
    .unique()
    .execute();

  await db.schema
    .createTable('scim_groups')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('organization_id', 'text', (c) =>
      c.notNull().references('organizations.id').onDelete('cascade'),
    )
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('external_id', 'text')
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('created_at', time, (c) => c.notNull())
    .addColumn('updated_at', time, (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('scim_groups_organization_name')
    .on('scim_groups')
    .columns(['organization_id', 'display_name'])
    .execute();
  await db.schema
    .createIndex('scim_groups_external_id')
    .on('scim_groups')
    .columns(['organization_id', 'external_id'])
    .unique()
    .execute();

  await db.schema
    .createTable('scim_group_members')
    .addColumn('group_id', 'text', (c) => c.notNull().references('scim_groups.id').onDelete('cascade'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', time, (c) => c.notNull())
    .addPrimaryKeyConstraint('scim_group_members_pk', ['group_id', 'user_id'])
    .execute();
  await db.schema.createIndex('scim_group_members_user').on('scim_group_members').column('user_id').execute();
}
