import { randomBytes, type webcrypto } from 'node:crypto';
import { type JWK, SignJWT } from 'jose';
import * as oauth from 'oauth4webapi';
import type { Context } from './context.js';

/**
 * DPoP (RFC 9449): the session's key pair, kept with the refresh token in the token store, signs a
 * proof for every token request and API call, so a refresh token or access token copied off the
 * machine is useless without the key. Proofs are signed by oauth4webapi (`DPoP()`), and by jose for
 * the silent sign-in's plain request (`dpopProof`); nothing here is cryptography of our own.
 *
 * The private key is an ordinary JWK in the store (keychain or encrypted file): it is exactly as safe
 * as the refresh token next to it. No OS key store that keeps keys non-exportable (TPM, Secure
 * Enclave, CNG) is reachable from Node with a well-kept npm package today; see docs/dpop.md.
 */

/** The session's DPoP key as the store keeps it (an ES256 key pair, RFC 7517 JWKs). */
export interface StoredDpopKey {
  alg: 'ES256';
  privateJwk: webcrypto.JsonWebKey;
  publicJwk: webcrypto.JsonWebKey;
}

/** A new key pair for a new session (RFC 9449 §2: a fresh key per sign-in, not shared between apps). */
export async function createDpopKey(): Promise<StoredDpopKey> {
  const pair = await oauth.generateKeyPair('ES256', { extractable: true });
  const [privateJwk, publicJwk] = await Promise.all([
    crypto.subtle.exportKey('jwk', pair.privateKey),
    crypto.subtle.exportKey('jwk', pair.publicKey),
  ]);
  return { alg: 'ES256', privateJwk, publicJwk };
}

const ES256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;

/**
 * Per client and public key: the imported keys and oauth4webapi's handle (its nonces, RFC 9449 §8).
 * The private key is imported on its own: the silent sign-in's proof needs only it, and an app start
 * runs that and nothing else; the public key is imported when oauth4webapi's handle needs the pair.
 */
interface KeyEntry {
  privateKey: Promise<webcrypto.CryptoKey>;
  pair?: Promise<webcrypto.CryptoKeyPair>;
  handle?: Promise<oauth.DPoPHandle>;
  /** Forgets the entry (a failed import is tried afresh next time). */
  drop(): void;
}
const handles = new WeakMap<Context, Map<string, KeyEntry>>();

function entryOf(ctx: Context, key: StoredDpopKey): KeyEntry {
  let byKey = handles.get(ctx);
  if (!byKey) {
    byKey = new Map();
    handles.set(ctx, byKey);
  }
  const id = `${key.publicJwk.x}.${key.publicJwk.y}`;
  let entry = byKey.get(id);
  if (!entry) {
    // Imported non-extractable: once loaded, this process cannot hand the private key out again.
    const privateKey = crypto.subtle.importKey('jwk', key.privateJwk, ES256, false, ['sign']);
    const drop = () => void byKey.delete(id);
    privateKey.catch(drop);
    entry = { privateKey, drop };
    byKey.set(id, entry);
  }
  return entry;
}

function pairOf(entry: KeyEntry, key: StoredDpopKey): Promise<webcrypto.CryptoKeyPair> {
  if (!entry.pair) {
    entry.pair = Promise.all([
      entry.privateKey,
      crypto.subtle.importKey('jwk', key.publicJwk, ES256, true, ['verify']),
    ]).then(([privateKey, publicKey]) => ({ privateKey, publicKey }));
    entry.pair.catch(entry.drop);
  }
  return entry.pair;
}

/** oauth4webapi's DPoP handle for `key`, one per key and client (its nonces are kept in memory). */
export function dpopHandle(ctx: Context, key: StoredDpopKey): Promise<oauth.DPoPHandle> {
  const entry = entryOf(ctx, key);
  entry.handle ??= pairOf(entry, key).then((pair) => oauth.DPoP(ctx.client, pair));
  return entry.handle;
}

/**
 * A DPoP proof (RFC 9449 §4.2) for one request, signed by jose with the session's key: for the
 * silent sign-in's plain request (flows/plain-refresh.ts), which has no oauth4webapi handle to ask.
 */
export async function dpopProof(
  ctx: Context,
  key: StoredDpopKey,
  request: { method: string; url: URL; nonce?: string | undefined },
): Promise<string> {
  const privateKey = await entryOf(ctx, key).privateKey;
  const { kty, crv, x, y } = key.publicJwk;
  return new SignJWT({
    htm: request.method,
    htu: `${request.url.origin}${request.url.pathname}`,
    jti: randomBytes(16).toString('base64url'),
    ...(request.nonce ? { nonce: request.nonce } : {}),
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: { kty, crv, x, y } as JWK })
    .setIssuedAt()
    .sign(privateKey);
}

/**
 * The key a token request of this session signs with: the session's own; for a new session, or one
 * stored before DPoP, a new one (the server binds the session to it at this request) when DPoP is on
 * and the server takes ES256 proofs; undefined otherwise (bearer tokens).
 */
export async function sessionKey(
  ctx: Context,
  as: oauth.AuthorizationServer,
  existing: StoredDpopKey | undefined,
): Promise<StoredDpopKey | undefined> {
  if (existing) return existing;
  return ctx.dpop && serverSupportsDpop(as) ? createDpopKey() : undefined;
}

/** oauth4webapi's request options for `key` (none without a key). */
export async function dpopOptions(
  ctx: Context,
  key: StoredDpopKey | undefined,
): Promise<{ DPoP?: oauth.DPoPHandle }> {
  return key ? { DPoP: await dpopHandle(ctx, key) } : {};
}

/** Whether the server takes ES256 DPoP proofs (RFC 9449 §5.1 `dpop_signing_alg_values_supported`). */
export function serverSupportsDpop(as: oauth.AuthorizationServer): boolean {
  return (
    Array.isArray(as.dpop_signing_alg_values_supported) &&
    as.dpop_signing_alg_values_supported.includes('ES256')
  );
}

/**
 * Runs a request (send + process) and runs it once more when the server asked for a nonce
 * (`use_dpop_nonce`, RFC 9449 §8.1 and §9): the handle has kept the nonce the answer carried.
 */
export async function withNonceRetry<T>(attempt: () => Promise<T>): Promise<T> {
  try {
    return await attempt();
  } catch (error) {
    if (!oauth.isDPoPNonceError(error)) throw error;
    return attempt();
  }
}
