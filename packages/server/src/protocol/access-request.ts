import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, EmbeddedJWK, type JWTPayload, jwtVerify } from 'jose';
import type Provider from 'oidc-provider';

/**
 * Checks a request made to Latchkey itself with one of its access tokens (the opaque kind the token
 * endpoint issues without a `resource`, as the desktop SDK's `getAccessToken()` gets): the token is
 * looked up with the engine, and a DPoP-bound one (`cnf.jkt`, RFC 9449 §6) is accepted only with
 * `Authorization: DPoP <token>` and a valid proof of its key (§4.3, §7.1). For endpoints of ours that
 * the engine does not serve (the live sign-out event stream, for one).
 */

/** The parts of an HTTP request the check reads. */
export interface ProtectedRequest {
  /** The HTTP method, upper case. */
  method: string;
  /** The request's absolute URL as the client addressed it (behind a proxy: the public URL). */
  url: string;
  /** The `Authorization` header. */
  authorization?: string | undefined;
  /** The `DPoP` header(s); more than one is refused (§4.3 check 1). */
  dpop?: string | string[] | undefined;
}

/** An accepted access token. */
export interface AcceptedAccess {
  ok: true;
  accountId: string;
  clientId: string;
  scopes: string[];
  grantId: string | undefined;
  /** The key thumbprint the token is bound to (undefined: a bearer token). */
  jkt: string | undefined;
  /** Epoch seconds. */
  expiresAt: number | undefined;
}

/** A refused request: answer `status` with `WWW-Authenticate: <wwwAuthenticate>` (RFC 6750 §3, RFC 9449 §7.1). */
export interface RefusedAccess {
  ok: false;
  status: 400 | 401;
  error: 'invalid_request' | 'invalid_token' | 'invalid_dpop_proof';
  description: string;
  wwwAuthenticate: string;
}

export type AccessCheck = AcceptedAccess | RefusedAccess;

export interface AccessRequestDeps {
  /** The current engine (it is rebuilt when the signing keys change). */
  engine(): Provider;
  /** One-time use of proof ids across processes: the `replay_cache` repository. */
  replay: { remember(key: string, expiresAt: number): Promise<boolean> };
  /** Clock in epoch milliseconds (tests). */
  now?: () => number;
}

/** Proof algorithms accepted: those the engine accepts at its token endpoint. */
export const DPOP_ALGORITHMS = ['ES256', 'EdDSA', 'Ed25519'];
/** How far a proof's `iat` may be from now (the engine's window at its token endpoint). */
const PROOF_WINDOW_SECONDS = 300;

/** Builds the check; one per server, the engine read at every call. */
export function createAccessRequestCheck(
  deps: AccessRequestDeps,
): (request: ProtectedRequest) => Promise<AccessCheck> {
  const now = deps.now ?? Date.now;
  return async (request) => {
    const [scheme, token, extra] = (request.authorization ?? '').trim().split(/\s+/);
    const proofs =
      request.dpop === undefined ? [] : Array.isArray(request.dpop) ? request.dpop : [request.dpop];
    const kind = scheme?.toLowerCase();
    if (!token || extra !== undefined || (kind !== 'dpop' && kind !== 'bearer'))
      return refuse(401, 'invalid_request', 'an access token is required (Authorization: DPoP or Bearer)');
    if (proofs.length > 1) return refuse(400, 'invalid_dpop_proof', 'more than one DPoP header');

    const found = await deps.engine().AccessToken.find(token);
    if (!found || found.isExpired)
      return refuse(401, 'invalid_token', 'the access token is invalid or expired');
    const jkt = typeof found.jkt === 'string' ? found.jkt : undefined;
    const accepted: AcceptedAccess = {
      ok: true,
      accountId: found.accountId as string,
      clientId: found.clientId as string,
      scopes: typeof found.scope === 'string' ? found.scope.split(' ').filter(Boolean) : [],
      grantId: found.grantId,
      jkt,
      expiresAt: found.exp,
    };

    if (!jkt) {
      // A bearer token presented as DPoP is refused: the client believes it bound a token it did not.
      if (kind !== 'bearer') return refuse(401, 'invalid_token', 'the access token is not DPoP-bound');
      return accepted;
    }
    // §7.1: a DPoP-bound token presented as a bearer token is refused.
    if (kind !== 'dpop')
      return refuse(401, 'invalid_token', 'the access token is DPoP-bound: use Authorization: DPoP');
    const proof = proofs[0];
    if (!proof) return refuse(401, 'invalid_dpop_proof', 'a DPoP proof is required');

    const checked = await checkProof(proof, request, token, now());
    if (typeof checked === 'string') return refuse(401, 'invalid_dpop_proof', checked);
    if (checked.thumbprint !== jkt)
      return refuse(
        401,
        'invalid_dpop_proof',
        'the DPoP proof is signed by another key than the token is bound to',
      );
    // §11.1: each proof once. Keyed by the key too: ids are chosen by the client.
    const fresh = await deps.replay.remember(
      `dpop:${checked.thumbprint}:${checked.jti}`,
      (checked.iat + PROOF_WINDOW_SECONDS) * 1000,
    );
    if (!fresh) return refuse(401, 'invalid_dpop_proof', 'the DPoP proof was already used');
    return accepted;
  };
}

/** RFC 9449 §4.3 checks of one proof: its key's thumbprint, id and time, or why it is refused. */
async function checkProof(
  proof: string,
  request: ProtectedRequest,
  accessToken: string,
  nowMs: number,
): Promise<{ thumbprint: string; jti: string; iat: number } | string> {
  let payload: JWTPayload;
  let jwk: Record<string, unknown> | undefined;
  try {
    const verified = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: DPOP_ALGORITHMS });
    payload = verified.payload;
    jwk = verified.protectedHeader.jwk as Record<string, unknown> | undefined;
  } catch {
    return 'the DPoP proof is not a valid dpop+jwt signed by its embedded key';
  }
  if (!jwk) return 'the DPoP proof has no jwk';
  if (typeof payload.jti !== 'string' || payload.jti === '') return 'the DPoP proof has no jti';
  if (typeof payload.iat !== 'number') return 'the DPoP proof has no iat';
  if (Math.abs(nowMs / 1000 - payload.iat) > PROOF_WINDOW_SECONDS)
    return 'the DPoP proof is too old or from the future';
  if (payload.htm !== request.method) return 'the DPoP proof is for another method (htm)';
  if (typeof payload.htu !== 'string' || withoutQuery(payload.htu) !== withoutQuery(request.url))
    return 'the DPoP proof is for another URL (htu)';
  const ath = createHash('sha256').update(accessToken).digest('base64url');
  if (payload.ath !== ath) return 'the DPoP proof is for another access token (ath)';
  return { thumbprint: await calculateJwkThumbprint(jwk, 'sha256'), jti: payload.jti, iat: payload.iat };
}

/** §4.3 check 9: the URI without query and fragment, normalized (RFC 3986 §6). */
function withoutQuery(uri: string): string | undefined {
  const url = URL.parse(uri);
  if (!url) return undefined;
  url.search = '';
  url.hash = '';
  return url.href;
}

function refuse(status: 400 | 401, error: RefusedAccess['error'], description: string): RefusedAccess {
  const quoted = description.replace(/["\\]/g, '');
  // §7.1: the DPoP challenge names the accepted algorithms; a client that sent Bearer learns DPoP too.
  return {
    ok: false,
    status,
    error,
    description,
    wwwAuthenticate: `DPoP error="${error}", error_description="${quoted}", algs="${DPOP_ALGORITHMS.join(' ')}"`,
  };
}
