import { auditActivityByHour } from '../storage/audit-activity.js';
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
 * The overview's numbers, counted from the audit log with the classification the Prometheus
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
  const firstHour = Math.floor(now / HOUR_MS) - (options.hours - 1);
  const hours: HourCounts[] = Array.from({ length: options.hours }, (_, i) => ({
    hour: (firstHour + i) * HOUR_MS,
    signIns: 0,
    failures: 0,
    throttled: 0,
    upstreamErrors: 0,
  }));
  const rows = await auditActivityByHour(database, {
    since: firstHour * HOUR_MS,
    actions: ACTIONS,
    organizationIds: options.organizations,
  });
  for (const row of rows) {
    const slot = hours[row.hour - firstHour];
    if (!slot) continue;
    if (row.action === 'sign_in' && row.outcome === 'success') slot.signIns += row.count;
    if (row.action === 'throttled') slot.throttled += row.count;
    if (row.outcome === 'failure' && FAILURE_ACTIONS.includes(row.action)) slot.failures += row.count;
    if (row.outcome === 'failure' && UPSTREAM_ACTIONS.includes(row.action)) slot.upstreamErrors += row.count;
  }
  return hours;
}
