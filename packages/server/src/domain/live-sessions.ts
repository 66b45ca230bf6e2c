import type { SessionEnd } from '../storage/session-ends.js';

export type { EndedGrant, SessionEnd, SessionEndReason } from '../storage/session-ends.js';

/** One app holding the live sign-out stream, as its access token describes it. */
export interface LiveSession {
  accountId: string;
  clientId: string;
  /**
   * The grant the token was issued under (opaque access tokens). A JWT access token does not name
   * it: such a stream ends with any grant of its client and account.
   */
  grantId?: string | undefined;
  /** Told once, when the session ends; the subscription is removed before. */
  ended(end: SessionEnd): void;
}

/**
 * The apps connected to this process, by account: a session end (from any process, through the
 * feed) reaches the ones it concerns. Kept small per entry: a Set per account with open streams.
 */
export interface LiveSessions {
  /** Returns the function that removes the subscription (idempotent). */
  add(session: LiveSession): () => void;
  /** Delivers `end` to every session it ends; returns how many. */
  deliver(end: SessionEnd): number;
  /** Every session (for heartbeats and shutdown). */
  forEach(visit: (session: LiveSession) => void): void;
  size(): number;
}

/** Whether `end` ends `session`. */
export function endsSession(end: SessionEnd, session: LiveSession): boolean {
  if (end.accountId !== session.accountId) return false;
  if (end.grants === 'all') return true;
  return end.grants.some((grant) =>
    session.grantId !== undefined
      ? grant.id === session.grantId
      : grant.clientId === undefined || grant.clientId === session.clientId,
  );
}

export function createLiveSessions(): LiveSessions {
  const byAccount = new Map<string, Set<LiveSession>>();
  let count = 0;
  const remove = (session: LiveSession) => {
    const set = byAccount.get(session.accountId);
    if (!set?.delete(session)) return;
    count -= 1;
    if (set.size === 0) byAccount.delete(session.accountId);
  };
  return {
    add(session) {
      let set = byAccount.get(session.accountId);
      if (!set) {
        set = new Set();
        byAccount.set(session.accountId, set);
      }
      set.add(session);
      count += 1;
      return () => remove(session);
    },
    deliver(end) {
      const set = byAccount.get(end.accountId);
      if (!set) return 0;
      let delivered = 0;
      for (const session of [...set]) {
        if (!endsSession(end, session)) continue;
        remove(session);
        delivered += 1;
        session.ended(end);
      }
      return delivered;
    },
    forEach(visit) {
      for (const set of byAccount.values()) for (const session of [...set]) visit(session);
    },
    size: () => count,
  };
}
