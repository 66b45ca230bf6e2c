import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Backend } from '../main/backend.js';
import { MIN_PASSWORD_LENGTH } from '../account/account-routes.js';
import type { ExtensionDeps, PagePlugin } from '../sign-in/extensions.js';
import { messages } from '../pages/messages.js';
import { createPasswordHasher } from '../domain/passwords/password-hasher.js';
import { alert, format, html, layout } from '../pages/index.js';
import { messagePage } from '../pages/sign-in-pages.js';

const KIND = 'password_reset';
/** A reset link is handed over by an administrator, often by chat: short-lived, used once. */
export const RESET_LINK_TTL_MS = 24 * 60 * 60_000;

/** Only the hash is stored, so a database reader cannot use a pending link. */
function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/**
 * A one-time link that lets the user set a new password (printed by `latchkey admin`; no mail
 * server needed). 256 random bits; stored hashed in `action_tokens`; valid 24 hours.
 */
export async function createPasswordResetLink(
  backend: Backend,
  userId: string,
  issuer: string,
): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await backend.repos.actionTokens.create({
    tokenHash: tokenHash(token),
    kind: KIND,
    userId,
    expiresAt: Date.now() + RESET_LINK_TTL_MS,
  });
  await backend.repos.audit.append({ action: 'password_reset_link', outcome: 'info', userId });
  return `${issuer.replace(/\/$/, '')}/reset/${token}`;
}

function resetPage(input: {
  csrf: string;
  email: string;
  action: string;
  error?: string | undefined;
}): string {
  return layout({
    title: messages.resetTitle,
    body: html`<h1>${messages.resetTitle}</h1>
<p>${format(messages.resetHelp, { email: input.email })}</p>
${alert(input.error)}
<form method="post" action="${input.action}">
<input type="hidden" name="_csrf" value="${input.csrf}">
<input type="email" name="username" autocomplete="username" value="${input.email}" hidden readonly>
<label for="new-password">${messages.accountNewPassword}</label>
<input id="new-password" name="password" type="password" autocomplete="new-password" required minlength="${MIN_PASSWORD_LENGTH}" autofocus aria-describedby="new-password-help">
<p id="new-password-help" class="muted">${format(messages.accountPasswordHelp, { min: MIN_PASSWORD_LENGTH })}</p>
<label for="confirm-password">${messages.accountConfirmPassword}</label>
<input id="confirm-password" name="confirm" type="password" autocomplete="new-password" required>
<button type="submit">${messages.resetSubmit}</button>
</form>`,
  });
}

/** `/reset/:token`: the link's page. The token is consumed only when a valid new password is set. */
export function passwordResetPages(deps: ExtensionDeps): PagePlugin {
  const { backend } = deps;
  const hasher = createPasswordHasher(deps.config.argon2);
  return (app: FastifyInstance) => {
    const send = (reply: FastifyReply, body: string, status = 200) =>
      reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);
    const invalid = (reply: FastifyReply) =>
      send(reply, messagePage({ title: messages.resetInvalidTitle, message: messages.resetInvalid }), 404);

    async function userOf(token: string) {
      const found = await backend.repos.actionTokens.peek(tokenHash(token), KIND);
      const user = found ? await backend.repos.users.findById(found.userId) : undefined;
      return user?.status === 'active' ? user : undefined;
    }

    app.get<{ Params: { token: string } }>('/reset/:token', async (request, reply) => {
      const user = await userOf(request.params.token);
      if (!user) return invalid(reply);
      return send(
        reply,
        resetPage({
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
          send(
            reply,
            resetPage({
              csrf: deps.csrf.token(request, reply),
              email: user.email ?? user.id,
              action: `/reset/${encodeURIComponent(request.params.token)}`,
              error,
            }),
            400,
          );
        if (!deps.csrf.verify(request))
          return send(reply, messagePage({ title: messages.errorTitle, message: messages.errorCsrf }), 403);
        const password = String(request.body?.password ?? '');
        if (password.length < MIN_PASSWORD_LENGTH)
          return page(format(messages.accountPasswordTooShort, { min: MIN_PASSWORD_LENGTH }).value);
        if (password !== String(request.body?.confirm ?? '')) return page(messages.accountPasswordMismatch);
        const consumed = await backend.repos.actionTokens.consume(tokenHash(request.params.token), KIND);
        if (!consumed || consumed.userId !== user.id) return invalid(reply);
        await backend.repos.credentials.setPassword(user.id, await hasher.hash(password));
        // Whoever knew the old password is signed out everywhere, including desktop apps.
        await backend.revokeAllForUser(user.id);
        await backend.throttle.clear(`acct:${user.id}`);
        await backend.repos.audit.append({
          action: 'password_reset',
          outcome: 'success',
          userId: user.id,
          organizationId: user.organizationId,
          ip: request.ip,
          userAgent: request.headers['user-agent'],
        });
        return send(reply, messagePage({ title: messages.resetDoneTitle, message: messages.resetDone }));
      },
    );
  };
}
