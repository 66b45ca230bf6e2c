import type { SecretBox } from '../crypto/secret-box.js';
import type { Database } from './database.js';
import { verifyOperatorSecret } from './repositories.js';

/**
 * Every column encrypted under the operator secret, with the associated data each value is bound to
 * (the repositories seal values to their row, so a value moved to another row does not open). Keep
 * this list in step with the repositories: secret-rotation.test.ts fails when a sealed value is
 * left behind.
 */
const SEALED = [
  {
    table: 'meta',
    key: 'key',
    column: 'value',
    ad: () => 'meta:secret_check',
    where: ['key', 'secret_check'],
  },
  {
    table: 'credentials',
    key: 'id',
    column: 'secret',
    ad: (id: string) => `credentials:${id}`,
    where: ['type', 'totp'],
  },
  { table: 'connections', key: 'id', column: 'secrets', ad: (id: string) => `connections:${id}` },
  { table: 'clients', key: 'id', column: 'secret', ad: (id: string) => `clients:${id}` },
  { table: 'signing_keys', key: 'kid', column: 'material', ad: (kid: string) => `signing_keys:${kid}` },
  {
    table: 'identities',
    key: 'id',
    column: 'upstream_refresh_token',
    ad: (id: string) => `identities:${id}`,
  },
] as const;

export type SecretRotationReport = Record<(typeof SEALED)[number]['table'], number>;

/**
 * `latchkey secret rotate`: re-encrypts everything sealed under the current operator secret (TOTP
 * secrets, connection secrets, client secrets, signing keys, upstream refresh tokens and the secret
 * check) under a new one, in one transaction: either every value moves to the new secret or none
 * does. Refuses to start when `from` is not the secret the database was created with.
 *
 * Run it with every server process stopped, then start them with the new secret: a process still on
 * the old one can no longer read keys or secrets. Short-lived sealed values (sign-in progress, CSRF
 * tokens, sealed upstream results) are not carried over: sign-ins in progress start again. Neither
 * are the engine's bearer secrets, stored as keyed hashes under a key derived from the secret
 * (record-ids.ts; a hash cannot be re-keyed): refresh tokens, browser sessions and codes issued
 * before the rotation are no longer found, so everyone signs in again once (the sweeper removes the
 * old records as they expire).
 */
export async function rotateOperatorSecret(
  database: Database,
  from: SecretBox,
  to: SecretBox,
): Promise<SecretRotationReport> {
  await verifyOperatorSecret(database, from);
  return database.db.transaction().execute(async (trx) => {
    const report = {} as SecretRotationReport;
    for (const spec of SEALED) {
      // biome-ignore lint/suspicious/noExplicitAny: one loop over several tables' columns.
      const t = trx as any;
      let query = t.selectFrom(spec.table).select([`${spec.key} as k`, `${spec.column} as v`]);
      query = query.where(spec.column, 'is not', null);
      if ('where' in spec) query = query.where(spec.where[0], '=', spec.where[1]);
      const rows = (await query.execute()) as { k: string; v: string }[];
      for (const row of rows) {
        const ad = spec.ad(row.k);
        const plaintext = from.decrypt(row.v, ad);
        await t
          .updateTable(spec.table)
          .set({ [spec.column]: to.encrypt(plaintext, ad) })
          .where(spec.key, '=', row.k)
          .execute();
      }
      report[spec.table] = rows.length;
    }
    return report;
  });
}
