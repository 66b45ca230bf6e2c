import { createHash } from 'node:crypto';
import type { KoaContextWithOIDC } from 'oidc-provider';

/** RFC 8628 §3.2: the interval a device waits between polls when the response names none; ours. */
export const DEVICE_POLL_INTERVAL_SECONDS = 5;

/**
 * Polls that arrive up to this much early still count as on time: a device that waits exactly the
 * interval sees its requests land a little closer together now and then (network and scheduling
 * jitter), and must not be told to slow down for that.
 */
const EARLY_TOLERANCE_MS = 1_000;

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/**
 * Where the last answered poll of each device code is remembered, shared by every server process:
 * `remember(key, until)` is true for the first caller and false while the key is remembered and
 * unexpired, atomically (storage/repositories/replay-cache.ts).
 */
export interface PollLedger {
  remember(key: string, expiresAt: number): Promise<boolean>;
}

/** The ledger key of a device code: a digest, so the table never holds the code itself. */
function pollKey(deviceCode: string): string {
  return `device-poll:${createHash('sha256').update(deviceCode).digest('base64url')}`;
}

/**
 * RFC 8628 §3.2 and §3.5 for the engine, which neither sends `interval` nor enforces one
 * (oidc-provider 9 only defines the `slow_down` error):
 * - the device authorization response carries `interval`;
 * - a poll answered `authorization_pending` within the interval of the previous answered poll of
 *   the same device code is answered `slow_down` instead (§3.5). A poll that finds the code approved,
 *   denied or expired is answered as the engine says: it ends the polling anyway.
 * The first poll is never early (the interval separates polls, not the code from its first poll).
 * An early poll does not move the mark: a device that polls at a steady pace just below the interval
 * gets every other poll answered rather than never one again. The device, told `slow_down`, adds 5 s
 * to its interval (§3.5).
 */
export function devicePollingMiddleware(
  ledger: PollLedger,
  options: { intervalSeconds?: number; now?: () => number } = {},
) {
  const interval = options.intervalSeconds ?? DEVICE_POLL_INTERVAL_SECONDS;
  const now = options.now ?? Date.now;
  return async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => {
    if (ctx.method !== 'POST' || (ctx.path !== '/device/auth' && ctx.path !== '/token')) return next();
    await next();
    const body = ctx.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object') return;
    if (ctx.path === '/device/auth') {
      if (ctx.status === 200 && typeof body.device_code === 'string') body.interval = interval;
      return;
    }
    const params = ctx.oidc?.params as Record<string, unknown> | undefined;
    if (params?.grant_type !== DEVICE_CODE_GRANT || body.error !== 'authorization_pending') return;
    if (typeof params.device_code !== 'string') return;
    const onTime = await ledger.remember(
      pollKey(params.device_code),
      now() + interval * 1000 - EARLY_TOLERANCE_MS,
    );
    if (!onTime) {
      ctx.body = {
        error: 'slow_down',
        error_description: `poll at most every ${interval} seconds (RFC 8628 §3.5): add 5 seconds to the interval`,
      };
    }
  };
}
