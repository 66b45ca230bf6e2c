import { readFile, unlink } from 'node:fs/promises';
import type * as oauth from 'oauth4webapi';
import type { Context } from './context.js';
import type { StoredDpopKey } from './dpop.js';
import { writeFileAtomic } from './stores/atomic-write.js';

/** The signed-in user, as told by the ID token (MSAL calls this an `AccountInfo`). */
export interface Account {
  /** The issuer the account belongs to. */
  issuer: string;
  clientId: string;
  /** The ID token's `sub`: stable per user and issuer. */
  subject: string;
  email?: string;
  name?: string;
}

/** What a store keeps for one issuer+client. Never an access token. */
export interface StoredSession {
  version: 1;
  refreshToken: string;
  /** Latest ID token, kept as `id_token_hint` for RP-initiated logout. */
  idToken?: string;
  account: Account;
  scope?: string;
  /**
   * Epoch milliseconds after which the refresh token is dead, when the server said so
   * (`refresh_token_expires_in`, or Keycloak's `refresh_expires_in`; neither is standard). Lets
   * `getState` report a dead sign-in without a request.
   */
  expiresAt?: number;
  /**
   * The session's DPoP key (RFC 9449): the refresh token is bound to it, and so are the access
   * tokens. Absent in sessions stored before DPoP (their first refresh adds one).
   */
  dpopKey?: StoredDpopKey;
  updatedAt: number;
}

export function accountFromClaims(ctx: Context, claims: oauth.IDToken, previous?: Account): Account {
  const email = typeof claims.email === 'string' ? claims.email : previous?.email;
  const name = typeof claims.name === 'string' ? claims.name : previous?.name;
  return {
    issuer: ctx.issuer.href,
    clientId: ctx.clientId,
    subject: claims.sub,
    ...(email ? { email } : {}),
    ...(name ? { name } : {}),
  };
}

export async function readSession(ctx: Context): Promise<StoredSession | undefined> {
  const text = await ctx.store.read(ctx.storeKey);
  if (!text) return undefined;
  try {
    const session = JSON.parse(text) as StoredSession;
    return session.version === 1 && typeof session.refreshToken === 'string' ? session : undefined;
  } catch {
    return undefined;
  }
}

export async function writeSession(ctx: Context, session: StoredSession): Promise<void> {
  await ctx.store.write(ctx.storeKey, JSON.stringify(session));
  // The hint rarely changes: skip the write (and its fsync) on every rotation.
  if (session.account.email && session.account.email !== (await readHint(ctx)))
    await writeHint(ctx, session.account.email);
}

export async function clearSession(ctx: Context): Promise<void> {
  await ctx.store.delete(ctx.storeKey);
}

/**
 * The last signed-in email, kept outside the token store (in the cache directory) so that it
 * survives the store being cleared after `invalid_grant`: it becomes the next `login_hint`.
 */
export async function readHint(ctx: Context): Promise<string | undefined> {
  try {
    const value = JSON.parse(await readFile(`${ctx.cachePrefix}.hint.json`, 'utf8')) as {
      loginHint?: unknown;
    };
    return typeof value.loginHint === 'string' ? value.loginHint : undefined;
  } catch {
    return undefined;
  }
}

async function writeHint(ctx: Context, loginHint: string): Promise<void> {
  await writeFileAtomic(`${ctx.cachePrefix}.hint.json`, JSON.stringify({ loginHint }), 0o600).catch(() => {});
}

export async function clearHint(ctx: Context): Promise<void> {
  await unlink(`${ctx.cachePrefix}.hint.json`).catch(() => {});
}
