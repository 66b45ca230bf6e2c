import type { Database } from '../storage/database.js';
import { auditRepository } from '../storage/repositories/audit.js';
import type { SessionControl } from './sessions.js';

export interface OffboardingDeps {
  database: Pick<Database, 'db'>;
  sessions: SessionControl;
}

export interface DisableOptions {
  /** Who the audit log names: `admin:<name>` for the CLI, `scim:<token id>` for a provisioning client. */
  actor: string;
  /** Why, in a word the audit log keeps (`admin_disable`, `scim_active_false`, `scim_delete`). */
  reason: string;
  /** More to record in the audit event's details (e.g. the SCIM request id). */
  details?: Record<string, unknown> | undefined;
  /** Where the request came from (the admin API's or SCIM client's address and user agent). */
  origin?: { ip?: string | undefined; userAgent?: string | undefined } | undefined;
}

export interface DisableResult {
  userId: string;
  organizationId: string;
  email: string | null;
  /** The status before: a repeated disable is harmless and says so. */
  wasActive: boolean;
  /** Records removed: sessions, grants, codes, refresh and access tokens, interactions. */
  revoked: number;
}

/**
 * Offboarding: the user is disabled and everything they hold — browser sessions, app grants, codes,
 * refresh and access tokens — is removed, and the audit event written, in ONE transaction. Either all
 * of it happens or none of it does: a crash between the status update and the revocation can neither
 * leave a disabled user's refresh token alive nor a revocation without its audit trail.
 *
 * The records are removed through `SessionControl.within(trx)`, the same revoke function every other
 * sign-out uses, so what hangs off a revocation there (e.g. the live sign-out notice) covers the
 * admin command and SCIM deprovisioning alike. An unknown user id returns undefined (nothing written).
 * Given a transaction (`{ db: trx }`), it runs inside it and commits or rolls back with it.
 */
export async function disableUserEverywhere(
  deps: OffboardingDeps,
  userId: string,
  options: DisableOptions,
): Promise<DisableResult | undefined> {
  const { db } = deps.database;
  // Inside a caller's transaction (a SCIM PATCH that changes attributes and `active` together) the
  // statements join it; otherwise they get their own.
  const run = <T>(work: (trx: typeof db) => Promise<T>) =>
    db.isTransaction ? work(db) : db.transaction().execute(work);
  return run(async (trx) => {
    const user = await trx
      .selectFrom('users')
      .select(['id', 'organization_id', 'email', 'status'])
      .where('id', '=', userId)
      .executeTakeFirst();
    if (!user) return undefined;
    await trx
      .updateTable('users')
      .set({ status: 'disabled', updated_at: Date.now() })
      .where('id', '=', userId)
      .execute();
    const revoked = await deps.sessions.within(trx).revokeAll(userId, 'user_disabled');
    await auditRepository({ db: trx }).append({
      action: 'user_disabled',
      outcome: 'success',
      actor: options.actor,
      userId,
      organizationId: user.organization_id,
      ip: options.origin?.ip,
      userAgent: options.origin?.userAgent,
      details: { ...options.details, reason: options.reason, revoked, wasActive: user.status === 'active' },
    });
    return {
      userId,
      organizationId: user.organization_id,
      email: user.email,
      wasActive: user.status === 'active',
      revoked,
    };
  });
}
