import { didYouMean } from '../config/suggest.js';
import { AUDIT_ACTIONS } from '../domain/audit-actions.js';
import type { AuditEvent } from '../storage/repositories/audit.js';
import type { AdminContext } from './context.js';
import { AdminError } from './errors.js';
import { decodeCursor, encodeCursor, findUser } from './users.js';

export interface AuditFilter {
  /** Email or user id of the person the events are about. */
  user?: string | undefined;
  /** Who did it: `os:<login>`, `user:<id>`, a user id… as recorded. */
  actor?: string | undefined;
  /** Epoch milliseconds, inclusive. */
  since?: number | undefined;
  /** Epoch milliseconds, exclusive. */
  until?: number | undefined;
  action?: string | undefined;
  /** Only events of these organizations (an organization administrator's view). */
  withinOrganizations?: readonly string[] | undefined;
  /** The `next` of the previous page. */
  cursor?: string | undefined;
  limit?: number | undefined;
}

export type ListedAuditEvent = AuditEvent & { userEmail: string | null };

/**
 * An action filter must name an action: a typo would otherwise print "(none)" and look like a
 * quiet log. Known = the catalogue (domain/audit-actions.ts) or present in the log.
 */
async function checkAction(ctx: AdminContext, action: string): Promise<void> {
  if ((AUDIT_ACTIONS as readonly string[]).includes(action)) return;
  if (!(await ctx.repos.audit.hasAction(action))) {
    throw new AdminError(
      'invalid',
      `--action: no audit action "${action}"${didYouMean(action, AUDIT_ACTIONS)}`,
    );
  }
}

/**
 * Audit events, newest first, a page at a time (`next`: the cursor of the older page), with the
 * user's email beside the id for people reading them.
 */
export async function searchAudit(
  ctx: AdminContext,
  filter: AuditFilter = {},
): Promise<{ events: ListedAuditEvent[]; next?: string }> {
  const userId = filter.user !== undefined ? (await findUser(ctx, filter.user)).id : undefined;
  if (filter.action !== undefined) await checkAction(ctx, filter.action);
  const limit = Math.min(Math.max(filter.limit ?? 50, 1), 500);
  let before: { at: number; id: string } | undefined;
  if (filter.cursor !== undefined) {
    const [at, id] = decodeCursor(filter.cursor);
    if (!/^\d+$/.test(at)) throw new AdminError('invalid', 'cursor: not a cursor this server issued');
    before = { at: Number(at), id };
  }
  const rows = await ctx.repos.audit.search({
    userId,
    actor: filter.actor,
    action: filter.action,
    since: filter.since,
    until: filter.until,
    organizationIds: filter.withinOrganizations,
    before,
    limit: limit + 1,
  });
  const page = rows.slice(0, limit);
  const emails = new Map<string, string | null>();
  for (const id of new Set(page.map((r) => r.userId).filter((id): id is string => id !== null))) {
    emails.set(id, (await ctx.repos.users.findById(id))?.email ?? null);
  }
  const events = page.map((r) => ({ ...r, userEmail: r.userId ? (emails.get(r.userId) ?? null) : null }));
  const last = page[page.length - 1];
  return rows.length > limit && last
    ? { events, next: encodeCursor([String(last.at), last.id]) }
    : { events };
}

/** The newest events (the CLI's `audit`): one page. */
export async function listAudit(ctx: AdminContext, filter: AuditFilter = {}): Promise<ListedAuditEvent[]> {
  return (await searchAudit(ctx, filter)).events;
}
