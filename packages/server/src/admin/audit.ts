import type { AuditEvent } from '../storage/repositories/audit.js';
import type { AdminContext } from './context.js';
import { findUser } from './users.js';

export interface AuditFilter {
  /** Email or user id. */
  user?: string | undefined;
  /** Epoch milliseconds. */
  since?: number | undefined;
  action?: string | undefined;
  limit?: number | undefined;
}

/** Audit events, newest first, with the user's email beside the id for people reading them. */
export async function listAudit(
  ctx: AdminContext,
  filter: AuditFilter = {},
): Promise<(AuditEvent & { userEmail: string | null })[]> {
  const userId = filter.user !== undefined ? (await findUser(ctx, filter.user)).id : undefined;
  const events = await ctx.repos.audit.query({
    ...(userId !== undefined ? { userId } : {}),
    ...(filter.since !== undefined ? { since: filter.since } : {}),
    ...(filter.action !== undefined ? { action: filter.action } : {}),
    limit: filter.limit ?? 50,
  });
  const emails = new Map<string, string | null>();
  for (const id of new Set(events.map((e) => e.userId).filter((id): id is string => id !== null))) {
    emails.set(id, (await ctx.repos.users.findById(id))?.email ?? null);
  }
  return events.map((e) => ({ ...e, userEmail: e.userId ? (emails.get(e.userId) ?? null) : null }));
}
