import { CompiledQuery } from 'kysely';
import type { Database } from './database.js';
import type { Schema } from './schema.js';

/**
 * One commit per refresh-token rotation.
 *
 * A rotation writes three times: the old refresh token is consumed (a conditional update, the
 * single-use check), its successor is inserted, and the access token is inserted. Run as three
 * statements they are three commits: on PostgreSQL three WAL flushes the request waits for, on SQLite
 * three rounds of WAL page writes. Here the consume is held back until the request's last write and
 * the three go to the database as one atomic unit:
 * - PostgreSQL: one statement, `WITH consumed AS (UPDATE … RETURNING) INSERT … WHERE EXISTS consumed`:
 *   one round trip, one flush.
 * - SQLite: one transaction on its single connection.
 *
 * Single use is unchanged: the consume is still `consumed_at IS NULL` (and `superseded_at IS NULL`:
 * a token the reuse grace superseded meanwhile is not rotated), now checked at commit. Of two
 * simultaneous rotations of one token exactly one commits; the other inserts nothing and its request
 * is refused (the adapter throws the engine's InvalidGrant). A rotation that fails for any reason
 * before its commit (a bad `resource`, a database error) writes nothing at all: the old token stays
 * usable, where before it was burned without a successor.
 */

/** One `oidc_records` row as the adapter's upsert writes it (a new record is never consumed). */
export type RecordValues = Omit<Schema['oidc_records'], 'consumed_at' | 'grace_used_at' | 'superseded_at'>;

export type HeldConsume = { model: string; id: string; at: number };

export interface RotationStatements {
  /** The conditional consume alone (`consumed_at IS NULL`); numAffectedRows tells whether it won. */
  consume(values: Record<string, unknown>): CompiledQuery;
  /** The adapter's upsert of one record. */
  upsert(values: Record<string, unknown>): CompiledQuery;
}

/** The inserted columns with their PostgreSQL types (parameters in a VALUES list need casts). */
const PG_TYPES: Record<keyof RecordValues, string> = {
  model: 'text',
  id: 'text',
  payload: 'text',
  grant_id: 'text',
  account_id: 'text',
  uid: 'text',
  user_code: 'text',
  expires_at: 'bigint',
  created_at: 'bigint',
  ip: 'text',
  user_agent: 'text',
  updated_at: 'bigint',
};
const COLUMNS = Object.keys(PG_TYPES) as (keyof RecordValues)[];

/**
 * The PostgreSQL statement for a consume and `rows` inserts. Data-modifying CTEs run on one snapshot
 * and the inserts see the update only through its RETURNING rows, hence `EXISTS (SELECT 1 FROM
 * consumed)`. A concurrent rotation of the same token waits on its row lock and then finds
 * `consumed_at` set: its update returns nothing and so inserts nothing.
 */
function postgresText(rows: number): string {
  const values: string[] = [];
  let n = 3;
  for (let r = 0; r < rows; r++) {
    values.push(`(${COLUMNS.map((c) => `$${++n}::${PG_TYPES[c]}`).join(', ')})`);
  }
  const list = COLUMNS.join(', ');
  return [
    'with consumed as (',
    '  update oidc_records set consumed_at = $1',
    '  where model = $2 and id = $3 and consumed_at is null and superseded_at is null returning 1',
    '), inserted as (',
    `  insert into oidc_records (${list}, consumed_at, grace_used_at)`,
    `  select ${COLUMNS.map((c) => `v.${c}`).join(', ')}, null, null`,
    `  from (values ${values.join(', ')}) as v (${list})`,
    '  where exists (select 1 from consumed)',
    '  on conflict (model, id) do update set',
    '    payload = excluded.payload, grant_id = excluded.grant_id, account_id = excluded.account_id,',
    '    uid = excluded.uid, user_code = excluded.user_code, expires_at = excluded.expires_at,',
    '    ip = excluded.ip, user_agent = excluded.user_agent, updated_at = excluded.updated_at',
    '  returning 1',
    ')',
    'select (select count(*) from consumed)::int as consumed, (select count(*) from inserted)::int as inserted',
  ].join('\n');
}

/**
 * Runs a held consume and the records written after it as one atomic unit. True when the consume won
 * (and every record is stored); false when the token had been consumed meanwhile (nothing stored).
 */
export function createRotationCommit(
  database: Database,
  statements: RotationStatements,
): (consume: HeldConsume, records: RecordValues[]) => Promise<boolean> {
  const { db } = database;

  if (database.dialect === 'postgres') {
    // The statement's text by number of records (the successor and the access token: 2).
    const texts = new Map<number, string>();
    return async (consume, records) => {
      if (records.length === 0) {
        const result = await db.executeQuery(statements.consume(consume));
        return Number(result.numAffectedRows) === 1;
      }
      let text = texts.get(records.length);
      if (!text) {
        text = postgresText(records.length);
        texts.set(records.length, text);
      }
      const parameters: unknown[] = [consume.at, consume.model, consume.id];
      for (const record of records) for (const column of COLUMNS) parameters.push(record[column]);
      const { rows } = await db.executeQuery<{ consumed: number }>(CompiledQuery.raw(text, parameters));
      return rows[0]?.consumed === 1;
    };
  }

  return (consume, records) =>
    db.transaction().execute(async (trx) => {
      const consumed = await trx.executeQuery(statements.consume(consume));
      if (Number(consumed.numAffectedRows) !== 1) return false;
      for (const record of records) await trx.executeQuery(statements.upsert(record));
      return true;
    });
}
