/**
 * Storage the SAML connector needs shared between server processes (node-saml keeps its
 * InResponseTo cache in memory, and the IdP's POST may land on another process than the one that sent
 * the request). The storage adapters back these with the `upstream_requests` and `replay_cache`
 * tables; the in-memory versions below are for tests and a single process.
 */

/** The IDs of AuthnRequests Latchkey sent, until their response comes back. */
export interface SamlRequestStore {
  /** Records a request ID (epoch ms expiry). */
  save(id: string, expiresAt: number): Promise<void>;
  /**
   * Marks the ID used. Resolves `true` only for the first call before it expires — atomically, even
   * across processes (`UPDATE … SET consumed_at = ? WHERE id = ? AND consumed_at IS NULL AND
   * expires_at > ?` and check the row count), so one response finishes at most one sign-in.
   */
  consume(id: string): Promise<boolean>;
}

/** One-time use of assertion IDs (SAML Profiles §4.1.4.5). */
export interface SamlReplayStore {
  /**
   * Records `key` until `expiresAt`; resolves `false` when it was already recorded and has not expired.
   * Must be atomic (`INSERT … ON CONFLICT DO NOTHING` and check the row count). The connector passes
   * keys already scoped to itself: `saml:<connector id>:<assertion ID>`.
   */
  remember(key: string, expiresAt: number): Promise<boolean>;
}

export function createInMemorySamlRequestStore(now: () => number = Date.now): SamlRequestStore {
  const requests = new Map<string, number>();
  return {
    async save(id, expiresAt) {
      sweep(requests, now());
      requests.set(id, expiresAt);
    },
    async consume(id) {
      const expiresAt = requests.get(id);
      requests.delete(id);
      return expiresAt !== undefined && expiresAt > now();
    },
  };
}

export function createInMemorySamlReplayStore(now: () => number = Date.now): SamlReplayStore {
  const seen = new Map<string, number>();
  return {
    async remember(key, expiresAt) {
      const at = now();
      sweep(seen, at);
      if (seen.has(key)) return false;
      seen.set(key, expiresAt);
      return true;
    },
  };
}

function sweep(entries: Map<string, number>, at: number): void {
  for (const [key, expiresAt] of entries) if (expiresAt <= at) entries.delete(key);
}
