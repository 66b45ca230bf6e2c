import type { Repositories } from '../storage/repositories.js';

/** One audit event as the sign-in, account and admin code records it (append-only `audit_events`). */
export interface AuditInput {
  action: string;
  outcome: 'success' | 'failure' | 'info';
  userId?: string | undefined;
  organizationId?: string | undefined;
  clientId?: string | undefined;
  actor?: string | undefined;
  ip?: string | undefined;
  userAgent?: string | undefined;
  details?: Record<string, unknown> | undefined;
}

/** Records an audit event. */
export type Audit = (event: AuditInput) => Promise<void>;

export function repositoryAudit(repos: Pick<Repositories, 'audit'>): Audit {
  return (event) => repos.audit.append(event);
}
