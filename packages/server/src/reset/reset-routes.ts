import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Audit } from '../domain/audit.js';
import { MIN_PASSWORD_LENGTH, type PasswordCheck } from '../domain/passwords/password-check.js';
import { consumeResetLink, peekResetLink } from '../domain/reset-links.js';
import type { SessionControl } from '../domain/sessions.js';
import type { Throttle } from '../domain/throttle/throttle.js';
import type { Brand } from '../pages/brand.js';
import { format } from '../pages/index.js';
import { messages } from '../pages/messages.js';
import { resetPage } from '../pages/reset-page.js';
import { messagePage } from '../pages/sign-in-pages.js';
import type { Repositories } from '../storage/repositories.js';
import type { Csrf } from '../web/csrf.js';
import { acceptFormsOnly, sendPage } from '../web/reply.js';

export interface ResetDeps {
  /** The instance's brand (pages/brand-assets.ts). */
  brand?: Brand | undefined;
  csrf: Csrf;
  actionTokens: Repositories['actionTokens'];
  users: Pick<Repositories['users'], 'findById'>;
  passwords: PasswordCheck;
  sessions: SessionControl;
  throttle: Throttle;
  audit: Audit;
}

/**
 * `/reset/:token`: the page of a one-time link (domain/reset-links.ts). The token is used up only
 * when a valid new password is set; then whoever knew the old password is signed out everywhere,
 * desktop apps included.
 */
export function registerResetPages(app: FastifyInstance, deps: ResetDeps): void {
  acceptFormsOnly(app);
  const invalid = (reply: FastifyReply) =>
    sendPage(
      reply,
      messagePage({ brand: deps.brand, title: messages.resetInvalidTitle, message: messages.resetInvalid }),
      404,
    );

  async function userOf(token: string) {
    const userId = await peekResetLink(deps.actionTokens, token);
    const user = userId ? await deps.users.findById(userId) : undefined;
    return user?.status === 'active' ? user : undefined;
  }

  app.get<{ Params: { token: string } }>('/reset/:token', async (request, reply) => {
    const user = await userOf(request.params.token);
    if (!user) return invalid(reply);
    return sendPage(
      reply,
      resetPage({
        brand: deps.brand,
        csrf: deps.csrf.token(request, reply),
        email: user.email ?? user.id,
        action: `/reset/${encodeURIComponent(request.params.token)}`,
      }),
    );
  });

  app.post<{ Params: { token: string }; Body: { password?: string; confirm?: string } }>(
    '/reset/:token',
    async (request, reply) => {
      const user = await userOf(request.params.token);
      if (!user) return invalid(reply);
      const page = (error: string) =>
        sendPage(
          reply,
          resetPage({
            brand: deps.brand,
            csrf: deps.csrf.token(request, reply),
            email: user.email ?? user.id,
            action: `/reset/${encodeURIComponent(request.params.token)}`,
            error,
          }),
          400,
        );
      if (!deps.csrf.verify(request))
        return sendPage(
          reply,
          messagePage({ brand: deps.brand, title: messages.errorTitle, message: messages.errorCsrf }),
          403,
        );
      const password = String(request.body?.password ?? '');
      if (password.length < MIN_PASSWORD_LENGTH)
        return page(format(messages.accountPasswordTooShort, { min: MIN_PASSWORD_LENGTH }).value);
      if (password !== String(request.body?.confirm ?? '')) return page(messages.accountPasswordMismatch);
      const consumed = await consumeResetLink(deps.actionTokens, request.params.token);
      if (consumed !== user.id) return invalid(reply);
      await deps.passwords.set(user.id, password);
      await deps.sessions.revokeAll(user.id, 'password_reset');
      await deps.throttle.clear(`acct:${user.id}`);
      await deps.audit({
        action: 'password_reset',
        outcome: 'success',
        userId: user.id,
        organizationId: user.organizationId,
        ip: request.ip,
        userAgent: request.headers['user-agent'],
      });
      return sendPage(
        reply,
        messagePage({ brand: deps.brand, title: messages.resetDoneTitle, message: messages.resetDone }),
      );
    },
  );
}
