import { sql } from 'kysely';
import type { Database } from '../storage/database.js';

const HOUR_MS = 3_600_000;

/** One hour of sign-in activity. */
export interface HourCounts {
  /** Epoch milliseconds of the hour's start. */
  hour: number;
  signIns: number;
  failures: number;
  throttled: number;
  upstreamErrors: number;
}

/**
 * The overview's numbers, counted from the audit log with the same classification the Prometheus
 * counters use (http/metrics.ts `observeAudit`): `/metrics` counts per process since its start,
 * while the audit log is shared by every process of a fleet and covers any window, so the console
 * reads the log. Failures are the failed password, 2-step, passkey and upstream sign-in steps.
 */
const FAILURE_ACTIONS = ['password', 'second_factor', 'passkey_sign_in', 'upstream_sign_in'];
const UPSTREAM_ACTIONS = ['upstream_sign_in', 'upstream_revalidate'];
const ACTIONS = ['sign_in', 'throttled', ...new Set([...FAILURE_ACTIONS, ...UPSTREAM_ACTIONS])];

export async function signInActivity(
  database: Pick<Database, 'db'>,
  options: { hours: number; organizations?: readonly string[] | undefined; now?: number },
): Promise<HourCounts[]> {
  const now = options.now ?? Date.now();
  const firstHour = Math.floor(now / HOUR_MS) * HOUR_MS - (options.hours - 1) * HOUR_MS;
  // Integer division in both SQLite and PostgreSQL (`at` is an integer column in both).
  const bucket = sql<number | string>`(at / ${HOUR_MS})`;
  let q = database.db
    .selectFrom('audit_events')
    .select([bucket.as('bucket'), 'action', 'outcome', (eb) => eb.fn.countAll<number | string>().as('n')])
    .where('at', '>=', firstHour)
    .where('action', 'in', ACTIONS)
    .groupBy([bucket, 'action', 'outcome']);
  if (options.organizations) {
    if (options.organizations.length === 0) return emptyHours(firstHour, options.hours);
    q = q.where('organization_id', 'in', [...options.organizations]);
  }
  const rows = await q.execute();
  const hours = emptyHours(firstHour, options.hours);
  for (const row of rows) {
    const slot = hours[Math.floor(Number(row.bucket)) - firstHour / HOUR_MS];
    if (!slot) continue;
    const n = Number(row.n);
    if (row.action === 'sign_in' && row.outcome === 'success') slot.signIns += n;
    if (row.action === 'throttled') slot.throttled += n;
    if (row.outcome === 'failure' && FAILURE_ACTIONS.includes(row.action)) slot.failures += n;
    if (row.outcome === 'failure' && UPSTREAM_ACTIONS.includes(row.action)) slot.upstreamErrors += n;
  }
  return hours;
}

function emptyHours(firstHour: number, count: number): HourCounts[] {
  return Array.from({ length: count }, (_, i) => ({
    hour: firstHour + i * HOUR_MS,
    signIns: 0,
    failures: 0,
    throttled: 0,
    upstreamErrors: 0,
  }));
}
