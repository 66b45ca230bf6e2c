import type { Kysely } from 'kysely';
import { type AccountRecord, listAccountRecords, revokeAllForAccount } from '../storage/account-records.js';
import type { Database, Dialect } from '../storage/database.js';
import type { Schema } from '../storage/schema.js';
import { recordSessionEnd, type SessionEndInput, type SessionEndReason } from '../storage/session-ends.js';
import { listSessionsOf, type SessionListing } from './session-list.js';

export type { SessionEndReason } from '../storage/session-ends.js';

/**
 * A person's browser sessions and app grants (the engine's records), ended without the engine:
 * revocations take effect at the app's next refresh on every server process, since every process
 * reads the same records, and at once for an app that holds the live sign-out stream open: every
 * revocation here records its session end in the same transaction (storage/session-ends.ts).
 *
 * The revoke functions below are the one place where a user's records are removed (admin commands,
 * the account page, upstream revalidation, SCIM deprovisioning alike), so whatever must happen on
 * every revocation belongs here.
 */
export interface SessionControl {
  /**
   * "Sign out everywhere" / offboarding: every session, grant, code and token. Returns the records
   * removed. `reason` is what the apps are told (default `sessions_revoked`).
   */
  revokeAll(userId: string, reason?: SessionEndReason): Promise<number>;
  /**
   * Everything but one browser session (named by its `uid`): a password change that keeps this
   * browser signed in and ends every other session and every app's refresh tokens.
   */
  revokeAllExcept(userId: string, keepSessionUid: string, reason?: SessionEndReason): Promise<number>;
  /**
   * Every browser session of the user, keeping the apps' grants: the IdP's single logout ends the
   * person's web sign-in (SAML Profiles §4.4), not the desktop apps' refresh tokens. Returns the
   * sessions ended.
   */
  endBrowserSessions(userId: string): Promise<number>;
  /**
   * One browser session of the user. Desktop apps' grants outlive the browser session (their
   * refresh tokens do not expire with it), so no app is signed out by this.
   */
  endBrowserSession(userId: string, sessionId: string): Promise<void>;
  /** One app's grant of the user and everything issued under it (refresh and access tokens). */
  endGrant(userId: string, grantId: string): Promise<void>;
  /** The raw engine records (Session, Grant, RefreshToken). */
  list(userId: string): Promise<AccountRecord[]>;
  /**
   * The same operations on a transaction's connection (`db.transaction().execute(trx => …)`), so a
   * caller can make a revocation part of a larger change that commits or rolls back as one
   * (domain/offboarding.ts: disable + revoke + audit). The session end is delivered at its commit.
   */
  within(trx: Kysely<Schema>): SessionControl;
  /** Sessions per app and device, as people read them (session-list.ts). */
  listing(userId: string): Promise<SessionListing>;
}

export function createSessionControl(database: Pick<Database, 'db' | 'dialect'>): SessionControl {
  return sessionControlOn(database.db, database.dialect);
}

function sessionControlOn(db: Kysely<Schema>, dialect: Dialect): SessionControl {
  /** Runs `work` in a transaction (or the caller's) and records the end it returns in the same one. */
  const ending = <T>(
    work: (trx: Kysely<Schema>) => Promise<{ result: T; end?: SessionEndInput | undefined }>,
  ) => {
    const run = async (trx: Kysely<Schema>) => {
      const { result, end } = await work(trx);
      if (end) await recordSessionEnd(trx, dialect, end);
      return result;
    };
    return db.isTransaction ? run(db) : db.transaction().execute(run);
  };
  return {
    revokeAll: (userId, reason = 'sessions_revoked') => revokeAllForAccount({ db, dialect }, userId, reason),
    revokeAllExcept: (userId, keepSessionUid, reason = 'password_changed') =>
      ending(async (trx) => {
        const result = await trx
          .deleteFrom('oidc_records')
          .where('account_id', '=', userId)
          .where((eb) => eb.not(eb.and([eb('model', '=', 'Session'), eb('uid', '=', keepSessionUid)])))
          .executeTakeFirst();
        const removed = Number(result.numDeletedRows);
        return {
          result: removed,
          end: removed > 0 ? { accountId: userId, grants: 'all', reason } : undefined,
        };
      }),
    async endBrowserSessions(userId) {
      const result = await db
        .deleteFrom('oidc_records')
        .where('model', '=', 'Session')
        .where('account_id', '=', userId)
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
    endGrant: (userId, grantId) =>
      ending(async (trx) => {
        const removed = await trx
          .deleteFrom('oidc_records')
          .where('account_id', '=', userId)
          .where((eb) =>
            eb.or([
              eb('grant_id', '=', grantId),
              eb.and([eb('model', '=', 'Grant'), eb('id', '=', grantId)]),
            ]),
          )
          .returning(['payload'])
          .execute();
        if (removed.length === 0) return { result: undefined };
        return {
          result: undefined,
          end: {
            accountId: userId,
            grants: [{ id: grantId, clientId: clientOf(removed) }],
            reason: 'grant_revoked',
          },
        };
      }),
    list: (userId) => listAccountRecords({ db }, userId),
    within: (trx) => sessionControlOn(trx, dialect),
    listing: (userId) => listSessionsOf({ db }, userId),
  };
}

/** The client of removed records (every record of a grant names the same one). */
function clientOf(rows: { payload: string }[]): string | undefined {
  for (const row of rows) {
    try {
      const clientId = (JSON.parse(row.payload) as { clientId?: unknown }).clientId;
      if (typeof clientId === 'string') return clientId;
    } catch {
      // Next record.
    }
  }
  return undefined;
}
