import { calculateJwkThumbprint, decodeProtectedHeader, type JWK } from 'jose';
import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * The engine's DPoP glue (RFC 9449): which key a token request proved, binding a refresh token
 * issued before DPoP at its first refresh with a proof, and which refusals are DPoP refusals.
 */

const thumbprints = new WeakMap<object, Promise<string | undefined>>();

/**
 * The JWK SHA-256 thumbprint (RFC 7638) of the key in the request's DPoP proof, or undefined when
 * the request carries none. Meaningful only after the engine validated the proof: oidc-provider's
 * token endpoint does that first (signature, typ, alg, htm, htu, iat, nonce) and refuses the request
 * otherwise, so by the time a refresh token is read or written the header's key is the proven key.
 */
export function proofThumbprint(ctx: unknown): Promise<string | undefined> {
  const request = ctx as { get?(name: string): string } | undefined;
  if (!request || typeof request.get !== 'function') return Promise.resolve(undefined);
  let known = thumbprints.get(request);
  if (!known) {
    const proof = request.get('DPoP');
    known = proof ? thumbprintOf(proof) : Promise.resolve(undefined);
    thumbprints.set(request, known);
  }
  return known;
}

async function thumbprintOf(proof: string): Promise<string | undefined> {
  try {
    const { jwk } = decodeProtectedHeader(proof);
    return jwk ? await calculateJwkThumbprint(jwk as JWK, 'sha256') : undefined;
  } catch {
    return undefined;
  }
}

function isRefreshGrant(ctx: unknown): ctx is KoaContextWithOIDC {
  const oidc = (ctx as Partial<KoaContextWithOIDC> | undefined)?.oidc;
  return oidc?.route === 'token' && oidc.params?.grant_type === 'refresh_token';
}

/**
 * Migration (sessions issued before DPoP): the engine copies the old refresh token's binding to its
 * successor, so an unbound refresh token refreshed with a proof would stay unbound forever (only the
 * access token gets `cnf.jkt`). This binds the successor to the proof's key instead: from the first
 * refresh with a proof on, the chain needs that key. `payload` is the RefreshToken the engine saves.
 */
export async function bindOnFirstProof(
  ctx: unknown,
  payload: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  if (payload.jkt || !isRefreshGrant(ctx)) return payload;
  const jkt = await proofThumbprint(ctx);
  return jkt ? { ...payload, jkt } : payload;
}

/** The fields of an oidc-provider error: `error_detail` says why (it is not sent to the client). */
export interface EngineError {
  error?: string;
  error_description?: string;
  error_detail?: string;
}

/** Why the token endpoint refused a request for want of the right DPoP proof, for the audit log. */
export type DpopRefusal = 'proof_missing' | 'key_mismatch' | 'proof_invalid';

/**
 * Classifies an engine error at the token endpoint: a DPoP refusal (a bound token without its key's
 * proof, a client that requires proofs sent none, an invalid proof), or undefined for anything else.
 * A `use_dpop_nonce` answer is the normal nonce handshake, not a refusal.
 */
export function dpopRefusalOf(error: EngineError): DpopRefusal | undefined {
  if (error.error === 'invalid_dpop_proof') return 'proof_invalid';
  if (error.error !== 'invalid_grant') return undefined;
  switch (error.error_detail) {
    case 'failed jkt verification':
      return 'key_mismatch';
    case 'DPoP proof JWT not provided':
    case 'missing DPoP proof JWT':
      return 'proof_missing';
    case 'DPoP proof JWT Replay detected':
      return 'proof_invalid';
    default:
      return undefined;
  }
}

/** The refresh token a request presented (as the engine found it): whom a refusal concerns. */
const presented = new WeakMap<object, { accountId?: string; grantId?: string; bound: boolean }>();

export function rememberPresentedToken(ctx: unknown, payload: Record<string, unknown> | undefined): void {
  if (!payload || !isRefreshGrant(ctx)) return;
  presented.set(ctx as object, {
    ...(typeof payload.accountId === 'string' ? { accountId: payload.accountId } : {}),
    ...(typeof payload.grantId === 'string' ? { grantId: payload.grantId } : {}),
    bound: typeof payload.jkt === 'string',
  });
}

export function presentedTokenOf(
  ctx: unknown,
): { accountId?: string; grantId?: string; bound: boolean } | undefined {
  return ctx && typeof ctx === 'object' ? presented.get(ctx) : undefined;
}

/** What `onDpopRefused` reports: a token request refused for want of the right proof. */
export interface DpopRefused {
  reason: DpopRefusal;
  grantType: string | undefined;
  clientId: string | undefined;
  accountId: string | undefined;
  grantId: string | undefined;
  /** The engine's detail, e.g. `failed jkt verification`. */
  description: string | undefined;
}

/** The report for an engine error at the token endpoint, or undefined when it is no DPoP refusal. */
export function dpopRefusedEvent(ctx: KoaContextWithOIDC, error: EngineError): DpopRefused | undefined {
  let reason = dpopRefusalOf(error);
  if (!reason) return undefined;
  // The engine says "failed jkt verification" both for another key and for no proof at all.
  if (reason === 'key_mismatch' && !ctx.get('DPoP')) reason = 'proof_missing';
  const token = presentedTokenOf(ctx);
  const grantType = ctx.oidc?.params?.grant_type;
  return {
    reason,
    grantType: typeof grantType === 'string' ? grantType : undefined,
    clientId: ctx.oidc?.client?.clientId,
    accountId: token?.accountId,
    grantId: token?.grantId,
    description: error.error_detail ?? error.error_description,
  };
}
