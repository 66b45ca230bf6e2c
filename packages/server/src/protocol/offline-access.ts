import { decodeJwt } from 'jose';
import type { KoaContextWithOIDC } from 'oidc-provider';

type EngineClient = NonNullable<KoaContextWithOIDC['oidc']['client']>;

/**
 * The scope the request carried before the engine looked at it: the query or form of the
 * authorization request, or the pushed request (RFC 9126) it refers to.
 */
function requestedScope(ctx: KoaContextWithOIDC): string | undefined {
  const source = ctx.method === 'POST' ? (ctx.oidc.body as Record<string, unknown> | undefined) : ctx.query;
  const pushed = ctx.oidc.entities.PushedAuthorizationRequest as { request?: string } | undefined;
  // A pushed request (RFC 9126) or a request object (RFC 9101) carries its parameters in a JWT the
  // engine has already verified by now; only its scope is read here.
  const requestObject = pushed?.request ?? (typeof source?.request === 'string' ? source.request : undefined);
  if (requestObject) {
    try {
      const scope = decodeJwt(requestObject).scope;
      return typeof scope === 'string' ? scope : undefined;
    } catch {
      return undefined;
    }
  }
  const scope = source?.scope;
  return typeof scope === 'string' ? scope : undefined;
}

/**
 * Keeps `offline_access` in the scope of an authorization request from a native app.
 *
 * oidc-provider drops `offline_access` unless the request says `prompt=consent` (OpenID Connect
 * Core §11), yet a native app gets its refresh token anyway (`issueRefreshToken` in provider.ts):
 * its handoff click is the consent (RFC 8252 §8.6), the "other condition permitting offline
 * access" §11 allows. Dropped, the grant lacks the scope the app asked for, and MSAL and authlib,
 * which re-send that scope on every refresh, are refused with `invalid_scope`. So the scope is put
 * back for the clients that get refresh tokens (native, refresh_token grant allowed), where it then
 * also shows in the token response and in introspection. Never with `prompt=none`, which cannot
 * ask anything. Runs as the engine's `extraParams.scope` check, i.e. right after its own scope
 * check, for authorization, pushed authorization and device authorization requests.
 */
export async function keepOfflineAccess(
  ctx: KoaContextWithOIDC,
  _value: string | undefined,
  client: EngineClient,
): Promise<void> {
  if (client.applicationType !== 'native' || !client.grantTypeAllowed('refresh_token')) return;
  if (ctx.oidc.prompts.has('none')) return;
  const asked = requestedScope(ctx)?.split(' ') ?? [];
  if (!asked.includes('offline_access')) return;
  const scopes = new Set(ctx.oidc.params?.scope ? String(ctx.oidc.params.scope).split(' ') : []);
  if (scopes.has('offline_access')) return;
  scopes.add('offline_access');
  (ctx.oidc.params as Record<string, unknown>).scope = [...scopes].join(' ');
}
