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
 * Everything an admin command needs, opened straight from the configuration: no running server is
 * involved, because every server process reads what these commands change from the same database
 * (clients within seconds, keys and organizations at their next poll, revocations at once).
 */
export interface AdminContext {
  config: LatchkeyConfig;
  database: Database;
  repos: Repositories;
  /** Who the audit log names as the actor. */
  actor: string;
  hasher(): PasswordHasher;
  /**
   * The attempt throttle. Shared with the servers only through Redis (LATCHKEY_REDIS_URL); without
   * it the counters live in each server's memory, out of reach of this process (`shared` false).
   */
  throttle(): { throttle: Throttle; shared: boolean };
  audit(event: AdminAuditEvent): Promise<void>;
  close(): Promise<void>;
}
