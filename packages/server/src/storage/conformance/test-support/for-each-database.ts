import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe } from 'vitest';
import { SecretBox } from '../../../crypto/secret-box.js';
import {
  createTestDatabase,
  type TestDatabaseKind,
  testDatabaseKinds,
} from '../../../test-support/databases.js';
import { type Database, openDatabase } from '../../database.js';
import { createRepositories, type Repositories } from '../../repositories.js';
import type { Schema } from '../../schema.js';
import { SECRET } from './fixtures.js';

/** The database a contract runs against; read it inside tests and hooks (it is opened in `beforeAll`). */
export interface ConformanceDatabase {
  readonly kind: TestDatabaseKind;
  /** A fresh database of `kind`, opened and migrated. */
  readonly database: Database;
  /**
   * A second connection for races. PostgreSQL: a second pool, as if another server process.
   * SQLite: the same Database — one process serializes its statements on one connection, and two
   * synchronous connections in one thread would wait on each other's locks.
   */
  readonly other: Database;
  /** Every repository over `database`. */
  readonly repos: Repositories;
  /** The operator secret box the repositories encrypt with (from `SECRET`). */
  readonly box: SecretBox;
  /** The typed query builder on `database`, to look at what is stored. */
  raw(): Kysely<Schema>;
}

/**
 * One suite, every backend (in the spirit of Dex's storage/conformance): each file in this folder
 * holds the contract one repository or the engine adapter states in its doc comment, and runs it
 * through `forEachDatabase` on a fresh SQLite file and a fresh PostgreSQL database (dropped after).
 * `LATCHKEY_TEST_DATABASES=sqlite` (or `postgres`) narrows the run.
 *
 * Tests are named `storage conformance: <kind> > <contract> > <test>`.
 */
export function forEachDatabase(contract: string, define: (store: ConformanceDatabase) => void): void {
  describe.each(testDatabaseKinds())('storage conformance: %s', (kind: TestDatabaseKind) => {
    let test: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
    let other: Database | undefined;
    let repos: Repositories | undefined;
    const box = SecretBox.fromSecret(SECRET);
    const opened = <T>(value: T | undefined): T => {
      if (value === undefined) throw new Error('the conformance database is opened in beforeAll');
      return value;
    };
    const store: ConformanceDatabase = {
      kind,
      box,
      get database() {
        return opened(test).database;
      },
      get other() {
        return opened(other);
      },
      get repos() {
        return opened(repos);
      },
      raw: () => opened(test).database.db,
    };

    beforeAll(async () => {
      test = await createTestDatabase(kind);
      other = kind === 'postgres' ? await openDatabase(test.url, { poolSize: 4 }) : test.database;
      repos = createRepositories(test.database, box);
    });

    afterAll(async () => {
      if (other && other !== test?.database) await other.close();
      await test?.drop();
    });

    describe(contract, () => define(store));
  });
}
