import type { Selectable } from 'kysely';
import { newId } from '../../crypto/ids.js';
import type { Database } from '../database.js';
import { parseJson } from '../json.js';
import type { Schema } from '../schema.js';

export interface AuditEvent {
  id: string;
  at: number;
  action: string;
  outcome: 'success' | 'failure' | 'info';
  actor: string | null;
  userId: string | null;
  organizationId: string | null;
  clientId: string | null;
  ip: string | null;
  userAgent: string | null;
  details: Record<string, unknown>;
}

/** Audit events. Contract: append-only — there is no update or delete. */
export function auditRepository(database: Pick<Database, 'db'>) {
  const { db } = database;
  return {
    async append(event: {
      action: string;
      outcome: 'success' | 'failure' | 'info';
      actor?: string | undefined;
      userId?: string | undefined;
      organizationId?: string | undefined;
      clientId?: string | undefined;
      ip?: string | undefined;
      userAgent?: string | undefined;
      details?: Record<string, unknown> | undefined;
    }): Promise<void> {
      const now = Date.now();
      await db
        .insertInto('audit_events')
        .values({
          id: newId(now),
          at: now,
          action: event.action,
          outcome: event.outcome,
          actor: event.actor ?? null,
          user_id: event.userId ?? null,
          organization_id: event.organizationId ?? null,
          client_id: event.clientId ?? null,
          ip: event.ip ?? null,
          user_agent: event.userAgent?.slice(0, 512) ?? null,
          details: JSON.stringify(event.details ?? {}),
        })
        .execute();
    },
    /** Newest first; `before` is the last event of the previous page (keyset). */
    async search(filter: {
      userId?: string | undefined;
      actor?: string | undefined;
      action?: string | undefined;
      since?: number | undefined;
      until?: number | undefined;
      organizationIds?: readonly string[] | undefined;
      before?: { at: number; id: string } | undefined;
      limit: number;
    }): Promise<AuditEvent[]> {
      let q = db
        .selectFrom('audit_events')
        .selectAll()
        .orderBy('at', 'desc')
        .orderBy('id', 'desc')
        .limit(filter.limit);
      if (filter.userId !== undefined) q = q.where('user_id', '=', filter.userId);
      if (filter.actor !== undefined) q = q.where('actor', '=', filter.actor);
      if (filter.action !== undefined) q = q.where('action', '=', filter.action);
      if (filter.since !== undefined) q = q.where('at', '>=', filter.since);
      if (filter.until !== undefined) q = q.where('at', '<', filter.until);
      if (filter.organizationIds !== undefined) {
        if (filter.organizationIds.length === 0) return [];
        q = q.where('organization_id', 'in', [...filter.organizationIds]);
      }
      const before = filter.before;
      if (before) {
        q = q.where((eb) =>
          eb.or([eb('at', '<', before.at), eb.and([eb('at', '=', before.at), eb('id', '<', before.id)])]),
        );
      }
      return (await q.execute()).map(toEvent);
    },

    /** Whether any event has this action (to tell a typo from a quiet log). */
    async hasAction(action: string): Promise<boolean> {
      const row = await db
        .selectFrom('audit_events')
        .select('id')
        .where('action', '=', action)
        .limit(1)
        .executeTakeFirst();
      return row !== undefined;
    },

    async query(
      filter: { userId?: string; since?: number; action?: string; limit?: number } = {},
    ): Promise<AuditEvent[]> {
      let q = db
        .selectFrom('audit_events')
        .selectAll()
        .orderBy('at', 'desc')
        .orderBy('id', 'desc')
        .limit(filter.limit ?? 100);
      if (filter.userId) q = q.where('user_id', '=', filter.userId);
      if (filter.since !== undefined) q = q.where('at', '>=', filter.since);
      if (filter.action) q = q.where('action', '=', filter.action);
      const rows = await q.execute();
      return rows.map(toEvent);
    },
  };
}

function toEvent(r: Selectable<Schema['audit_events']>): AuditEvent {
  return {
    id: r.id,
    at: r.at,
    action: r.action,
    outcome: r.outcome as AuditEvent['outcome'],
    actor: r.actor,
    userId: r.user_id,
    organizationId: r.organization_id,
    clientId: r.client_id,
    ip: r.ip,
    userAgent: r.user_agent,
    details: parseJson(r.details, {}),
  };
}
