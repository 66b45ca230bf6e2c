import { createLocalJWKSet, type JWK, errors as joseErrors, jwtVerify } from 'jose';
import { type Roles, rolesOf } from '../admin/admins.js';
import { type AdminContext, asActor } from '../admin/context.js';
import { AdminError } from '../admin/errors.js';
import { ADMIN_SCOPE } from '../admin/resources.js';
import type { User } from '../storage/repositories/users.js';

/** The caller of one admin API request: a person, their roles, and a context acting as them. */
export interface Caller {
  user: User;
  roles: Roles;
  ctx: AdminContext;
  /** The access token's client (`client_id`), for the audit log. */
  clientId: string | undefined;
}

export interface TokenVerifierDeps {
  issuer: string;
  /** `<issuer>/admin/api` */
  audience: string;
  /** The signing keys the engine signs with (private JWKs; only their public parts are used). */
  jwks(): { keys: JWK[] };
}

const PRIVATE_PARTS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'] as const;

/**
 * Checks an admin API access token as any resource server would (RFC 9068 §4): an `at+jwt` signed
 * by one of Latchkey's keys, issued by this issuer, for the admin API audience, unexpired, carrying
 * the `admin` scope. The keys come from the process's own key set, so verification needs no fetch
 * of its own /jwks.
 */
export function createTokenVerifier(deps: TokenVerifierDeps) {
  let cached: { kids: string; set: ReturnType<typeof createLocalJWKSet> } | undefined;
  const keySet = () => {
    const keys = deps.jwks().keys;
    const kids = keys.map((k) => k.kid).join(',');
    if (cached?.kids !== kids) {
      const publicKeys = keys.map((k) => {
        const copy: Record<string, unknown> = { ...k };
        for (const part of PRIVATE_PARTS) delete copy[part];
        return copy as JWK;
      });
      cached = { kids, set: createLocalJWKSet({ keys: publicKeys }) };
    }
    return cached.set;
  };

  return async function verify(token: string): Promise<{ sub: string; clientId: string | undefined }> {
    try {
      const { payload } = await jwtVerify(token, keySet(), {
        issuer: deps.issuer,
        audience: deps.audience,
        typ: 'at+jwt',
        algorithms: ['ES256', 'RS256', 'EdDSA'],
        requiredClaims: ['sub', 'exp'],
      });
      const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
      if (!scopes.includes(ADMIN_SCOPE)) {
        throw new AdminError('unauthorized', `the access token does not carry the "${ADMIN_SCOPE}" scope`);
      }
      return {
        sub: String(payload.sub),
        clientId: typeof payload.client_id === 'string' ? payload.client_id : undefined,
      };
    } catch (error) {
      if (error instanceof AdminError) throw error;
      if (error instanceof joseErrors.JWTExpired)
        throw new AdminError('unauthorized', 'the access token has expired');
      if (error instanceof joseErrors.JWTClaimValidationFailed) {
        const claim = error.claim;
        throw new AdminError(
          'unauthorized',
          claim === 'aud'
            ? `the access token is not for this API (audience must be ${deps.audience}; ask for resource=${deps.audience})`
            : `the access token's "${claim}" claim is not valid here`,
        );
      }
      throw new AdminError('unauthorized', 'the access token is not a valid Latchkey access token');
    }
  };
}

/** The bearer token of an `Authorization` header (RFC 6750 §2.1), or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)$/i.exec(header ?? '');
  return match?.[1];
}

/** Who is calling: the token's user, active, with at least one administrator role. */
export async function resolveCaller(
  base: AdminContext,
  verified: { sub: string; clientId: string | undefined },
  origin: AdminContext['origin'],
): Promise<Caller> {
  const user = await base.repos.users.findById(verified.sub);
  if (user?.status !== 'active') {
    throw new AdminError('unauthorized', 'the access token belongs to no active user');
  }
  const roles = await rolesOf(base, user);
  if (!roles.instance && roles.organizations.length === 0) {
    throw new AdminError('forbidden', `${user.email ?? user.id} is not an administrator`);
  }
  // The audit log names the administrator (their user id, as the account page does), not "api".
  return { user, roles, ctx: asActor(base, user.id, origin), clientId: verified.clientId };
}
