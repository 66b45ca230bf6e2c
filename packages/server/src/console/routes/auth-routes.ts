import type { FastifyInstance } from 'fastify';
import { AdminError } from '../../admin/errors.js';
import { sendPage } from '../../web/reply.js';
import type { CallerResolver } from '../caller.js';
import type { ConsoleKit } from '../kit.js';
import type { ConsoleOidc } from '../oidc.js';
import { notAdminPage, signedOutPage, signInFailedPage } from '../pages/message-pages.js';
import { CONSOLE_SESSION_MS, newCsrfToken, type SessionCookies, safeReturnPath } from '../session.js';

/**
 * Signing in to the console is signing in to an app: /admin/sign-in sends the browser to the
 * engine's authorization endpoint (the normal sign-in pages: work email, password or the
 * organization's IdP, 2-step verification, then Continue), /admin/callback redeems the code. The
 * sign-in state (state, nonce, PKCE verifier, where to return) waits in a sealed cookie; every
 * navigation is same-site, so no third-party cookie is involved.
 */
export function registerAuthRoutes(
  app: FastifyInstance,
  kit: ConsoleKit,
  deps: { oidc: ConsoleOidc; cookies: SessionCookies; resolver: CallerResolver; issuer: string },
): void {
  const { oidc, cookies } = deps;

  app.get<{ Querystring: { return?: string; switch?: string } }>('/admin/sign-in', async (request, reply) => {
    const { url, pending } = await oidc.start({ switchAccount: request.query.switch === '1' });
    cookies.writeSignIn(reply, { ...pending, returnTo: safeReturnPath(request.query.return) });
    return reply.redirect(url, 303);
  });

  app.get<{ Querystring: Record<string, string> }>('/admin/callback', async (request, reply) => {
    const pending = cookies.readSignIn(request);
    cookies.clearSignIn(reply);
    if (!pending) {
      return sendPage(
        reply,
        signInFailedPage('This sign-in expired or was started in another browser window. Start it again.'),
        400,
      );
    }
    if (request.query.error) {
      request.log.info({ error: request.query.error }, 'console sign-in refused by the engine');
      return sendPage(reply, signInFailedPage('The sign-in was cancelled or refused.'), 400);
    }
    let tokens: Awaited<ReturnType<ConsoleOidc['finish']>>;
    try {
      tokens = await oidc.finish(new URL(request.url, deps.issuer), pending);
    } catch (error) {
      request.log.info(
        { err: { name: (error as Error).name, message: (error as Error).message } },
        'console code exchange failed',
      );
      return sendPage(reply, signInFailedPage('The sign-in could not be completed. Start it again.'), 400);
    }
    try {
      const caller = await deps.resolver.fromToken(tokens.accessToken, request);
      if (caller.user.id !== tokens.subject) throw new AdminError('unauthorized', 'token subjects differ');
    } catch (error) {
      // Not an administrator: no console session, and the grant the sign-in made is given back.
      if (tokens.refreshToken) await oidc.revoke(tokens.refreshToken).catch(() => {});
      if (error instanceof AdminError && error.code === 'forbidden') {
        return sendPage(reply, notAdminPage(error.message), 403);
      }
      if (error instanceof AdminError) {
        return sendPage(reply, signInFailedPage('This account cannot use the console.'), 403);
      }
      throw error;
    }
    cookies.write(reply, {
      sub: tokens.subject as string,
      accessToken: tokens.accessToken,
      accessTokenExpiresAt: tokens.accessTokenExpiresAt,
      refreshToken: tokens.refreshToken,
      csrf: newCsrfToken(),
      endsAt: Date.now() + CONSOLE_SESSION_MS,
    });
    return reply.redirect(pending.returnTo, 303);
  });

  kit.action('/admin/sign-out', async ({ reply, session }) => {
    // The console's grant ends (its refresh token and the access tokens under it); the person's
    // browser session at Latchkey and their apps stay signed in.
    if (session.refreshToken) await oidc.revoke(session.refreshToken).catch(() => {});
    cookies.clear(reply);
    return sendPage(reply, signedOutPage('You are signed out of the admin console.'));
  });
}
