import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, createRemoteJWKSet, EmbeddedJWK, type JWTPayload, jwtVerify } from 'jose';

/** Why a request was refused: answer 401 with `WWW-Authenticate: DPoP error="<error>"`. */
export class DpopRefusal extends Error {
  constructor(
    readonly error: 'invalid_token' | 'invalid_dpop_proof',
    message: string,
  ) {
    super(message);
  }
}

export interface DpopRequest {
  method: string; // e.g. 'GET'
  url: string; // the URL the client called, e.g. 'https://api.acme.test/calls?x=1'
  authorization: string | undefined; // the Authorization header
  dpop: string | undefined; // the DPoP header
}

/**
 * Verifies a DPoP-bound RFC 9068 access token from Latchkey and its DPoP proof (RFC 9449 §4.3, §7).
 * Resolves with the token's claims (sub, org_id, groups, scope, …) or rejects with a DpopRefusal.
 */
export function createDpopVerifier(options: {
  issuer: string; // e.g. 'https://sso.example.com'
  audience: string; // your API's resource id, e.g. 'https://api.acme.test'
  seen?: (key: string, expiresAt: number) => boolean | Promise<boolean>; // false if the key was seen
}) {
  const jwks = createRemoteJWKSet(new URL(`${options.issuer}/jwks`));
  // Proof ids already used. One process: this map. Several: a shared store (Redis SET NX EX).
  const used = new Map<string, number>();
  const seen =
    options.seen ??
    ((key: string, expiresAt: number) => {
      const now = Date.now();
      for (const [k, exp] of used) if (exp < now) used.delete(k);
      if (used.has(key)) return false;
      used.set(key, expiresAt);
      return true;
    });

  return async function verify(request: DpopRequest): Promise<JWTPayload> {
    const [scheme, accessToken] = (request.authorization ?? '').split(' ');
    if (scheme?.toLowerCase() !== 'dpop' || !accessToken)
      throw new DpopRefusal('invalid_token', 'Authorization: DPoP <access token> is required');
    if (!request.dpop) throw new DpopRefusal('invalid_dpop_proof', 'the DPoP header is missing');

    // 1. The access token: signed by the issuer (its JWKS), for this API, not expired (RFC 9068 §4).
    const { payload: claims } = await jwtVerify(accessToken, jwks, {
      issuer: options.issuer,
      audience: options.audience,
      typ: 'at+jwt',
      algorithms: ['ES256'],
    }).catch(() => {
      throw new DpopRefusal('invalid_token', 'the access token is invalid or expired');
    });
    const jkt = (claims.cnf as { jkt?: unknown } | undefined)?.jkt;
    if (typeof jkt !== 'string') throw new DpopRefusal('invalid_token', 'the access token is not DPoP-bound');

    // 2. The proof: a dpop+jwt signed by the key in its own header (RFC 9449 §4.3).
    const { payload: proof, protectedHeader } = await jwtVerify(request.dpop, EmbeddedJWK, {
      typ: 'dpop+jwt',
      algorithms: ['ES256', 'EdDSA'],
    }).catch(() => {
      throw new DpopRefusal('invalid_dpop_proof', 'the DPoP proof is invalid');
    });
    const refuse = (why: string) => new DpopRefusal('invalid_dpop_proof', why);
    // …by the key the token is bound to (cnf.jkt is its RFC 7638 thumbprint),
    if ((await calculateJwkThumbprint(protectedHeader.jwk ?? {}, 'sha256')) !== jkt)
      throw refuse('the proof is signed by another key than the token is bound to');
    // …for this method and URL (without query and fragment),
    if (proof.htm !== request.method) throw refuse('htm does not match');
    const withoutQuery = (u: string) => {
      const url = new URL(u);
      url.search = '';
      url.hash = '';
      return url.href;
    };
    if (typeof proof.htu !== 'string' || withoutQuery(proof.htu) !== withoutQuery(request.url))
      throw refuse('htu does not match');
    // …made just now,
    if (typeof proof.iat !== 'number' || Math.abs(Date.now() / 1000 - proof.iat) > 60)
      throw refuse('iat is not recent');
    // …for this very access token (ath: base64url SHA-256 of it),
    if (proof.ath !== createHash('sha256').update(accessToken).digest('base64url'))
      throw refuse('ath does not match the access token');
    // …and used once (jti).
    if (typeof proof.jti !== 'string' || !(await seen(`${jkt}:${proof.jti}`, (proof.iat + 60) * 1000)))
      throw refuse('the proof was already used');

    return claims;
  };
}
