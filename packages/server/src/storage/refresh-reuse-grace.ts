import type { Kysely } from 'kysely';
import type { Dialect } from './database.js';
import { isRefreshGrant, receivedAtOf, tokenReadOf } from './request-scope.js';
import type { Schema } from './schema.js';
import { recordSessionEnd } from './session-ends.js';

/**
 * Refresh-token reuse grace: the rules for a rotated refresh token presented again (the
 * whole contract, as the engine meets it, is in the header of `createOidcAdapter`, oidc-adapter.ts).
 * A client that lost the response to its refresh request is forgiven once, within the window; a race
 * between two uses is refused without revoking anything; a replay after the successor was used
 * revokes the grant family; the successor the grace superseded, presented later, is a fork and
 * revokes the grant family too (the adapter's `find`).
 */

/**
 * Rotations this process ran lately: refresh-token id -> when its response was finished (Infinity
 * while it is still being answered). A second use that arrived before that moment overlapped the rotation:
 * a race, not a retry after a lost response, even when the successor is already stored. (For a
 * rotation run by another process the rule falls back to "the successor existed before the second
 * request read the token".) Entries are dropped a minute after they finish.
 */
const rotations = new Map<string, number>();
/**
 * A re-presentation that arrives within this time after the rotation answered is part of a race.
 * Requests are not always interleaved (a server may answer one completely before it even reads the
 * other, e.g. SQLite in one process), so "arrived after the answer" alone cannot tell two requests
 * sent together from a retry; a client that lost a response notices it later than this.
 */
const RACE_SETTLE_MS = 1_000;
const ROTATION_MEMORY_MS = 60_000;

/** Records that the request `ctx` rotated (consumed) refresh token `id` at `at`, until it is answered. */
export function markRotating(ctx: unknown, id: string, at: number): void {
  const res = (ctx as { res?: { once?(event: 'close', listener: () => void): unknown } } | undefined)?.res;
  if (typeof res?.once !== 'function') return;
  for (const [old, finished] of rotations) {
    if (finished > at - ROTATION_MEMORY_MS) break;
    rotations.delete(old);
  }
  rotations.set(id, Number.POSITIVE_INFINITY);
  res.once('close', () => {
    // Re-inserted so the map stays ordered by finish time for the pruning above.
    rotations.delete(id);
    rotations.set(id, Date.now());
  });
}

/**
 * Whether `find` hides the `consumed` mark of a record consumed at `row.consumed_at`: inside the
 * window (`grace` ms, 0 disables), its grace unused, and in a refresh grant, so the engine does not
 * revoke the grant family and goes on to `consume` it (where `forgiveReuse` decides).
 */
export function hidesConsumed(
  row: { consumed_at: number; grace_used_at: number | null },
  grace: number,
  at: number,
  ctx: unknown,
): boolean {
  return grace > 0 && row.grace_used_at === null && at - row.consumed_at < grace && isRefreshGrant(ctx);
}

/**
 * The decision after a failed consume of refresh token `id` at `at`, inside engine request `ctx`:
 * true when forgiven (the caller returns and the engine issues a fresh token), false when the caller
 * must refuse (InvalidGrant). Runs only after a failed consume, so its extra statements never touch
 * the hot path.
 */
export function createReuseGrace(
  db: Kysely<Schema>,
  onFamilyRevoked?: (event: RefreshFamilyRevoked) => void | Promise<void>,
  dialect: Dialect = 'sqlite',
): (ctx: unknown, id: string, at: number, grace: number) => Promise<boolean> {
  return async (ctx, id, at, grace) => {
    const seen = tokenReadOf(ctx, id);
    // Overlapping uses are a race, not a retry after a lost response: this request read the token
    // before anyone had consumed it, or arrived while the rotation that consumed it was still being
    // answered (known in this process). Exactly one wins (the adapter's conditional consume); the
    // other is refused and nothing is revoked.
    const readAt = seen?.at ?? at;
    const receivedAt = receivedAtOf(ctx);
    const answeredAt = rotations.get(id);
    const overlapped =
      (seen !== undefined && seen.consumedAt === null) ||
      (receivedAt !== undefined && answeredAt !== undefined && receivedAt < answeredAt);
    // Arrived right after the rotation answered (or, from another process, was consumed): most
    // likely sent together with it, so not forgiven either (see RACE_SETTLE_MS).
    const settledAt = answeredAt ?? seen?.consumedAt ?? null;
    const settling =
      receivedAt !== undefined && settledAt !== null && receivedAt < settledAt + RACE_SETTLE_MS;
    if (overlapped) return false;
    const { forgiven, revoked } = await forgive(id, at, grace, readAt, settling);
    // Reported after the commit: the family is gone whatever the report does.
    if (revoked) await onFamilyRevoked?.(revoked);
    return forgiven;
  };

  /**
   * The one-time grace for a rotated refresh token (see above). `readAt` is when this request read
   * the token (`find`): the rotation must have completed before that, or the two requests overlapped
   * (a race, refused without revoking anything). `settling`: arrived too soon after the rotation to
   * be a retry (refused unless it is a replay). True when forgiven.
   */
  async function forgive(
    id: string,
    at: number,
    grace: number,
    readAt: number,
    settling: boolean,
  ): Promise<{ forgiven: boolean; revoked?: RefreshFamilyRevoked }> {
    const refused = { forgiven: false };
    return db.transaction().execute(async (trx) => {
      const old = await trx
        .selectFrom('oidc_records')
        .select(['grant_id', 'consumed_at', 'grace_used_at', 'payload'])
        .where('model', '=', 'RefreshToken')
        .where('id', '=', id)
        .executeTakeFirst();
      if (!old?.grant_id || old.consumed_at === null) return refused;
      const grantId = old.grant_id;

      // The successor this token's rotation issued: the grant's first refresh token created after it
      // was consumed (rotation saves it in the same request, right after the consume). Only this one
      // counts: a later generation (or another chain of the grant) says nothing about this token.
      const successor = await trx
        .selectFrom('oidc_records')
        .select(['id', 'consumed_at', 'created_at'])
        .where('model', '=', 'RefreshToken')
        .where('grant_id', '=', grantId)
        .where('id', '!=', id)
        .where('created_at', '>=', old.consumed_at)
        .orderBy('created_at')
        .orderBy('id')
        .limit(1)
        .executeTakeFirst();

      const revokeFamily = async () => {
        await trx
          .deleteFrom('oidc_records')
          .where((eb) =>
            eb.or([
              eb('grant_id', '=', grantId),
              eb.and([eb('model', '=', 'Grant'), eb('id', '=', grantId)]),
            ]),
          )
          .execute();
        const revoked = familyOf(grantId, old.payload, 'replay_detected');
        // The app holding the family's stream hears of it at this commit (storage/session-ends.ts).
        if (revoked.accountId)
          await recordSessionEnd(trx, dialect, {
            accountId: revoked.accountId,
            grants: [{ id: grantId, clientId: revoked.clientId }],
            reason: 'refresh_token_reuse',
          });
        return { forgiven: false, revoked };
      };

      // The client received the rotated token and used it: the old one is a replay. Revoke the
      // family, as the engine does outside the window.
      if (successor && successor.consumed_at !== null) return revokeFamily();
      // No successor yet, or it appeared after this request read the token: the first rotation had
      // not finished when this request started. A race, not a lost response: refuse, revoke nothing.
      if (!successor || successor.created_at > readAt || settling) return refused;
      if (old.grace_used_at !== null || at - old.consumed_at >= grace) return refused;

      const marked = await trx
        .updateTable('oidc_records')
        .set({ grace_used_at: at })
        .where('model', '=', 'RefreshToken')
        .where('id', '=', id)
        .where('grace_used_at', 'is', null)
        .executeTakeFirst();
      if (Number(marked.numUpdatedRows) !== 1) return refused;

      // The successor is the response the client lost (or, when the token was copied, the one the
      // app holds while a thief re-presents the old one): superseded, so one live chain remains. It
      // is kept and marked, not deleted: if it is ever presented, someone did receive it, the chain
      // was forked, and the adapter's `find` revokes the whole family (the retry's chain with it)
      // and reports `fork_detected`. Deleting it instead would let the fork go unnoticed: the app's
      // next refresh would fail as "not found" while the other party kept a live chain. If it was
      // used in the meantime after all, the client had it: a replay.
      const superseded = await trx
        .updateTable('oidc_records')
        .set({ superseded_at: at })
        .where('model', '=', 'RefreshToken')
        .where('id', '=', successor.id)
        .where('consumed_at', 'is', null)
        .executeTakeFirst();
      if (Number(superseded.numUpdatedRows) !== 1) return revokeFamily();
      return { forgiven: true };
    });
  }
}

/**
 * The key a rotated refresh token's re-presentation must prove (RFC 9449): the key of the request
 * that rotated it. That is the token's own binding (`jkt`, copied from the request that bound the
 * chain), or, for a token issued before DPoP and rotated by a request with a proof, the binding of
 * its successor (protocol/dpop-binding.ts binds it to that proof). `null`: no rotation of it is
 * stored yet (a race in flight; the usual rules decide).
 * Runs only for a consumed token, never on the hot path.
 */
export function createRotationKeyLookup(
  db: Kysely<Schema>,
): (
  row: { grant_id: string | null; consumed_at: number; payload: string },
  id: string,
) => Promise<string | undefined | null> {
  return async (row, id) => {
    const own = jktOf(row.payload);
    if (own !== undefined || !row.grant_id) return own;
    const successor = await db
      .selectFrom('oidc_records')
      .select(['payload'])
      .where('model', '=', 'RefreshToken')
      .where('grant_id', '=', row.grant_id)
      .where('id', '!=', id)
      .where('created_at', '>=', row.consumed_at)
      .orderBy('created_at')
      .orderBy('id')
      .limit(1)
      .executeTakeFirst();
    return successor ? jktOf(successor.payload) : null;
  };
}

function jktOf(payload: string): string | undefined {
  try {
    const jkt = (JSON.parse(payload) as { jkt?: unknown }).jkt;
    return typeof jkt === 'string' ? jkt : undefined;
  } catch {
    return undefined;
  }
}

/** What `onRefreshFamilyRevoked` reports: a refresh-token family revoked because its chain was forked or replayed. */
export interface RefreshFamilyRevoked {
  /**
   * `fork_detected`: a successor the grace superseded was presented (two parties held the chain).
   * `replay_detected`: inside the window, a rotated token came back after its successor was used.
   * `dpop_key_mismatch`: a rotated token came back without a DPoP proof of the key of the request
   * that rotated it, or with another key's (RFC 9449): not the app retrying, someone else.
   */
  reason: 'fork_detected' | 'replay_detected' | 'dpop_key_mismatch';
  grantId: string;
  clientId: string | undefined;
  accountId: string | undefined;
}

/** The report for the family of `grantId`, read from one of its refresh tokens' stored payload. */
export function familyOf(
  grantId: string,
  payload: string,
  reason: RefreshFamilyRevoked['reason'],
): RefreshFamilyRevoked {
  let parsed: { clientId?: unknown; accountId?: unknown } = {};
  try {
    parsed = JSON.parse(payload) as typeof parsed;
  } catch {
    // Reported without the client and account.
  }
  return {
    reason,
    grantId,
    clientId: typeof parsed.clientId === 'string' ? parsed.clientId : undefined,
    accountId: typeof parsed.accountId === 'string' ? parsed.accountId : undefined,
  };
}
