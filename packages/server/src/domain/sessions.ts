import { type AccountRecord, listAccountRecords, revokeAllForAccount } from '../storage/account-records.js';
import type { Database } from '../storage/database.js';
import { listSessionsOf, type SessionListing } from './session-list.js';

/**
 * A person's browser sessions and app grants (the engine's records), ended without the engine:
 * revocations take effect at the app's next refresh on every server process, since every process
 * reads the same records.
 */
export interface SessionControl {
  /** "Sign out everywhere" / offboarding: every session, grant, code and token. Returns the records removed. */
  revokeAll(userId: string): Promise<number>;
  /**
   * Everything but one browser session (named by its `uid`): a password change that keeps this
   * browser signed in and ends every other session and every app's refresh tokens.
   */
  revokeAllExcept(userId: string, keepSessionUid: string): Promise<number>;
  /** One browser session of the user. */
  endBrowserSession(userId: string, sessionId: string): Promise<void>;
  /** One app's grant of the user and everything issued under it (refresh and access tokens). */
  endGrant(userId: string, grantId: string): Promise<void>;
  /** The raw engine records (Session, Grant, RefreshToken). */
  list(userId: string): Promise<AccountRecord[]>;
  /** Sessions per app and device, as people read them (session-list.ts). */
  listing(userId: string): Promise<SessionListing>;
}

export function createSessionControl(database: Database): SessionControl {
  const db = database.db;
  return {
    revokeAll: (userId) => revokeAllForAccount(database, userId),
    async revokeAllExcept(userId, keepSessionUid) {
      const result = await db
        .deleteFrom('oidc_records')
        .where('account_id', '=', userId)
        .where((eb) => eb.not(eb.and([eb('model', '=', 'Session'), eb('uid', '=', keepSessionUid)])))
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
    async endBrowserSession(userId, sessionId) {
      await db
        .deleteFrom('oidc_records')
        .where('model', '=', 'Session')
        .where('id', '=', sessionId)
        .where('account_id', '=', userId)
        .execute();
    },
    async endGrant(userId, grantId) {
      await db
        .deleteFrom('oidc_records')
        .where('account_id', '=', userId)
        .where((eb) =>
          eb.or([eb('grant_id', '=', grantId), eb.and([eb('model', '=', 'Grant'), eb('id', '=', grantId)])]),
        )
        .execute();
    },
    list: (userId) => listAccountRecords(database, userId),
    listing: (userId) => listSessionsOf(database, userId),
  };
}
