import type { FastifyReply, FastifyRequest } from 'fastify';
import type { JWK } from 'jose';
import type { AdminContext } from '../admin/context.js';
import { adminApiResource } from '../admin/resources.js';
import { type Caller, createTokenVerifier, resolveCaller } from '../admin-api/auth.js';
import type { ConsoleOidc } from './oidc.js';
import type { ConsoleSession, SessionCookies } from './session.js';

/** Refresh this long before the access token's end, so a request never carries one about to expire. */
const REFRESH_MARGIN_MS = 30_000;

export type SignedIn =
  | { kind: 'signed_in'; caller: Caller; session: ConsoleSession }
  /** No session, or one whose refresh the engine refused (revoked, user disabled, expired). */
  | { kind: 'signed_out' };

/**
 * Who is using the console: the session cookie's access token, verified and resolved exactly as
 * the admin API resolves a bearer token (admin-api/auth.ts: signature, issuer, audience, `admin`
 * scope, an active user, their roles read now). An access token near its end is renewed with the
 * refresh token first and the cookie rewritten. A person who is not (or no longer) an
 * administrator gets the API's `forbidden` AdminError.
 */
export function createCallerResolver(deps: {
  admin: AdminContext;
  jwks(): { keys: JWK[] };
  oidc: ConsoleOidc;
  cookies: SessionCookies;
}) {
  const verify = createTokenVerifier({
    issuer: deps.admin.config.issuer,
    audience: adminApiResource(deps.admin.config).id,
    jwks: deps.jwks,
  });

  return {
    /** The caller for a token just issued (the callback), before any session exists. */
    async fromToken(accessToken: string, request: FastifyRequest): Promise<Caller> {
      return resolveCaller(deps.admin, await verify(accessToken), originOf(request));
    },
    async fromRequest(request: FastifyRequest, reply: FastifyReply): Promise<SignedIn> {
      let session = deps.cookies.read(request);
      if (!session) return { kind: 'signed_out' };
      if (session.accessTokenExpiresAt - REFRESH_MARGIN_MS < Date.now()) {
        if (!session.refreshToken) return { kind: 'signed_out' };
        try {
          const renewed = await deps.oidc.refresh(session.refreshToken);
          session = {
            ...session,
            accessToken: renewed.accessToken,
            accessTokenExpiresAt: renewed.accessTokenExpiresAt,
            refreshToken: renewed.refreshToken ?? session.refreshToken,
          };
          deps.cookies.write(reply, session);
        } catch (error) {
          request.log.info({ err: { name: (error as Error).name } }, 'console session refresh refused');
          deps.cookies.clear(reply);
          return { kind: 'signed_out' };
        }
      }
      const caller = await resolveCaller(deps.admin, await verify(session.accessToken), originOf(request));
      return { kind: 'signed_in', caller, session };
    },
  };
}
export type CallerResolver = ReturnType<typeof createCallerResolver>;

function originOf(request: FastifyRequest): AdminContext['origin'] {
  return { ip: request.ip, userAgent: request.headers['user-agent'] };
}
