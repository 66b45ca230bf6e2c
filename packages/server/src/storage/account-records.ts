import type { Kysely } from 'kysely';
import type { Database, Dialect } from './database.js';
import type { Schema } from './schema.js';
import { recordSessionEnd, type SessionEndReason } from './session-ends.js';

/**
 * The engine's records of one account (`oidc_records.account_id`), read and removed without the
 * engine: for the admin commands and the account page. Needs no oidc-provider.
 */

/**
 * "Revoke everything for this user": sessions, grants, codes, tokens and in-flight interactions of
 * the account, in one statement, with the live sign-out event for the account's apps recorded in
 * the same transaction (storage/session-ends.ts). Returns how many records were removed.
 */
export async function revokeAllForAccount(
  database: Pick<Database, 'db' | 'dialect'>,
  accountId: string,
  reason: SessionEndReason = 'sessions_revoked',
): Promise<number> {
  const { db, dialect } = database;
  // Inside a caller's transaction (offboarding) the statements join it; the event commits with it.
  if (db.isTransaction) return revokeAllForAccountIn(db, dialect, accountId, reason);
  return db.transaction().execute((trx) => revokeAllForAccountIn(trx, dialect, accountId, reason));
}

/**
 * The same inside a transaction the caller holds (offboarding: disable the user and revoke
 * everything in one commit). The event is delivered when that transaction commits.
 */
export async function revokeAllForAccountIn(
  trx: Kysely<Schema>,
  dialect: Dialect,
  accountId: string,
  reason: SessionEndReason,
): Promise<number> {
  const result = await trx.deleteFrom('oidc_records').where('account_id', '=', accountId).executeTakeFirst();
  const removed = Number(result.numDeletedRows);
  if (removed > 0) await recordSessionEnd(trx, dialect, { accountId, grants: 'all', reason });
  return removed;
}

export interface AccountRecord {
  model: string;
  /** The stored id (for hashed models not the value the engine issued: see record-ids.ts). */
  id: string;
  /** A Session's uid, which stays plain and names it without its cookie value. */
  uid: string | null;
  grantId: string | null;
  clientId: string | undefined;
  createdAt: number;
  expiresAt: number | null;
}

/** Live sessions, grants and refresh tokens of a user, for `latchkey admin sessions list`. */
export async function listAccountRecords(
  database: Pick<Database, 'db'>,
  accountId: string,
  now: number = Date.now(),
): Promise<AccountRecord[]> {
  const rows = await database.db
    .selectFrom('oidc_records')
    .select(['model', 'id', 'uid', 'grant_id', 'created_at', 'expires_at', 'payload'])
    .where('account_id', '=', accountId)
    .where('model', 'in', ['Session', 'Grant', 'RefreshToken'])
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
    .orderBy('created_at')
    .execute();
  return rows.map((r) => {
    const payload = JSON.parse(r.payload) as { clientId?: string };
    return {
      model: r.model,
      id: r.id,
      uid: r.uid,
      grantId: r.grant_id,
      clientId: payload.clientId,
      createdAt: r.created_at,
      expiresAt: r.expires_at,
    };
  });
}
