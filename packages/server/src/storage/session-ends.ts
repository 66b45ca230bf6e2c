import { EventEmitter } from 'node:events';
import { type Kysely, sql, type Transaction } from 'kysely';
import { newId } from '../crypto/ids.js';
import type { Database, Dialect } from './database.js';
import type { Schema } from './schema.js';

/**
 * Live sign-out's notifier: every place where a person's app sessions end records a `SessionEnd`
 * inside the transaction that ends them, so the event exists exactly when the revocation does
 * (delivered at commit, never for a rollback).
 * - PostgreSQL: `pg_notify` on `SESSION_END_CHANNEL`; the database hands it at commit to every
 *   process of the fleet that LISTENs (storage/session-end-feed.ts).
 * - SQLite: a row in `session_end_events` (the outbox); the server process reads new rows at once
 *   when it wrote them itself, and every poll interval for rows another process (the admin CLI, a
 *   second server on the file) committed.
 * No extra service either way.
 */

/** Why the sessions ended (docs/live-sign-out.md lists them; the SDK passes them on as `reason`). */
export type SessionEndReason =
  /** An administrator (or SCIM provisioning) disabled the user. */
  | 'user_disabled'
  /** An administrator revoked everything the user holds. */
  | 'sessions_revoked'
  /** The person signed out everywhere (account page). */
  | 'signed_out_everywhere'
  /** The person (account page) or the app itself (revocation, end-session) ended this app's grant. */
  | 'grant_revoked'
  /** The password was changed (account page) or set by an administrator. */
  | 'password_changed'
  /** The password was reset through a reset link. */
  | 'password_reset'
  /** An administrator removed the user's second factors. */
  | 'two_step_reset'
  /** The upstream IdP no longer vouches for the person (refresh-time revalidation). */
  | 'upstream_revoked'
  /** A refresh token came back after rotation (a copy): the family is revoked (RFC 9700 §4.14.2). */
  | 'refresh_token_reuse';

export const SESSION_END_REASONS: readonly SessionEndReason[] = [
  'user_disabled',
  'sessions_revoked',
  'signed_out_everywhere',
  'grant_revoked',
  'password_changed',
  'password_reset',
  'two_step_reset',
  'upstream_revoked',
  'refresh_token_reuse',
];

/** One ended grant: its id, and its client when known (a JWT access token names only the client). */
export interface EndedGrant {
  id: string;
  clientId?: string | undefined;
}

export interface SessionEnd {
  /** Unique per event (`jti` of the Security Event Token). */
  id: string;
  accountId: string;
  /** The grants that ended, or `all` for everything the account held. */
  grants: EndedGrant[] | 'all';
  reason: SessionEndReason;
  /** Epoch milliseconds. */
  at: number;
}

export type SessionEndInput = Omit<SessionEnd, 'id' | 'at'> & { at?: number };

/** The PostgreSQL channel; one per database, so every process of a fleet hears every end. */
export const SESSION_END_CHANNEL = 'latchkey_session_end';
/** Outbox rows live this long: a process that was away longer has closed its streams anyway. */
export const OUTBOX_TTL_MS = 5 * 60_000;

/**
 * Processes in this process that read an SQLite outbox: told after a local write, so an end made
 * here is delivered without waiting for the poll. (Their read runs on the same connection, which
 * Kysely's SQLite driver hands out one query or transaction at a time: it sees the row only once
 * the transaction that wrote it committed.)
 */
export const localOutboxWrites = new EventEmitter();
localOutboxWrites.setMaxListeners(0);

function grantIdsOf(grants: SessionEnd['grants']): string {
  return grants === 'all' ? 'all' : grants.map((g) => g.id).join(',');
}

/**
 * Records `input` inside transaction `trx` (or as its own statement on `db`). Call it in the same
 * transaction as the statement that ended the sessions, and only when that statement removed
 * something. Returns the event.
 */
export async function recordSessionEnd(
  trx: Kysely<Schema> | Transaction<Schema>,
  dialect: Dialect,
  input: SessionEndInput,
): Promise<SessionEnd> {
  const end: SessionEnd = {
    id: newId(),
    accountId: input.accountId,
    grants: input.grants,
    reason: input.reason,
    at: input.at ?? Date.now(),
  };
  const payload = JSON.stringify(end);
  if (dialect === 'postgres') {
    // NOTIFY payloads are limited to 8000 bytes; a person has a handful of grants, but a bulk end
    // degrades to "all of this account's streams" rather than failing the revocation.
    const text = payload.length < 7_900 ? payload : JSON.stringify({ ...end, grants: 'all' });
    await sql`select pg_notify(${SESSION_END_CHANNEL}, ${text})`.execute(trx);
  } else {
    await trx
      .insertInto('session_end_events')
      .values({ payload, created_at: end.at, expires_at: end.at + OUTBOX_TTL_MS })
      .execute();
    queueMicrotask(() => localOutboxWrites.emit('written'));
  }
  return end;
}

/** Parses a NOTIFY payload or outbox row; undefined for anything malformed. */
export function parseSessionEnd(text: string): SessionEnd | undefined {
  try {
    const value = JSON.parse(text) as Partial<SessionEnd>;
    if (
      typeof value.id !== 'string' ||
      typeof value.accountId !== 'string' ||
      typeof value.at !== 'number' ||
      !SESSION_END_REASONS.includes(value.reason as SessionEndReason)
    )
      return undefined;
    const grants = value.grants;
    if (grants !== 'all' && !(Array.isArray(grants) && grants.every((g) => typeof g?.id === 'string')))
      return undefined;
    return value as SessionEnd;
  } catch {
    return undefined;
  }
}

/** For logs: which grants, without the payload. */
export function describeSessionEnd(end: SessionEnd): Record<string, unknown> {
  return { accountId: end.accountId, grants: grantIdsOf(end.grants), reason: end.reason, id: end.id };
}

/**
 * Runs `work` in a transaction and records the session end it returns (if any) in the same one.
 * For the domain's revocations: `work` ends the sessions and returns what ended, or undefined when
 * nothing did.
 */
export async function endSessionsInTransaction<T>(
  database: Database,
  work: (trx: Transaction<Schema>) => Promise<{ result: T; end?: SessionEndInput | undefined }>,
): Promise<T> {
  return database.db.transaction().execute(async (trx) => {
    const { result, end } = await work(trx);
    if (end) await recordSessionEnd(trx, database.dialect, end);
    return result;
  });
}
