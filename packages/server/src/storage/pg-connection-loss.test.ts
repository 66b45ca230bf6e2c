import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabaseUrl, POSTGRES_ADMIN_URL, testDatabaseKinds } from '../test-support/databases.js';
import { type Database, openDatabase } from './database.js';

/**
 * PostgreSQL ends a connection that the pool has lent out (a restart, a failover, an administrator,
 * `idle_in_transaction_session_timeout`) while no query runs on it: inside a transaction, between two
 * statements. node-postgres reports that as an `error` event on the client, and the pool listens only
 * to the clients it holds idle; an `error` event nobody listens to ends the process (faults.test.ts
 * saw a server die so when its PostgreSQL stopped under load, on Node 22 in CI). The connection's
 * next query must fail instead, and the server stay up.
 */
describe.skipIf(!testDatabaseKinds().includes('postgres'))('PostgreSQL: a lent connection ends', () => {
  let scratch: Awaited<ReturnType<typeof createTestDatabaseUrl>>;
  let database: Database;
  let admin: pg.Client;

  beforeAll(async () => {
    scratch = await createTestDatabaseUrl('postgres');
    database = await openDatabase(scratch.url);
    admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.end();
    await database?.close();
    await scratch?.drop();
  });

  it('between two statements of a transaction: the transaction fails, the process stays up, the pool goes on', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      const outcome = await database.db
        .transaction()
        .execute(async (trx) => {
          const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx);
          await admin.query('select pg_terminate_backend($1)', [rows[0]?.pid]);
          // The FATAL message arrives while the transaction waits here, its connection lent out.
          await new Promise((resolve) => setTimeout(resolve, 300));
          await sql`select 1`.execute(trx);
          return 'committed';
        })
        .catch((error: unknown) => error);
      expect(outcome).toBeInstanceOf(Error);
      expect(uncaught).toEqual([]);
      // The pool made a new connection for the next request.
      const { rows } = await sql<{ one: number }>`select 1 as one`.execute(database.db);
      expect(rows[0]?.one).toBe(1);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});
