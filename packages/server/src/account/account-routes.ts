import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  generateTotpSecret,
  type RegistrationResponseJSON,
  registrationOptions,
  totpKeyUri,
  totpQrSvg,
  verifyRegistration,
  verifyTotp,
} from '../domain/two-step/index.js';
import { listAccountRecords } from '../storage/oidc-adapter.js';
import type { ExtensionDeps, PagePlugin } from '../sign-in/extensions.js';
import { messages } from '../pages/messages.js';
import { createPasswordHasher } from '../domain/passwords/password-hasher.js';
import { createRecoveryCodes } from '../domain/two-step/credentials.js';
import {
  attemptKeys,
  recoveryCodesDownload,
  relyingParty,
  seal,
  throttledText,
  unseal,
} from '../sign-in/two-step-support.js';
import { enrollPage, recoveryCodesPage } from '../pages/two-step-pages.js';
import { format } from '../pages/index.js';
import { messagePage } from '../pages/sign-in-pages.js';
import { accountPage, shortDate, signedOutAccountPage } from '../pages/account-pages.js';

/** The built-in client the account page signs in through (a web client at this issuer). */
export const ACCOUNT_CLIENT_ID = 'latchkey-account';
export const MIN_PASSWORD_LENGTH = 8;
const PENDING_TTL_MS = 10 * 60_000;

/** Results of an action, shown after the redirect (a fixed set: nothing from the URL reaches the page). */
const NOTICES = {
  password: messages.accountPasswordChanged,
  'totp-added': messages.accountTotpAdded,
  'totp-removed': messages.accountTotpRemoved,
  'passkey-added': messages.accountPasskeyAdded,
  'passkey-removed': messages.accountPasskeyRemoved,
  'session-ended': messages.accountSessionEnded,
} as const;

/**
 * The account page of a signed-in user (the engine's browser session): password, authenticator app,
 * passkeys, recovery codes, and their own sessions. Every change is a CSRF-protected form post,
 * answered with a redirect (post/redirect/get) and an audit event.
 */
export function accountPages(deps: ExtensionDeps): PagePlugin {
  const { backend, config } = deps;
  const repos = backend.repos;
  const services = backend.loginServices({ provider: deps.provider, csrf: deps.csrf });
  const hasher = createPasswordHasher(config.argon2);
  const rp = relyingParty(config.issuer);
  const callback = `${config.issuer}/account/callback`;

  return async (app: FastifyInstance) => {
    // "Sign in to manage your account" goes through the ordinary sign-in pages as this client.
    await repos.clients.upsertFromConfig({
      id: ACCOUNT_CLIENT_ID,
      name: messages.accountTitle,
      kind: 'web',
      redirectUris: [callback],
      postLogoutRedirectUris: [],
      deviceFlow: false,
      tokenEndpointAuthMethod: 'none',
      idTokenSignedResponseAlg: 'ES256',
    });

    function html(reply: FastifyReply, body: string, status = 200) {
      return reply
        .code(status)
        .type('text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .send(body);
    }

    /** The signed-in user of this browser, from the engine's session cookie. */
    async function signedIn(request: FastifyRequest, reply: FastifyReply) {
      const provider = deps.provider();
      const session = await provider.Session.get({ req: request.raw, res: reply.raw } as never);
      if (!session?.accountId) return undefined;
      const user = await repos.users.findById(session.accountId);
      if (user?.status !== 'active') return undefined;
      const org = await services.organizations.byId(user.organizationId);
      return {
        user,
        session,
        local: org?.connection.type === 'local',
        require2sv: Boolean(org?.policy.require2sv),
      };
    }
    type Who = NonNullable<Awaited<ReturnType<typeof signedIn>>>;

    async function audit(
      request: FastifyRequest,
      who: Who,
      action: string,
      outcome: 'success' | 'failure' | 'info',
      details: Record<string, unknown> = {},
    ) {
      await services.audit({
        action,
        outcome,
        userId: who.user.id,
        organizationId: who.user.organizationId,
        actor: who.user.id,
        ip: request.ip,
        userAgent: request.headers['user-agent'],
        details: { via: 'account_page', ...details },
      });
    }

    async function render(
      request: FastifyRequest,
      reply: FastifyReply,
      who: Who,
      extra: { error?: string; notice?: string; status?: number } = {},
    ) {
      const userId = who.user.id;
      const [methods, passkeys, records] = await Promise.all([
        repos.credentials.methodsOf(userId),
        repos.credentials.passkeys(userId),
        listAccountRecords(backend.database, userId),
      ]);
      const clients = new Map<string, string>();
      for (const r of records) {
        if (r.model === 'Grant' && r.clientId && !clients.has(r.clientId)) {
          clients.set(r.clientId, (await repos.clients.find(r.clientId))?.name ?? r.clientId);
        }
      }
      const sessions = records
        .filter((r) => r.model === 'Session' || (r.model === 'Grant' && r.clientId !== ACCOUNT_CLIENT_ID))
        .map((r) => ({
          kind: r.model === 'Session' ? ('session' as const) : ('grant' as const),
          id: r.id,
          label:
            r.model === 'Session'
              ? format(messages.accountSessionBrowser, { date: shortDate(r.createdAt) }).value
              : format(messages.accountSessionApp, {
                  app: clients.get(r.clientId ?? '') ?? '',
                  date: shortDate(r.createdAt),
                }).value,
          current: r.model === 'Session' && r.id === who.session.jti,
        }));
      return html(
        reply,
        accountPage({
          csrf: deps.csrf.token(request, reply),
          email: who.user.email ?? who.user.id,
          local: who.local,
          notice: extra.notice,
          error: extra.error,
          minPasswordLength: MIN_PASSWORD_LENGTH,
          totp: methods.totp,
          passkeys: passkeys.map((p) => ({ id: p.id, createdAt: p.createdAt, lastUsedAt: p.lastUsedAt })),
          recoveryCodes: methods.recoveryCodes,
          sessions,
        }),
        extra.status,
      );
    }

    /** Runs a form action for a signed-in user with a valid CSRF token; otherwise the sign-in link. */
    function action<B>(
      path: string,
      handler: (
        request: FastifyRequest<{ Body: B; Params: Record<string, string> }>,
        reply: FastifyReply,
        who: Who,
      ) => Promise<FastifyReply>,
      options: { localOnly?: boolean } = { localOnly: true },
    ) {
      app.post<{ Body: B; Params: Record<string, string> }>(path, async (request, reply) => {
        const who = await signedIn(request, reply);
        if (!who) return html(reply, signedOutAccountPage(), 401);
        if (!deps.csrf.verify(request)) {
          return html(reply, messagePage({ title: messages.errorTitle, message: messages.errorCsrf }), 403);
        }
        if (options.localOnly !== false && !who.local) return reply.redirect('/account', 303);
        return handler(request, reply, who);
      });
    }

    const done = (reply: FastifyReply, notice: keyof typeof NOTICES) =>
      reply.redirect(`/account?done=${notice}`, 303);

    app.get<{ Querystring: { done?: string } }>('/account', async (request, reply) => {
      const who = await signedIn(request, reply);
      if (!who) return html(reply, signedOutAccountPage());
      const key = request.query.done as keyof typeof NOTICES | undefined;
      return render(request, reply, who, { notice: key && key in NOTICES ? NOTICES[key] : undefined });
    });

    // ---- signing in to the account page ----

    app.get('/account/sign-in', async (_request, reply) => {
      // The code is never exchanged: signing in creates the browser session this page reads.
      // PKCE is still sent because the engine requires it of every client.
      const challenge = createHash('sha256').update(randomBytes(32)).digest('base64url');
      const query = new URLSearchParams({
        client_id: ACCOUNT_CLIENT_ID,
        redirect_uri: callback,
        response_type: 'code',
        scope: 'openid',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        state: randomBytes(16).toString('base64url'),
      });
      return reply.redirect(`/auth?${query.toString()}`, 303);
    });
    app.get('/account/callback', async (_request, reply) => reply.redirect('/account', 303));

    // ---- password ----

    action<{ current?: string; password?: string; confirm?: string }>(
      '/account/password',
      async (request, reply, who) => {
        const { current = '', password = '', confirm = '' } = request.body ?? {};
        const keys = attemptKeys(who.user.id, request.ip);
        const decision = await backend.throttle.attempt(keys);
        if (!decision.allowed) {
          await audit(request, who, 'password_change', 'failure', { reason: 'throttled' });
          return render(request, reply, who, { error: throttledText(decision.retryAfterMs), status: 429 });
        }
        if (!(await services.passwords.verify(who.user.id, String(current)))) {
          await audit(request, who, 'password_change', 'failure', { reason: 'wrong_password' });
          return render(request, reply, who, { error: messages.accountPasswordWrong, status: 401 });
        }
        await backend.throttle.recordSuccess(keys);
        if (String(password).length < MIN_PASSWORD_LENGTH) {
          return render(request, reply, who, {
            error: format(messages.accountPasswordTooShort, { min: MIN_PASSWORD_LENGTH }).value,
            status: 400,
          });
        }
        if (password !== confirm)
          return render(request, reply, who, { error: messages.accountPasswordMismatch, status: 400 });
        await repos.credentials.setPassword(who.user.id, await hasher.hash(String(password)));
        await audit(request, who, 'password_change', 'success');
        return done(reply, 'password');
      },
    );

    // ---- authenticator app ----

    async function totpSetup(
      request: FastifyRequest,
      reply: FastifyReply,
      who: Who,
      sealed?: string,
      error?: string,
    ) {
      const purpose = `account-totp:${who.user.id}`;
      let secret = unseal<string>(backend.secretBox, purpose, sealed);
      if (!secret) {
        secret = generateTotpSecret();
        sealed = seal(backend.secretBox, purpose, secret, PENDING_TTL_MS);
      }
      const email = who.user.email ?? who.user.id;
      return html(
        reply,
        enrollPage({
          title: messages.accountTotpTitle,
          help: messages.accountTotpSetupHelp,
          action: '/account/totp',
          csrf: deps.csrf.token(request, reply),
          email,
          qrSvg: await totpQrSvg(totpKeyUri({ secret, accountName: email, issuer: messages.productName })),
          key: secret,
          hidden: { pending: sealed as string },
          error,
          backUrl: '/account',
        }),
        error ? 400 : 200,
      );
    }

    app.get('/account/totp', async (request, reply) => {
      const who = await signedIn(request, reply);
      if (!who) return html(reply, signedOutAccountPage());
      if (!who.local) return reply.redirect('/account', 303);
      return totpSetup(request, reply, who);
    });

    action<{ code?: string; pending?: string }>('/account/totp', async (request, reply, who) => {
      const purpose = `account-totp:${who.user.id}`;
      const secret = unseal<string>(backend.secretBox, purpose, request.body?.pending);
      if (!secret) return totpSetup(request, reply, who, undefined, messages.enrollWrong);
      const decision = await backend.throttle.attempt(attemptKeys(who.user.id, request.ip));
      if (!decision.allowed)
        return totpSetup(request, reply, who, request.body?.pending, throttledText(decision.retryAfterMs));
      const result = await verifyTotp({ secret, code: String(request.body?.code ?? '') });
      if (!result.ok) {
        await audit(request, who, 'enroll_2sv', 'failure', { method: 'totp', reason: result.reason });
        return totpSetup(request, reply, who, request.body?.pending, messages.enrollWrong);
      }
      await backend.throttle.recordSuccess(attemptKeys(who.user.id, request.ip));
      await repos.credentials.setTotp(who.user.id, secret);
      const stored = await repos.credentials.totp(who.user.id);
      if (stored) await repos.credentials.acceptTotpStep(stored.id, null, result.step);
      await audit(request, who, 'enroll_2sv', 'success', { method: 'totp' });
      // First method: hand out recovery codes right away, as the sign-in enrollment does.
      const methods = await repos.credentials.methodsOf(who.user.id);
      if (methods.recoveryCodes === 0) return showNewCodes(request, reply, who);
      return done(reply, 'totp-added');
    });

    /** Refuses to remove the last 2SV method when the organization requires 2SV. */
    async function wouldLeaveNone(who: Who, removing: 'totp' | 'passkey') {
      if (!who.require2sv) return false;
      const m = await repos.credentials.methodsOf(who.user.id);
      const left =
        (removing === 'totp' ? 0 : Number(m.totp)) + (removing === 'passkey' ? m.passkeys - 1 : m.passkeys);
      return left <= 0;
    }

    action('/account/totp/remove', async (request, reply, who) => {
      if (await wouldLeaveNone(who, 'totp'))
        return render(request, reply, who, { error: messages.accountLastMethod, status: 409 });
      await repos.credentials.removeType(who.user.id, 'totp');
      await audit(request, who, 'remove_2sv', 'success', { method: 'totp' });
      return done(reply, 'totp-removed');
    });

    // ---- passkeys ----

    app.post('/account/passkeys/options', async (request, reply) => {
      const who = await signedIn(request, reply);
      if (!who?.local) return reply.code(401).send({ error: 'not_signed_in' });
      if (!deps.csrf.verify(request)) return reply.code(403).send({ error: 'csrf' });
      const existing = await repos.credentials.passkeys(who.user.id);
      const options = await registrationOptions({
        rpId: rp.rpId,
        rpName: messages.productName,
        user: { id: who.user.id, email: who.user.email ?? who.user.id, name: who.user.name },
        excludeCredentials: existing.map((p) => ({ credentialId: p.credentialId })),
      });
      const state = seal(
        backend.secretBox,
        `account-passkey:${who.user.id}`,
        options.challenge,
        PENDING_TTL_MS,
      );
      return reply.header('cache-control', 'no-store').send({ options, state });
    });

    action<{ response?: string; state?: string }>('/account/passkeys', async (request, reply, who) => {
      const challenge = unseal<string>(
        backend.secretBox,
        `account-passkey:${who.user.id}`,
        request.body?.state,
      );
      let response: RegistrationResponseJSON | undefined;
      try {
        response = JSON.parse(String(request.body?.response ?? '')) as RegistrationResponseJSON;
      } catch {
        response = undefined;
      }
      if (!challenge || !response)
        return render(request, reply, who, { error: messages.accountPasskeyFailed, status: 400 });
      try {
        const passkey = await verifyRegistration({
          response,
          expectedChallenge: challenge,
          expectedOrigin: rp.origin,
          rpId: rp.rpId,
        });
        const { credentialId, ...data } = passkey;
        await repos.credentials.addPasskey(
          who.user.id,
          credentialId,
          data as unknown as Record<string, unknown>,
        );
      } catch (error) {
        await audit(request, who, 'enroll_2sv', 'failure', {
          method: 'passkey',
          reason: error instanceof Error ? error.message : 'invalid',
        });
        return render(request, reply, who, { error: messages.accountPasskeyFailed, status: 400 });
      }
      await audit(request, who, 'enroll_2sv', 'success', { method: 'passkey' });
      const methods = await repos.credentials.methodsOf(who.user.id);
      if (methods.recoveryCodes === 0) return showNewCodes(request, reply, who);
      return done(reply, 'passkey-added');
    });

    action<unknown>('/account/passkeys/:id/remove', async (request, reply, who) => {
      if (await wouldLeaveNone(who, 'passkey'))
        return render(request, reply, who, { error: messages.accountLastMethod, status: 409 });
      const removed = await repos.credentials.removePasskey(who.user.id, String(request.params.id));
      if (removed) await audit(request, who, 'remove_2sv', 'success', { method: 'passkey' });
      return done(reply, 'passkey-removed');
    });

    // ---- recovery codes ----

    async function showNewCodes(request: FastifyRequest, reply: FastifyReply, who: Who) {
      const codes = await createRecoveryCodes(backend, who.user.id);
      await audit(request, who, 'recovery_codes_created', 'success', { count: codes.length });
      return html(
        reply,
        recoveryCodesPage({
          codes,
          downloadHref: recoveryCodesDownload(who.user.email ?? '', codes),
          doneUrl: '/account',
        }),
      );
    }

    action('/account/recovery-codes', async (request, reply, who) => showNewCodes(request, reply, who));

    // ---- sessions ----

    action<unknown>(
      '/account/sessions/:kind/:id/end',
      async (request, reply, who) => {
        const id = String(request.params.id);
        const db = backend.database.db;
        if (request.params.kind === 'session') {
          await db
            .deleteFrom('oidc_records')
            .where('model', '=', 'Session')
            .where('id', '=', id)
            .where('account_id', '=', who.user.id)
            .execute();
        } else {
          // A grant and everything issued under it (refresh and access tokens): the app must sign in again.
          await db
            .deleteFrom('oidc_records')
            .where('account_id', '=', who.user.id)
            .where((eb) =>
              eb.or([eb('grant_id', '=', id), eb.and([eb('model', '=', 'Grant'), eb('id', '=', id)])]),
            )
            .execute();
        }
        await audit(request, who, 'session_end', 'success', { kind: request.params.kind });
        return done(reply, 'session-ended');
      },
      { localOnly: false },
    );

    action(
      '/account/sessions/end-all',
      async (request, reply, who) => {
        const count = await backend.revokeAllForUser(who.user.id);
        await audit(request, who, 'session_end_all', 'success', { records: count });
        return html(
          reply,
          messagePage({ title: messages.signedOutTitle, message: messages.accountSignedOutEverywhere }),
        );
      },
      { localOnly: false },
    );
  };
}
