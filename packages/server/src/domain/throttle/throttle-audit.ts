import type { Audit } from '../audit.js';
import type { ThrottleEvent } from './throttle.js';

/** Throttle events as audit events: an address or account being slowed down is worth an admin's eye. */
export function auditThrottleEvents(audit: Audit): (event: ThrottleEvent) => void {
  return (event) => {
    void audit(
      event.type === 'throttled'
        ? {
            action: 'throttled',
            outcome: 'failure',
            details: {
              limitedBy: event.limitedBy,
              retryAfterMs: event.retryAfterMs,
              account: event.keys.account,
              address: event.keys.address,
            },
          }
        : { action: 'throttle_cleared', outcome: 'info', details: { key: event.key } },
    ).catch(() => {});
  };
}
