import { createLocalJWKSet, decodeProtectedHeader, type JWK, jwtVerify } from 'jose';
import type Provider from 'oidc-provider';
import type { ProtocolKeys } from './keys.js';

/** Who holds an access token, as far as the live sign-out stream needs to know. */
export interface AccessTokenHolder {
  accountId: string;
  clientId: string;
  /** Opaque tokens are issued under a grant; JWT access tokens (RFC 9068) do not name it. */
  grantId?: string | undefined;
  /** Epoch milliseconds. */
  expiresAt: number;
  /** RFC 9449 §6: the thumbprint of the DPoP key the token is bound to. */
  jkt?: string | undefined;
}

/** How the request presented its token (RFC 6750 §2.1 `Bearer`, RFC 9449 §7.1 `DPoP`). */
export interface PresentedToken {
  scheme: 'Bearer' | 'DPoP';
  token: string;
}

/**
 * The seam for sender-constrained tokens: verifies a DPoP proof (RFC 9449 §4.3, §7.1: `htm`,
 * `htu`, `ath` over this token, the key's thumbprint equal to `jkt`) for the request. Supplied by
 * the DPoP work (docs/live-sign-out.md); without it a DPoP-bound token is refused.
 */
export type DpopProofCheck = (
  request: { method: string; url: string; headers: Record<string, string | string[] | undefined> },
  token: string,
  jkt: string,
) => Promise<boolean>;

export type AccessTokenVerdict =
  | { ok: true; holder: AccessTokenHolder }
  | { ok: false; error: 'invalid_request' | 'invalid_token'; description: string; dpop?: boolean };

const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

/** The `Authorization` header's credentials (RFC 6750 §2.1, RFC 9449 §7.1); undefined when absent. */
export function presentedToken(header: string | undefined): PresentedToken | 'malformed' | undefined {
  if (!header) return undefined;
  const match = /^(Bearer|DPoP) +(\S+)$/i.exec(header.trim());
  if (!match?.[1] || !match[2] || !TOKEN68.test(match[2])) return 'malformed';
  return { scheme: match[1].toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer', token: match[2] };
}

export interface AccessTokenAuthDeps {
  issuer: string;
  engine(): Provider;
  keys: Pick<ProtocolKeys, 'jwks'>;
  /** A JWT access token outlives a disabled account until it expires: the status is checked here. */
  isActiveAccount(accountId: string): Promise<boolean>;
  verifyDpopProof?: DpopProofCheck | undefined;
}

/**
 * Authenticates an access token the engine issued: opaque ones are looked up through the engine
 * (gone once revoked, expired or their grant ended), JWT ones (RFC 9068, for a registered API) are
 * verified against the server's keys and their account's status.
 */
export function createAccessTokenAuth(deps: AccessTokenAuthDeps) {
  const publicKeys = () =>
    createLocalJWKSet({
      keys: deps.keys
        .jwks()
        .keys.map(({ d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub }) => pub as JWK),
    });

  const lookUp = async (token: string): Promise<AccessTokenHolder | undefined> => {
    if (token.split('.').length === 3) {
      try {
        decodeProtectedHeader(token);
      } catch {
        return undefined;
      }
      try {
        const { payload } = await jwtVerify(token, publicKeys(), {
          issuer: deps.issuer,
          typ: 'at+jwt',
          requiredClaims: ['sub', 'exp', 'client_id'],
        });
        const accountId = payload.sub as string;
        if (typeof payload.client_id !== 'string' || !(await deps.isActiveAccount(accountId)))
          return undefined;
        const cnf = payload.cnf as { jkt?: unknown } | undefined;
        return {
          accountId,
          clientId: payload.client_id,
          expiresAt: (payload.exp as number) * 1000,
          jkt: typeof cnf?.jkt === 'string' ? cnf.jkt : undefined,
        };
      } catch {
        return undefined;
      }
    }
    const found = await deps.engine().AccessToken.find(token);
    if (!found?.accountId || !found.clientId || typeof found.exp !== 'number') return undefined;
    // The engine forgives its clockTolerance past `exp` (and the row outlives it by its write time):
    // Latchkey's own endpoints accept a token up to its `exp`, as the JWT branch (jose) does.
    if (found.exp * 1000 <= Date.now()) return undefined;
    return {
      accountId: found.accountId,
      clientId: found.clientId,
      grantId: found.grantId,
      expiresAt: found.exp * 1000,
      jkt: found.jkt,
    };
  };

  return async (
    presented: PresentedToken,
    request: Parameters<DpopProofCheck>[0],
  ): Promise<AccessTokenVerdict> => {
    const holder = await lookUp(presented.token);
    if (!holder) return { ok: false, error: 'invalid_token', description: 'the access token is not valid' };
    if (holder.jkt) {
      // RFC 9449 §7.1: a DPoP-bound token is never accepted as a bearer token.
      if (presented.scheme !== 'DPoP')
        return {
          ok: false,
          error: 'invalid_token',
          description: 'the access token is DPoP-bound',
          dpop: true,
        };
      const proven =
        deps.verifyDpopProof && (await deps.verifyDpopProof(request, presented.token, holder.jkt));
      if (!proven)
        return { ok: false, error: 'invalid_token', description: 'the DPoP proof is not valid', dpop: true };
    } else if (presented.scheme === 'DPoP') {
      return { ok: false, error: 'invalid_token', description: 'the access token is not DPoP-bound' };
    }
    return { ok: true, holder };
  };
}

export type AccessTokenAuth = ReturnType<typeof createAccessTokenAuth>;
