import type { Database } from './database.js';

/**
 * The engine's records of one account (`oidc_records.account_id`), read and removed without the
 * engine: for the admin commands and the account page. Needs no oidc-provider.
 */

/**
 * "Revoke everything for this user": sessions, grants, codes, tokens and in-flight interactions of
 * the account, in one statement. Returns how many records were removed.
 */
export async function revokeAllForAccount(
  database: Pick<Database, 'db'>,
  accountId: string,
): Promise<number> {
  const result = await database.db
    .deleteFrom('oidc_records')
    .where('account_id', '=', accountId)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
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
