import type { LatchkeyConfig } from '../config/types.js';
import type { PasswordHasher } from '../domain/passwords/password-hasher.js';
import type { Throttle } from '../domain/throttle/throttle.js';
import type { Database } from '../storage/database.js';
import type { Repositories } from '../storage/repositories.js';

/** What an admin action records in the audit log, beside its name and outcome. */
export interface AdminAuditEvent {
  action: string;
  outcome?: 'success' | 'failure' | 'info';
  userId?: string | undefined;
  organizationId?: string | undefined;
  clientId?: string | undefined;
  details?: Record<string, unknown> | undefined;
}

/**
 * Everything an admin operation needs. The CLI opens one straight from the configuration (no
 * running server is involved: every server process reads what these operations change from the same
 * database); the admin API and the console make one per request from the server's own parts, with
 * the signed-in administrator as the actor (`asActor`).
 */
export interface AdminContext {
  config: LatchkeyConfig;
  database: Database;
  repos: Repositories;
  /** Who the audit log names as the actor: `os:<login>` for the CLI, `user:<id>` for the API and console. */
  actor: string;
  /** Where the request came from (API and console), for the audit log. */
  origin?: { ip?: string | undefined; userAgent?: string | undefined } | undefined;
  hasher(): PasswordHasher;
  /**
   * The attempt throttle. Shared with the servers only through Redis (LATCHKEY_REDIS_URL); without
   * it the counters live in each server's memory, out of reach of this process (`shared` false).
   */
  throttle(): { throttle: Throttle; shared: boolean };
  audit(event: AdminAuditEvent): Promise<void>;
  close(): Promise<void>;
}

export interface AdminContextParts {
  config: LatchkeyConfig;
  database: Database;
  repos: Repositories;
  hasher(): PasswordHasher;
  throttle(): { throttle: Throttle; shared: boolean };
  close(): Promise<void>;
}

/** One context from the parts of a process, every audit event naming `actor`. */
export function createAdminContext(
  parts: AdminContextParts,
  actor: string,
  origin?: AdminContext['origin'],
): AdminContext {
  return {
    ...parts,
    actor,
    origin,
    audit: (event) =>
      parts.repos.audit.append({
        action: event.action,
        outcome: event.outcome ?? 'success',
        actor,
        userId: event.userId,
        organizationId: event.organizationId,
        clientId: event.clientId,
        ip: origin?.ip,
        userAgent: origin?.userAgent,
        details: event.details,
      }),
  };
}

/** The same context acting for someone else (the admin API: the caller of one request). */
export function asActor(ctx: AdminContext, actor: string, origin?: AdminContext['origin']): AdminContext {
  return createAdminContext(ctx, actor, origin);
}
