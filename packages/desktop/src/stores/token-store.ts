/**
 * Where the SDK keeps what must survive a restart: the refresh token, the ID token and the account it
 * belongs to, serialized as one string per key. Access tokens are never written to a store.
 *
 * Contract (checked by the shared store suite in `test-support/store-conformance.ts`):
 * - `read` of a key never written, or deleted, resolves `undefined`;
 * - `write` replaces the whole value atomically: a concurrent `read` sees the old or the new value,
 *   never a mix, and values of any length round-trip unchanged;
 * - `delete` of a missing key succeeds;
 * - keys are independent of each other.
 *
 * An Electron app can implement it with `safeStorage.encryptString` over a file.
 */
export interface TokenStore {
  /** A short name for messages and logs: `memory`, `file`, `keychain`, … */
  readonly kind: string;
  read(key: string): Promise<string | undefined>;
  write(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
  /**
   * Optional, cheap probe that the store can keep a value here and now: rejects with
   * `StoreUnavailableError` (naming the alternative) when it cannot. The client calls it before an
   * interactive sign-in opens the browser, so nobody signs in only to have the session refused.
   * Must leave nothing behind.
   */
  check?(): Promise<void>;
}
