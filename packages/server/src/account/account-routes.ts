import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import { seal, unseal } from '../crypto/sealed-values.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Audit } from '../domain/audit.js';
import { labelOfUser, type OrganizationDirectory } from '../domain/directory.js';
import { MIN_PASSWORD_LENGTH, type PasswordCheck } from '../domain/passwords/password-check.js';
import type { SessionControl } from '../domain/sessions.js';
import { attemptKeys } from '../domain/throttle/attempt-keys.js';
import type { Throttle } from '../domain/throttle/throttle.js';
import { createRecoveryCodes, relyingParty } from '../domain/two-step/credentials.js';
import { generateTotpSecret, totpKeyUri, totpQrSvg, verifyTotp } from '../domain/two-step/totp.js';
import {
  type RegistrationResponseJSON,
  registrationOptions,
  verifyRegistration,
} from '../domain/two-step/webauthn.js';
import {
  type AccountSessionRow,
  accountPage,
  confirmItIsYouPage,
  signedOutAccountPage,
} from '../pages/account-pages.js';
import type { Brand } from '../pages/brand.js';
import { format } from '../pages/index.js';
import { messages } from '../pages/messages.js';
import { messagePage } from '../pages/sign-in-pages.js';
import { enrollPage, recoveryCodesPage } from '../pages/two-step-pages.js';
import { recoveryCodesDownload, throttledText } from '../pages/two-step-text.js';
import { summarizeUserAgent } from '../protocol/user-agent.js';
import type { Repositories } from '../storage/repositories.js';
import type { Csrf } from '../web/csrf.js';
import { acceptFormsOnly, sendPage } from '../web/reply.js';
import { ACCOUNT_CLIENT_ID } from './account-client.js';

const PENDING_TTL_MS = 10 * 60_000;
/**
 * How recent the sign-in of the browser session must be for changes to how a person signs in
 * (authenticator app, passkeys, recovery codes): a browser session lives for days, and whoever finds
 * it open must not be able to add their own authenticator (a `max_age`-style step-up).
 */
export const FRESH_SIGN_IN_MINUTES = 10;
/** "Sign out everywhere" can also remove the passkeys and authenticator app added this recently. */
export const RECENT_CREDENTIALS_DAYS = 14;
const RECENT_CREDENTIALS_MS = RECENT_CREDENTIALS_DAYS * 24 * 60 * 60_000;

/** Results of an action, shown after the redirect (a fixed set: nothing from the URL reaches the page). */
const NOTICES = {
  password: messages.accountPasswordChanged,
  'totp-added': messages.accountTotpAdded,
  'totp-removed': messages.accountTotpRemoved,
  'passkey-added': messages.accountPasskeyAdded,
  'passkey-removed': messages.accountPasskeyRemoved,
  'session-ended': messages.accountSessionEnded,
} as const;

/** What the account pages use. */
export interface AccountDeps {
  /** The instance's brand (pages/brand-assets.ts): the account is the instance's own page. */
  brand?: Brand | undefined;
  issuer: string;
  engine(): Provider;
  csrf: Csrf;
  organizations: OrganizationDirectory;
  users: Pick<Repositories['users'], 'findById' | 'identitiesOf'>;
  credentials: Repositories['credentials'];
  clients: Pick<Repositories['clients'], 'find'>;
  passwords: PasswordCheck;
  throttle: Throttle;
  audit: Audit;
  secretBox: SecretBox;
  recoveryCodeKey: Buffer;
  sessions: SessionControl;
}

/**
 * The account page of a signed-in user (the engine's browser session): password, authenticator app,
 * passkeys, recovery codes, and their own sessions. Every change is a CSRF-protected form post,
 * answered with a redirect (post/redirect/get) and an audit event.
 */
export function registerAccountPages(app: FastifyInstance, deps: AccountDeps): void {
  const rp = relyingParty(deps.issuer);
  const callback = `${deps.issuer}/account/callback`;
  acceptFormsOnly(app);

  /** The signed-in user of this browser, from the engine's session cookie. */
  async function signedIn(request: FastifyRequest, reply: FastifyReply) {
    const provider = deps.engine();
    const session = await provider.Session.get({ req: request.raw, res: reply.raw } as never);
    if (!session?.accountId) return undefined;
    const user = await deps.users.findById(session.accountId);
    if (user?.status !== 'active') return undefined;
    const org = deps.organizations.byId(user.organizationId);
    const authTime = session.authTime();
    return {
      user,
      session,
      fresh: typeof authTime === 'number' && Date.now() / 1000 - authTime < FRESH_SIGN_IN_MINUTES * 60,
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
    await deps.audit({
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
    const [methods, passkeys, listing] = await Promise.all([
      deps.credentials.methodsOf(userId),
      deps.credentials.passkeys(userId),
      deps.sessions.listing(userId),
    ]);
    // One row per device: each browser session, and each app signed in on a device (a live refresh
    // token; an app that never redeemed its code is not signed in, domain/session-list.ts).
    const sessions: AccountSessionRow[] = [
      ...listing.browsers.map((b) => ({
        kind: 'session' as const,
        id: b.id,
        what: messages.accountSessionBrowserName,
        device: b.device,
        ip: b.ip,
        signedInAt: b.createdAt,
        lastUsedAt: b.lastUsedAt,
        current: b.uid === who.session.uid,
      })),
      ...listing.apps
        .filter((a) => a.clientId !== ACCOUNT_CLIENT_ID)
        .map((a) => ({
          kind: 'grant' as const,
          id: a.grantId,
          what: a.app,
          device: a.device,
          ip: a.ip,
          signedInAt: a.createdAt,
          lastUsedAt: a.lastUsedAt,
          current: false,
        })),
    ];
    return sendPage(
      reply,
      accountPage({
        brand: deps.brand,
        csrf: deps.csrf.token(request, reply),
        // Never the internal user id: the name, or the label the upstream gave the account.
        email: (await labelOfUser(deps.users, who.user)) ?? messages.signedInAccountUnnamed,
        local: who.local,
        notice: extra.notice,
        error: extra.error,
        minPasswordLength: MIN_PASSWORD_LENGTH,
        totp: methods.totp,
        passkeys: passkeys.map((p) => {
          const from = (p.data as { addedFrom?: { ip?: unknown; device?: unknown } }).addedFrom;
          return {
            id: p.id,
            createdAt: p.createdAt,
            lastUsedAt: p.lastUsedAt,
            addedFrom:
              typeof from?.device === 'string' && typeof from.ip === 'string'
                ? { device: from.device, ip: from.ip }
                : undefined,
          };
        }),
        recentDays: RECENT_CREDENTIALS_DAYS,
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
    options: { localOnly?: boolean; stepUp?: boolean } = {},
  ) {
    const { localOnly = true, stepUp = true } = options;
    app.post<{ Body: B; Params: Record<string, string> }>(path, async (request, reply) => {
      const who = await signedIn(request, reply);
      if (!who) return sendPage(reply, signedOutAccountPage({ brand: deps.brand }), 401);
      if (!deps.csrf.verify(request)) {
        return sendPage(
          reply,
          messagePage({ brand: deps.brand, title: messages.errorTitle, message: messages.errorCsrf }),
          403,
        );
      }
      if (localOnly && !who.local) return reply.redirect('/account', 303);
      if (stepUp && !who.fresh) return confirmFirst(reply);
      return handler(request, reply, who);
    });
  }

  const confirmFirst = (reply: FastifyReply) =>
    sendPage(reply, confirmItIsYouPage({ brand: deps.brand, minutes: FRESH_SIGN_IN_MINUTES }), 401);

  const done = (reply: FastifyReply, notice: keyof typeof NOTICES) =>
    reply.redirect(`/account?done=${notice}`, 303);

  app.get<{ Querystring: { done?: string } }>('/account', async (request, reply) => {
    const who = await signedIn(request, reply);
    if (!who) return sendPage(reply, signedOutAccountPage({ brand: deps.brand }));
    const key = request.query.done as keyof typeof NOTICES | undefined;
    return render(request, reply, who, { notice: key && key in NOTICES ? NOTICES[key] : undefined });
  });

  // ---- signing in to the account page ----

  app.get<{ Querystring: { confirm?: string } }>('/account/sign-in', async (request, reply) => {
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
    if (request.query.confirm) {
      // Step-up: the engine asks for the sign-in again (password and 2-step), for the same person.
      query.set('prompt', 'login');
      const who = await signedIn(request, reply);
      if (who?.user.email) query.set('login_hint', who.user.email);
    }
    return reply.redirect(`/auth?${query.toString()}`, 303);
  });
  app.get('/account/callback', async (_request, reply) => reply.redirect('/account', 303));
  // The server's own address leads somewhere a person can use: their account (or its sign-in).
  app.get('/', async (_request, reply) => reply.redirect('/account', 303));

  // ---- password ----

  action<{ current?: string; password?: string; confirm?: string }>(
    '/account/password',
    async (request, reply, who) => {
      const { current = '', password = '', confirm = '' } = request.body ?? {};
      const keys = attemptKeys(who.user.id, request.ip);
      const decision = await deps.throttle.attempt(keys);
      if (!decision.allowed) {
        await audit(request, who, 'password_change', 'failure', { reason: 'throttled' });
        return render(request, reply, who, { error: throttledText(decision.retryAfterMs), status: 429 });
      }
      if (!(await deps.passwords.verify(who.user.id, String(current)))) {
        await audit(request, who, 'password_change', 'failure', { reason: 'wrong_password' });
        return render(request, reply, who, { error: messages.accountPasswordWrong, status: 401 });
      }
      await deps.throttle.recordSuccess(keys);
      if (String(password).length < MIN_PASSWORD_LENGTH) {
        return render(request, reply, who, {
          error: format(messages.accountPasswordTooShort, { min: MIN_PASSWORD_LENGTH }).value,
          status: 400,
        });
      }
      if (password !== confirm)
        return render(request, reply, who, { error: messages.accountPasswordMismatch, status: 400 });
      await deps.passwords.set(who.user.id, String(password));
      // Changing the password is how a person shuts out whoever learned it: every other browser
      // session and every app's refresh tokens end; this browser stays signed in unless they untick it.
      const keep = (request.body as { keep_session?: unknown } | undefined)?.keep_session === 'on';
      const revoked = keep
        ? await deps.sessions.revokeAllExcept(who.user.id, who.session.uid, 'password_changed')
        : await deps.sessions.revokeAll(who.user.id, 'password_changed');
      await audit(request, who, 'password_change', 'success', {
        revokedRecords: revoked,
        keptThisBrowser: keep,
      });
      if (!keep) {
        return sendPage(
          reply,
          messagePage({
            brand: deps.brand,
            title: messages.signedOutTitle,
            message: messages.accountPasswordChangedSignedOut,
          }),
        );
      }
      return done(reply, 'password');
    },
    // The current password is itself the fresh proof.
    { stepUp: false },
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
    let secret = unseal<string>(deps.secretBox, purpose, sealed);
    if (!secret) {
      secret = generateTotpSecret();
      sealed = seal(deps.secretBox, purpose, secret, PENDING_TTL_MS);
    }
    const email = who.user.email ?? who.user.id;
    return sendPage(
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
    if (!who) return sendPage(reply, signedOutAccountPage({ brand: deps.brand }));
    if (!who.local) return reply.redirect('/account', 303);
    if (!who.fresh) return confirmFirst(reply);
    return totpSetup(request, reply, who);
  });

  action<{ code?: string; pending?: string }>('/account/totp', async (request, reply, who) => {
    const purpose = `account-totp:${who.user.id}`;
    const secret = unseal<string>(deps.secretBox, purpose, request.body?.pending);
    if (!secret) return totpSetup(request, reply, who, undefined, messages.enrollWrong);
    const decision = await deps.throttle.attempt(attemptKeys(who.user.id, request.ip));
    if (!decision.allowed)
      return totpSetup(request, reply, who, request.body?.pending, throttledText(decision.retryAfterMs));
    const result = await verifyTotp({ secret, code: String(request.body?.code ?? '') });
    if (!result.ok) {
      await audit(request, who, 'enroll_2sv', 'failure', { method: 'totp', reason: result.reason });
      return totpSetup(request, reply, who, request.body?.pending, messages.enrollWrong);
    }
    await deps.throttle.recordSuccess(attemptKeys(who.user.id, request.ip));
    await deps.credentials.setTotp(who.user.id, secret);
    const stored = await deps.credentials.totp(who.user.id);
    if (stored) await deps.credentials.acceptTotpStep(stored.id, null, result.step);
    await audit(request, who, 'enroll_2sv', 'success', { method: 'totp' });
    // First method: hand out recovery codes right away, as the sign-in enrollment does.
    const methods = await deps.credentials.methodsOf(who.user.id);
    if (methods.recoveryCodes === 0) return showNewCodes(request, reply, who);
    return done(reply, 'totp-added');
  });

  /** Refuses to remove the last 2SV method when the organization requires 2SV. */
  async function wouldLeaveNone(who: Who, removing: 'totp' | 'passkey') {
    if (!who.require2sv) return false;
    const m = await deps.credentials.methodsOf(who.user.id);
    const left =
      (removing === 'totp' ? 0 : Number(m.totp)) + (removing === 'passkey' ? m.passkeys - 1 : m.passkeys);
    return left <= 0;
  }

  action('/account/totp/remove', async (request, reply, who) => {
    if (await wouldLeaveNone(who, 'totp'))
      return render(request, reply, who, { error: messages.accountLastMethod, status: 409 });
    await deps.credentials.removeType(who.user.id, 'totp');
    await audit(request, who, 'remove_2sv', 'success', { method: 'totp' });
    return done(reply, 'totp-removed');
  });

  // ---- passkeys ----

  app.post('/account/passkeys/options', async (request, reply) => {
    const who = await signedIn(request, reply);
    if (!who?.local) return reply.code(401).send({ error: 'not_signed_in' });
    if (!deps.csrf.verify(request)) return reply.code(403).send({ error: 'csrf' });
    if (!who.fresh)
      return reply.code(401).send({ error: 'sign_in_again', href: '/account/sign-in?confirm=1' });
    const existing = await deps.credentials.passkeys(who.user.id);
    const options = await registrationOptions({
      rpId: rp.rpId,
      rpName: messages.productName,
      user: { id: who.user.id, email: who.user.email ?? who.user.id, name: who.user.name },
      excludeCredentials: existing.map((p) => ({ credentialId: p.credentialId })),
    });
    const state = seal(deps.secretBox, `account-passkey:${who.user.id}`, options.challenge, PENDING_TTL_MS);
    return reply.header('cache-control', 'no-store').send({ options, state });
  });

  action<{ response?: string; state?: string }>('/account/passkeys', async (request, reply, who) => {
    const challenge = unseal<string>(deps.secretBox, `account-passkey:${who.user.id}`, request.body?.state);
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
      // Where it was added from, shown on the account page: a passkey added from a borrowed browser
      // is a standing way in, and its owner should be able to recognise it.
      const addedFrom = { ip: request.ip, device: summarizeUserAgent(request.headers['user-agent']) };
      await deps.credentials.addPasskey(who.user.id, credentialId, {
        ...(data as unknown as Record<string, unknown>),
        addedFrom,
      });
    } catch (error) {
      await audit(request, who, 'enroll_2sv', 'failure', {
        method: 'passkey',
        reason: error instanceof Error ? error.message : 'invalid',
      });
      return render(request, reply, who, { error: messages.accountPasskeyFailed, status: 400 });
    }
    await audit(request, who, 'enroll_2sv', 'success', { method: 'passkey' });
    const methods = await deps.credentials.methodsOf(who.user.id);
    if (methods.recoveryCodes === 0) return showNewCodes(request, reply, who);
    return done(reply, 'passkey-added');
  });

  action<unknown>('/account/passkeys/:id/remove', async (request, reply, who) => {
    if (await wouldLeaveNone(who, 'passkey'))
      return render(request, reply, who, { error: messages.accountLastMethod, status: 409 });
    const removed = await deps.credentials.removePasskey(who.user.id, String(request.params.id));
    if (removed) await audit(request, who, 'remove_2sv', 'success', { method: 'passkey' });
    return done(reply, 'passkey-removed');
  });

  // ---- recovery codes ----

  async function showNewCodes(request: FastifyRequest, reply: FastifyReply, who: Who) {
    const codes = await createRecoveryCodes(deps, who.user.id);
    await audit(request, who, 'recovery_codes_created', 'success', { count: codes.length });
    return sendPage(
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
      if (request.params.kind === 'session') await deps.sessions.endBrowserSession(who.user.id, id);
      // A grant and everything issued under it (refresh and access tokens): the app must sign in again.
      else await deps.sessions.endGrant(who.user.id, id);
      await audit(request, who, 'session_end', 'success', { kind: request.params.kind });
      return done(reply, 'session-ended');
    },
    { localOnly: false, stepUp: false },
  );

  action(
    '/account/sessions/end-all',
    async (request, reply, who) => {
      const count = await deps.sessions.revokeAll(who.user.id, 'signed_out_everywhere');
      // "Also remove what was added lately": a thief who had the session may have added their own.
      const removeRecent = (request.body as { remove_recent?: unknown } | undefined)?.remove_recent === 'on';
      const removed = removeRecent
        ? await deps.credentials.removeAddedSince(who.user.id, Date.now() - RECENT_CREDENTIALS_MS)
        : 0;
      await audit(request, who, 'session_end_all', 'success', {
        records: count,
        removedCredentials: removed,
      });
      return sendPage(
        reply,
        messagePage({
          brand: deps.brand,
          title: messages.signedOutTitle,
          message: messages.accountSignedOutEverywhere,
        }),
      );
    },
    { localOnly: false, stepUp: false },
  );
}
