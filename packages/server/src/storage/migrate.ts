import { type Migration, type MigrationProvider, Migrator } from 'kysely';
import { ServerError } from '../errors/server-error.js';
import type { Database } from './database.js';
import * as m0001 from './migrations/0001-initial.js';
import * as m0002 from './migrations/0002-expiry-indexes.js';
import * as m0003 from './migrations/0003-partial-lookup-indexes.js';
import * as m0004 from './migrations/0004-superseded-refresh-tokens.js';
import * as m0005 from './migrations/0005-admins-and-session-origins.js';
import * as m0006 from './migrations/0006-scim.js';
import * as m0007 from './migrations/0007-session-end-events.js';

/**
 * Migrations live in code (the server runs from dist/, so no file scanning) and are applied in name
 * order. Each one receives the dialect, since SQLite and PostgreSQL spell a few types differently.
 * A migration, once committed, never changes: add a new one.
 */
function migrations(dialect: Database['dialect']): Record<string, Migration> {
  return {
    '0001-initial': { up: (db) => m0001.up(db, dialect) },
    '0002-expiry-indexes': { up: (db) => m0002.up(db, dialect) },
    '0003-partial-lookup-indexes': { up: (db) => m0003.up(db, dialect) },
    '0004-superseded-refresh-tokens': { up: (db) => m0004.up(db, dialect) },
    '0005-admins-and-session-origins': { up: (db) => m0005.up(db, dialect) },
    '0006-scim': { up: (db) => m0006.up(db, dialect) },
    '0007-session-end-events': { up: (db) => m0007.up(db, dialect) },
  };
}

function migrator(database: Database): Migrator {
  const provider: MigrationProvider = { getMigrations: async () => migrations(database.dialect) };
  return new Migrator({ db: database.db, provider });
}

export class MigrationError extends ServerError {
  override readonly name = 'MigrationError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('migration_failed', message, options);
  }
}

/**
 * Applies every pending migration; returns the names applied now (empty when up to date). Safe to run
 * from several processes at once: Kysely's Migrator takes a lock. Throws MigrationError.
 */
export async function migrateToLatest(database: Database): Promise<string[]> {
  const { error, results } = await migrator(database).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new MigrationError(`migration ${failed} failed: ${(error as Error).message ?? String(error)}`, {
      cause: error,
    });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

export interface MigrationStatus {
  name: string;
  /** When it was applied; undefined while pending. */
  appliedAt: Date | undefined;
}

/** Every known migration in order, applied or pending (for `latchkey migrate --status`). */
export async function migrationStatus(database: Database): Promise<MigrationStatus[]> {
  const list = await migrator(database).getMigrations();
  return list.map((m) => ({ name: m.name, appliedAt: m.executedAt }));
}
