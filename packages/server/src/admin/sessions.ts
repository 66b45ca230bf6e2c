import { createSessionControl } from '../domain/sessions.js';
import type { AdminContext } from './context.js';
import { findUser } from './users.js';

export interface SessionRecord {
  /** `Session` (browser), `Grant` (an app's consent) or `RefreshToken` (an app's stored sign-in). */
  model: string;
  id: string;
  grantId: string | null;
  clientId: string | undefined;
  createdAt: number;
  expiresAt: number | null;
}

/** The user's live browser sessions, grants and refresh tokens. */
export async function listSessions(ctx: AdminContext, emailOrId: string): Promise<SessionRecord[]> {
  const user = await findUser(ctx, emailOrId);
  return createSessionControl(ctx.database).list(user.id);
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
