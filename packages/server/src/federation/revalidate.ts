import type { OrganizationPolicy } from '../config/types.js';
import type { Database } from '../storage/database.js';
import type { Repositories } from '../storage/repositories.js';
import type { ConnectorSource } from './connector-source.js';
import { UpstreamError } from './connectors/types.js';

export type RevalidationOutcome =
  | 'not_federated'
  | 'fresh'
  | 'valid'
  | 'revoked'
  | 'too_old'
  | 'unreachable'
  | 'claimed_elsewhere';

export interface RevalidatorDeps {
  database: Database;
  repos: Pick<Repositories, 'organizations' | 'users' | 'audit'>;
  connectors: ConnectorSource;
  policyFor(organizationId: string): OrganizationPolicy | undefined;
  /** The organization's connection as the in-memory directory knows it (no database round trip). */
  connectionOf(organizationId: string): { id: string; type: string } | undefined;
  revokeAllForUser(userId: string): Promise<number>;
  now?: () => number;
  /** Bound on the upstream call: a refresh must not hang on a slow IdP. Default 5 s. */
  timeoutMs?: number;
}

/**
 * Re-checks a federated account with its upstream when a desktop app refreshes:
 *
 * 1. Only users of an organization with an upstream connection, with an identity on it.
 * 2. The upstream sign-in is older than the policy's `maxUpstreamAge`: refused, the person must pass
 *    the upstream again (nothing is revoked: the account is fine, the sign-in is just old).
 * 3. Validated within `upstreamRevalidateInterval`: accepted without asking.
 * 4. One process claims the check (a conditional update of `last_validated_at`), so an IdP that rotates
 *    refresh tokens never sees two concurrent uses of one token (which it would treat as theft).
 * 5. The upstream says `revoked` (its refresh token is refused, the account is disabled or left the
 *    tenant/hosted domain): every Latchkey token and session of the user is revoked, audited, and this
 *    refresh fails with `invalid_grant` so the app sends the person back to sign-in.
 * 6. The upstream cannot be reached or answers nonsense: the session is KEPT. A refresh is how desktop
 *    apps stay signed in; an IdP outage must not sign a whole company out. The exposure is bounded by
 *    step 2 (`maxUpstreamAge`) and the refresh tokens' own lifetimes, and the check is retried at the
 *    next refresh after the interval.
 */
export function createRevalidator(deps: RevalidatorDeps) {
  const now = deps.now ?? Date.now;
  const timeoutMs = deps.timeoutMs ?? 5_000;
  const { db } = deps.database;

  async function audit(
    userId: string,
    organizationId: string,
    outcome: 'success' | 'failure' | 'info',
    details: Record<string, unknown>,
  ) {
    await deps.repos.audit
      .append({ action: 'upstream_revalidate', outcome, userId, organizationId, details })
      .catch(() => {});
  }

  /** Resolves whether the refresh may proceed. */
  async function check(user: { id: string; organizationId: string }): Promise<RevalidationOutcome> {
    // Steps 1–3 use the in-memory directory and one query: most refreshes end here.
    const policy = deps.policyFor(user.organizationId);
    const connection = deps.connectionOf(user.organizationId);
    if (!policy || !connection || connection.type === 'local') return 'not_federated';
    const identity = (await deps.repos.users.identitiesOf(user.id))
      .filter((i) => i.connectionId === connection.id)
      .sort((a, b) => b.lastAuthenticatedAt - a.lastAuthenticatedAt)[0];
    if (!identity) return 'not_federated';

    const at = now();
    if (at - identity.lastAuthenticatedAt > policy.maxUpstreamAge * 1000) {
      await audit(user.id, user.organizationId, 'failure', {
        reason: 'max_upstream_age',
        connection: connection.id,
      });
      return 'too_old';
    }
    if (at - identity.lastValidatedAt < policy.upstreamRevalidateInterval * 1000) return 'fresh';

    const org = (await deps.repos.organizations.listWithDetails({ id: user.organizationId }))[0];
    if (!org?.connection || org.connection.id !== connection.id) return 'fresh';
    const connector = await deps.connectors.forOrganization(org);
    if (!connector?.revalidate) return 'fresh';

    // Claim this check; another process that claimed it first answers for both.
    const claimed = await db
      .updateTable('identities')
      .set({ last_validated_at: at })
      .where('id', '=', identity.id)
      .where('last_validated_at', '=', identity.lastValidatedAt)
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) !== 1) return 'claimed_elsewhere';

    let answer: Awaited<ReturnType<NonNullable<typeof connector.revalidate>>>;
    try {
      answer = await bounded(
        connector.revalidate({
          subject: identity.subject,
          upstreamRefreshToken: identity.upstreamRefreshToken ?? undefined,
        }),
      );
    } catch (error) {
      const code = error instanceof UpstreamError ? error.code : 'error';
      // Kept (see step 6); the claim is rolled back so the next refresh asks again.
      await db
        .updateTable('identities')
        .set({ last_validated_at: identity.lastValidatedAt })
        .where('id', '=', identity.id)
        .where('last_validated_at', '=', at)
        .execute();
      await audit(user.id, org.id, 'info', {
        reason: 'upstream_unavailable',
        code,
        connection: connection.id,
      });
      return 'unreachable';
    }
    if (answer.status === 'revoked') {
      const revoked = await deps.revokeAllForUser(user.id);
      await audit(user.id, org.id, 'failure', {
        reason: 'upstream_revoked',
        connection: connection.id,
        revokedRecords: revoked,
      });
      return 'revoked';
    }
    if (answer.upstreamRefreshToken) {
      // Stored encrypted by the repository, bound to the identity row.
      await deps.repos.users.updateIdentity(identity.id, {
        upstreamRefreshToken: answer.upstreamRefreshToken,
      });
    }
    await audit(user.id, org.id, 'success', { connection: connection.id });
    return 'valid';
  }

  function bounded<T>(promise: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(new UpstreamError('upstream_timeout', 'The identity provider did not answer in time.')),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  }

  return {
    check,
    /** For `AccountSource.revalidateOnRefresh`: false sends the app back to sign-in (invalid_grant). */
    async allowRefresh(user: { id: string; organizationId: string }): Promise<boolean> {
      const outcome = await check(user);
      return outcome !== 'revoked' && outcome !== 'too_old';
    },
  };
}

export type Revalidator = ReturnType<typeof createRevalidator>;
