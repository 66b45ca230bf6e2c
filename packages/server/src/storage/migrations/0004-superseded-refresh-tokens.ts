import type { Kysely } from 'kysely';

/**
 * `oidc_records.superseded_at`: when the refresh-token reuse grace forgave a re-presented token, the
 * successor its first rotation had issued is kept and marked here instead of deleted, so that
 * presenting it later is recognized as a fork of the chain (storage/refresh-reuse-grace.ts). Frozen in
 * time: written against Kysely<any>, importing no application code.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen against an untyped database.
export async function up(db: Kysely<any>, dialect: 'sqlite' | 'postgres'): Promise<void> {
  const time = dialect === 'postgres' ? 'bigint' : 'integer';
  await db.schema.alterTable('oidc_records').addColumn('superseded_at', time).execute();
}
