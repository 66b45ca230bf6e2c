import type { SessionListing } from '../domain/session-list.js';
import { createSessionControl } from '../domain/sessions.js';
import type { AdminContext } from './context.js';
import { AdminError } from './errors.js';
import { findUser } from './users.js';

/** The user's sessions per app and device (domain/session-list.ts), as the account page shows them. */
export async function listSessions(ctx: AdminContext, emailOrId: string): Promise<SessionListing> {
  const user = await findUser(ctx, emailOrId);
  return createSessionControl(ctx.database).listing(user.id);
}

/**
 * Ends one of the user's sessions: an app's refresh-token family (by its grant id; the app finds
 * out at its next refresh) or a browser session (by its id from the listing).
 */
export async function revokeSession(
  ctx: AdminContext,
  emailOrId: string,
  sessionId: string,
): Promise<{ revoked: 'app' | 'browser'; id: string }> {
  const user = await findUser(ctx, emailOrId);
  const control = createSessionControl(ctx.database);
  const listing = await control.listing(user.id);
  const app = listing.apps.find((a) => a.grantId === sessionId);
  const browser = listing.browsers.find((b) => b.id === sessionId);
  if (!app && !browser)
    throw new AdminError('not_found', `${user.email ?? user.id} has no session ${sessionId}`);
  if (app) await control.endGrant(user.id, app.grantId);
  else await control.endBrowserSession(user.id, sessionId);
  await ctx.audit({
    action: 'session_revoked',
    userId: user.id,
    organizationId: user.organizationId,
    clientId: app?.clientId,
    details: { kind: app ? 'app' : 'browser', id: sessionId },
  });
  return { revoked: app ? 'app' : 'browser', id: sessionId };
}

/**
 * "Revoke everything for this user": browser sessions, grants, codes, device codes and refresh tokens
 * go in one statement; each desktop app finds out at its next refresh. The account stays usable.
 */
export async function revokeSessions(ctx: AdminContext, emailOrId: string): Promise<{ revoked: number }> {
  const user = await findUser(ctx, emailOrId);
  const revoked = await createSessionControl(ctx.database).revokeAll(user.id);
  await ctx.audit({
    action: 'sessions_revoked',
    userId: user.id,
    organizationId: user.organizationId,
    details: { revoked },
  });
  return { revoked };
}
