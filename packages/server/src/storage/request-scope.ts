import Provider from 'oidc-provider';
import type { AccountRow } from './account-row.js';

/**
 * What the adapter keeps per engine request, keyed by the engine's request context (`Provider.ctx`,
 * one object per HTTP request) in WeakMaps, so it lives exactly as long as the request: what the
 * request saw when it read a refresh token, the account read along with a token, when the request
 * arrived, and whether it is a refresh grant. Outside an engine request (direct calls, tests) there is
 * no context and nothing is kept.
 */

/** What a request saw when it read a refresh token (`find`). */
export interface TokenRead {
  consumedAt: number | null;
  at: number;
}
const tokenReads = new WeakMap<object, Map<string, TokenRead>>();

export function rememberTokenRead(ctx: unknown, id: string, read: TokenRead): void {
  if (!ctx || typeof ctx !== 'object') return;
  let reads = tokenReads.get(ctx);
  if (!reads) {
    reads = new Map();
    tokenReads.set(ctx, reads);
  }
  reads.set(id, read);
}

/** What this request saw when it read token `id`, if it read it. */
export function tokenReadOf(ctx: unknown, id: string): TokenRead | undefined {
  return (ctx && typeof ctx === 'object' ? tokenReads.get(ctx) : undefined)?.get(id);
}

/**
 * The account read along with a refresh token or code, for the same request's account lookup (the
 * engine asks for the account right after the token and its grant): keyed by the request context,
 * taken once, so it is never older than the request's own read of the token.
 */
const accountReads = new WeakMap<object, AccountRow>();

export function rememberAccountRead(ctx: object, row: AccountRow): void {
  accountReads.set(ctx, row);
}

/** The account row this engine request read with its token, if it is `id`'s (once). */
export function prefetchedAccount(id: string): AccountRow | undefined {
  const ctx = Provider.ctx;
  if (!ctx) return undefined;
  const row = accountReads.get(ctx);
  if (row?.id !== id) return undefined;
  accountReads.delete(ctx);
  return row;
}

/**
 * Set on the raw request (`IncomingMessage`) by the HTTP layer when a request reaches the engine
 * (http/provider-mount.ts): epoch milliseconds.
 */
export const REQUEST_RECEIVED_AT: unique symbol = Symbol.for('latchkey.requestReceivedAt');

export function receivedAtOf(ctx: unknown): number | undefined {
  const req = (ctx as { req?: Record<symbol, unknown> } | undefined)?.req;
  const at = req?.[REQUEST_RECEIVED_AT];
  return typeof at === 'number' ? at : undefined;
}

/**
 * True inside a refresh-token grant, or outside any engine request (direct calls, tests). The grace
 * applies only there: introspection and revocation see a rotated token as what it is, consumed.
 */
export function isRefreshGrant(ctx: unknown): boolean {
  if (!ctx || typeof ctx !== 'object' || !('oidc' in ctx)) return true;
  const oidc = (ctx as { oidc?: { route?: string; params?: { grant_type?: unknown } } }).oidc;
  return oidc?.route === 'token' && oidc.params?.grant_type === 'refresh_token';
}
