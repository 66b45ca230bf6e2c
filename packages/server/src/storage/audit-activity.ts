import { sql } from 'kysely';
import type { Database } from './database.js';

/** How many events of each action and outcome fell in each hour (`hour`: epoch hours). */
export interface HourlyActionCount {
  hour: number;
  action: string;
  outcome: 'success' | 'failure' | 'info';
  count: number;
}

const HOUR_MS = 3_600_000;

/**
 * Audit events of the given actions since `since`, counted per hour, action and outcome: one
 * grouped query (the `audit_at` index covers the time range) rather than reading events page by
 * page. Optionally only events of some organizations. Same SQL on SQLite and PostgreSQL: `at` is
 * an integer column in both, so `/` is integer division.
 */
export async function auditActivityByHour(
  database: Pick<Database, 'db'>,
  filter: { since: number; actions: readonly string[]; organizationIds?: readonly string[] | undefined },
): Promise<HourlyActionCount[]> {
  if (filter.actions.length === 0 || filter.organizationIds?.length === 0) return [];
  const bucket = sql<number | string>`(at / ${sql.lit(HOUR_MS)})`;
  let q = database.db
    .selectFrom('audit_events')
    .select([bucket.as('hour'), 'action', 'outcome', (eb) => eb.fn.countAll<number | string>().as('n')])
    .where('at', '>=', filter.since)
    .where('action', 'in', [...filter.actions])
    .groupBy([bucket, 'action', 'outcome']);
  if (filter.organizationIds) q = q.where('organization_id', 'in', [...filter.organizationIds]);
  const rows = await q.execute();
  return rows.map((r) => ({
    hour: Math.floor(Number(r.hour)),
    action: r.action,
    outcome: r.outcome,
    count: Number(r.n),
  }));
}
