import type { Database } from '../storage/database.js';
import { describeDevice } from './user-agents.js';

/**
 * A person's sessions as people think of them — "Acme Desktop on Windows, from 10.0.0.7, last used
 * an hour ago" — read from the engine's records (`oidc_records`) without the engine. The account
 * page, `latchkey admin sessions list`, the admin API and the console all show this one listing.
 *
 * - An app is signed in while its refresh-token family (all the tokens issued under one grant, one
 *   per rotation) has a live token. Every sign-in of an app makes a new grant (sign-in/steps/launch.ts),
 *   so one family is one app on one device. An app that never redeemed its code has a grant and a
 *   code but no refresh token: it is not signed in and is not listed.
 * - A browser session is the engine's Session: the browser that signed in at Latchkey, and the apps
 *   it launched.
 * - Device and address are those of the engine request that last saved the record (the adapter
 *   writes them, storage/oidc-adapter.ts): for an app, its last refresh.
 */

export interface AppSignIn {
  /** The refresh-token family: revoke it with `SessionControl.endGrant(userId, grantId)`. */
  grantId: string;
  clientId: string;
  /** The client's name, or its id when the client is gone. */
  app: string;
  device: string;
  ip: string | null;
  /** The sign-in: when the app redeemed its code. */
  createdAt: number;
  /** The last refresh (the newest rotation), or the sign-in when it never refreshed. */
  lastUsedAt: number;
  /** When the live refresh token expires unless used (null: no expiry). */
  expiresAt: number | null;
}

export interface BrowserSession {
  /** The stored id (not the cookie's value): end it with `SessionControl.endBrowserSession`. */
  id: string;
  uid: string | null;
  device: string;
  ip: string | null;
  createdAt: number;
  lastUsedAt: number;
  expiresAt: number | null;
  /** Apps this browser launched (the session's authorizations). */
  apps: { clientId: string; app: string }[];
}

export interface SessionListing {
  browsers: BrowserSession[];
  /** Newest use first. */
  apps: AppSignIn[];
}

interface Row {
  model: string;
  id: string;
  uid: string | null;
  grant_id: string | null;
  payload: string;
  created_at: number;
  updated_at: number | null;
  expires_at: number | null;
  consumed_at: number | null;
  ip: string | null;
  user_agent: string | null;
}

export async function listSessionsOf(
  database: Pick<Database, 'db'>,
  userId: string,
  now: number = Date.now(),
): Promise<SessionListing> {
  const rows: Row[] = await database.db
    .selectFrom('oidc_records')
    .select([
      'model',
      'id',
      'uid',
      'grant_id',
      'payload',
      'created_at',
      'updated_at',
      'expires_at',
      'consumed_at',
      'ip',
      'user_agent',
    ])
    .where('account_id', '=', userId)
    .where('model', 'in', ['Session', 'Grant', 'RefreshToken'])
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
    .orderBy('created_at')
    .execute();

  const grants = new Map<string, { clientId: string }>();
  const families = new Map<string, Row[]>();
  const sessions: { row: Row; clientIds: string[] }[] = [];
  for (const row of rows) {
    const payload = JSON.parse(row.payload) as {
      clientId?: unknown;
      authorizations?: Record<string, unknown>;
    };
    if (row.model === 'Grant' && typeof payload.clientId === 'string') {
      grants.set(row.id, { clientId: payload.clientId });
    } else if (row.model === 'RefreshToken' && row.grant_id) {
      const family = families.get(row.grant_id) ?? [];
      family.push(row);
      families.set(row.grant_id, family);
    } else if (row.model === 'Session') {
      sessions.push({ row, clientIds: Object.keys(payload.authorizations ?? {}) });
    }
  }

  const clientIds = new Set<string>([...grants.values()].map((g) => g.clientId));
  for (const s of sessions) for (const id of s.clientIds) clientIds.add(id);
  const names = await clientNames(database, [...clientIds]);
  const nameOf = (clientId: string) => names.get(clientId) ?? clientId;

  const apps: AppSignIn[] = [];
  for (const [grantId, family] of families) {
    const grant = grants.get(grantId);
    const live = family.find((r) => r.consumed_at === null);
    // Without its grant a token is refused at the token endpoint; without a live token the family
    // was rotated away or revoked: neither is a signed-in app.
    if (!grant || !live) continue;
    const newest = family.reduce((a, b) => (b.created_at >= a.created_at ? b : a));
    const oldest = family.reduce((a, b) => (b.created_at < a.created_at ? b : a));
    apps.push({
      grantId,
      clientId: grant.clientId,
      app: nameOf(grant.clientId),
      device: describeDevice(newest.user_agent),
      ip: newest.ip,
      createdAt: oldest.created_at,
      lastUsedAt: newest.created_at,
      expiresAt: live.expires_at,
    });
  }
  apps.sort((a, b) => b.lastUsedAt - a.lastUsedAt);

  const browsers: BrowserSession[] = sessions.map(({ row, clientIds: ids }) => ({
    id: row.id,
    uid: row.uid,
    device: describeDevice(row.user_agent),
    ip: row.ip,
    createdAt: row.created_at,
    lastUsedAt: row.updated_at ?? row.created_at,
    expiresAt: row.expires_at,
    apps: ids.map((clientId) => ({ clientId, app: nameOf(clientId) })),
  }));
  browsers.sort((a, b) => b.lastUsedAt - a.lastUsedAt);
  return { browsers, apps };
}

async function clientNames(database: Pick<Database, 'db'>, ids: string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await database.db
    .selectFrom('clients')
    .select(['id', 'name'])
    .where('id', 'in', ids)
    .execute();
  return new Map(rows.map((r) => [r.id, r.name]));
}
