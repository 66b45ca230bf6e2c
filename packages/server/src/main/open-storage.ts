import type { LatchkeyConfig } from '../config/types.js';
import { SecretBox } from '../crypto/secret-box.js';
import type { PasswordHasher } from '../domain/passwords/password-hasher.js';
import { type Database, type OpenDatabaseOptions, openDatabase } from '../storage/database.js';
import { migrateToLatest } from '../storage/migrate.js';
import { createRepositories, type Repositories, verifyOperatorSecret } from '../storage/repositories.js';
import { applyStaticConfig } from './static-config.js';

export interface OpenedStorage {
  database: Database;
  repos: Repositories;
  secretBox: SecretBox;
}

/**
 * The start-up sequence every process runs, the server and each admin command alike: open the
 * database, apply pending migrations, check the operator secret, and apply what the configuration
 * file declares, so that every process sees the same objects.
 */
export async function openStorage(
  config: LatchkeyConfig,
  options: {
    hasher(): PasswordHasher;
    database?: OpenDatabaseOptions;
    /** Apply the configuration file's clients, organizations and development users (default true). */
    applyConfig?: boolean;
  },
): Promise<OpenedStorage> {
  const database = await openDatabase(config.databaseUrl, options.database);
  try {
    await migrateToLatest(database);
    const secretBox = SecretBox.fromSecret(config.secret);
    await verifyOperatorSecret(database, secretBox);
    const repos = createRepositories(database, secretBox);
    if (options.applyConfig !== false) await applyStaticConfig(repos, config, options.hasher());
    return { database, repos, secretBox };
  } catch (error) {
    await database.close();
    throw error;
  }
}
