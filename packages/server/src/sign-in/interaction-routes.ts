import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { InteractionResults } from 'oidc-provider';
import { accountKey, addressKey } from '../domain/throttle/throttle.js';
import { messages } from '../pages/messages.js';
import type { LoginServices, OrganizationView, SignInState } from './services.js';
import { format } from '../pages/index.js';
import { emailPage, handoffPage, messagePage, passwordPage } from '../pages/sign-in-pages.js';

export type Details = Awaited<ReturnType<ReturnType<LoginServices['provider']>['interactionDetails']>>;

export type StepRenderer = (
  request: FastifyRequest,
  reply: FastifyReply,
  d: Details,
  state: SignInState,
  error?: string,
  status?: number,
) => Promise<FastifyReply>;

export type AfterFirstFactor = (
  request: FastifyRequest,
  reply: FastifyReply,
  d: Details,
  state: SignInState,
  userId: string,
) => Promise<FastifyReply>;

/**
 * What other sign-in modules (2-step verification, upstream IdPs) build on: they register the pages
 * of their steps and may take over what happens after the first factor.
 */
export interface SignInFlow {
  base(uid: string): string;
  html(reply: FastifyReply, body: string, status?: number): FastifyReply;
  csrfFailure(reply: FastifyReply): FastifyReply;
  appName(clientId: string): Promise<{ name: string }>;
  context(
    request: FastifyRequest,
    extra?: Record<string, unknown>,
  ): { ip: string; userAgent: string | undefined };
  /** Ends authentication: the engine records the login and comes back with the handoff page. */
  finishLogin: AfterFirstFactor;
  showStep: StepRenderer;
  /** Renderers for steps beyond email and password, by `SignInState.step`. */
  steps: Map<string, StepRenderer>;
  /**
   * Runs after a correct password; the default records the throttle success and finishes the login.
   * 2-step verification replaces it (and then records the success only after the second step, so a
   * known password does not reset the counter that limits guessing the second factor).
   */
  afterFirstFactor: AfterFirstFactor;
  /** When set, the email page offers "Sign in with a passkey" posting to this interaction path. */
  emailPasskeyAction?: ((uid: string) => string) | undefined;
}

interface Params {
  uid: string;
}

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,253}\.[^\s@]{2,}$/;

/** Lower-cased, trimmed; the domain decides the organization (home-realm discovery). */
export function normalizeEmail(input: string): string | undefined {
  const email = input.trim().toLowerCase();
  if (email.length > 320 || !EMAIL.test(email)) return undefined;
  return email;
}

export function emailDomain(email: string): string {
  return email.slice(email.lastIndexOf('@') + 1);
}

type EngineGrant = InstanceType<ReturnType<LoginServices['provider']>['Grant']>;

/** Copies what one grant allows (OpenID scopes and claims, API scopes) onto another. */
function copyGrant(from: EngineGrant, to: EngineGrant): void {
  const scope = from.getOIDCScope();
  if (scope) to.addOIDCScope(scope);
  const claims = from.getOIDCClaims();
  if (claims.length > 0) to.addOIDCClaims(claims);
  for (const [indicator, resourceScope] of Object.entries(from.resources ?? {})) {
    if (resourceScope) to.addResourceScope(indicator, resourceScope);
  }
}

/**
 * The sign-in pages of an interaction (`/interaction/:uid/...`), as a small pipeline:
 *   show → email → (organization's connection) → password → [2-step verification] → login result
 *   → the engine comes back with a consent prompt → handoff page → click → code.
 * Every step reads and writes `SignInState`, so any server process can serve any step.
 */
export function registerInteractionRoutes(app: FastifyInstance, services: LoginServices): SignInFlow {
  const steps = new Map<string, StepRenderer>();
  const base = (uid: string) => `/interaction/${encodeURIComponent(uid)}`;

  function html(reply: FastifyReply, body: string, status = 200) {
    return reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);
  }

  async function appName(clientId: string): Promise<{
    name: string;
    client: Awaited<ReturnType<ReturnType<LoginServices['provider']>['Client']['find']>>;
  }> {
    const client = await services.provider().Client.find(clientId);
    return { name: client?.clientName ?? clientId, client };
  }

  function context(request: FastifyRequest, extra: Record<string, unknown> = {}) {
    return { ip: request.ip, userAgent: request.headers['user-agent'], ...extra };
  }

  async function finishLogin(
    request: FastifyRequest,
    reply: FastifyReply,
    d: Details,
    state: SignInState,
    userId: string,
  ) {
    const amr = state.amr ?? ['pwd'];
    const mfa = amr.length > 1 || amr.some((m) => m === 'hwk' || m === 'swk');
    const acr = amr.includes('fed')
      ? 'urn:latchkey:acr:federated'
      : mfa
        ? 'urn:latchkey:acr:mfa'
        : 'urn:latchkey:acr:pwd';
    const result: InteractionResults = {
      login: {
        accountId: userId,
        amr: mfa && !amr.includes('mfa') ? [...amr, 'mfa'] : amr,
        acr,
        remember: true,
      },
      // The engine starts a new interaction (new uid) for the handoff page and hands it this result
      // as `lastSubmission`; the sign-in state of this uid is gone by then.
      ...(state.notice ? { latchkey: { notice: state.notice } } : {}),
    };
    await services.users.touchSignIn(userId);
    await services.states.delete(d.uid);
    await services.audit({
      action: 'sign_in',
      outcome: 'success',
      userId,
      organizationId: state.organizationId,
      clientId: String(d.params.client_id),
      ...context(request, { details: { amr } }),
    });
    const to = await services
      .provider()
      .interactionResult(request.raw, reply.raw, result, { mergeWithLastSubmission: false });
    return reply.redirect(to, 303);
  }

  /** Email → organization → the organization's way of signing in. */
  async function routeEmail(
    request: FastifyRequest,
    reply: FastifyReply,
    d: Details,
    state: SignInState,
    rawEmail: string,
  ) {
    const { name } = await appName(String(d.params.client_id));
    const csrf = services.csrf.token(request, reply);
    const email = normalizeEmail(rawEmail);
    if (!email) {
      return html(
        reply,
        emailPage({
          action: `${base(d.uid)}/email`,
          csrf,
          appName: name,
          email: rawEmail,
          error: messages.emailInvalid,
        }),
        400,
      );
    }
    const domain = emailDomain(email);
    const org =
      (await services.organizations.forDomain(domain)) ??
      (services.config.defaultOrganization
        ? await services.organizations.byId(services.config.defaultOrganization)
        : undefined);
    if (!org) {
      await services.audit({
        action: 'route_email',
        outcome: 'failure',
        ...context(request, { details: { domain, reason: 'unknown_domain' } }),
      });
      return html(
        reply,
        messagePage({
          title: messages.noOrganizationTitle,
          message: format(messages.noOrganization, { domain }),
          links: [{ href: `${base(d.uid)}/switch`, label: messages.useAnotherEmail }],
        }),
        404,
      );
    }
    if (!clientAllowed(org, String(d.params.client_id))) {
      return html(
        reply,
        messagePage({
          title: messages.errorTitle,
          message: format(messages.clientNotAllowed, { app: name }),
        }),
        403,
      );
    }
    const user = await services.users.byEmail(email);
    const next: SignInState = {
      ...state,
      email,
      organizationId: org.id,
      ...(user && user.organizationId === org.id ? { userId: user.id } : { userId: undefined }),
      step: org.connection.type === 'local' ? 'password' : 'upstream',
      amr: [],
    };
    await services.states.put(d.uid, next);
    if (org.connection.type !== 'local') {
      return reply.redirect(`${base(d.uid)}/upstream`, 303);
    }
    return showStep(request, reply, d, next);
  }

  function clientAllowed(org: OrganizationView, clientId: string): boolean {
    return org.policy.allowedClients.length === 0 || org.policy.allowedClients.includes(clientId);
  }

  async function showStep(
    request: FastifyRequest,
    reply: FastifyReply,
    d: Details,
    state: SignInState,
    error?: string,
    status = 200,
  ) {
    const custom = state.step ? steps.get(state.step) : undefined;
    if (custom) return custom(request, reply, d, state, error, status);
    const csrf = services.csrf.token(request, reply);
    const { name } = await appName(String(d.params.client_id));
    if (state.step === 'password' && state.email) {
      return html(
        reply,
        passwordPage({
          action: `${base(d.uid)}/password`,
          csrf,
          email: state.email,
          switchUrl: `${base(d.uid)}/switch`,
          error,
        }),
        status,
      );
    }
    const loginHint = typeof d.params.login_hint === 'string' ? d.params.login_hint : undefined;
    return html(
      reply,
      emailPage({
        action: `${base(d.uid)}/email`,
        csrf,
        appName: name,
        email: state.email ?? loginHint,
        error,
        passkeyAction: flow.emailPasskeyAction?.(d.uid),
      }),
      status,
    );
  }

  function handoffMode(
    redirectUri: string | undefined,
    isDevice: boolean,
  ): 'scheme' | 'loopback' | 'device' | 'web' {
    if (isDevice) return 'device';
    if (!redirectUri) return 'web';
    try {
      const url = new URL(redirectUri);
      if (url.protocol === 'http:' && (url.hostname === '127.0.0.1' || url.hostname === '[::1]'))
        return 'loopback';
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'scheme';
    } catch {
      // fall through
    }
    return 'web';
  }

  /** Replays the original authorization request: a new interaction and, after the click, a new code. */
  function retryUrl(d: Details): string {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(d.params)) {
      if (typeof value === 'string') query.set(key, value);
    }
    return `/auth?${query.toString()}`;
  }

  async function showHandoff(
    request: FastifyRequest,
    reply: FastifyReply,
    d: Details,
    accountId: string,
    notice?: string,
  ) {
    const user = await services.users.byId(accountId);
    if (user?.status !== 'active') {
      return html(
        reply,
        messagePage({ title: messages.errorTitle, message: messages.errorAccountDisabled }),
        403,
      );
    }
    const { name, client } = await appName(String(d.params.client_id));
    const isDevice = Boolean((d as { deviceCode?: unknown }).deviceCode);
    const redirectUri = typeof d.params.redirect_uri === 'string' ? d.params.redirect_uri : undefined;
    const csrf = services.csrf.token(request, reply);
    const downloadUrl = (client?.metadata() as { download_url?: string } | undefined)?.download_url;
    return html(
      reply,
      handoffPage({
        action: `${base(d.uid)}/confirm`,
        csrf,
        appName: name,
        email: user.email ?? user.id,
        mode: handoffMode(redirectUri, isDevice),
        switchUrl: `${base(d.uid)}/switch`,
        retryUrl: retryUrl(d),
        downloadUrl,
        abortUrl: `${base(d.uid)}/abort`,
        notice,
      }),
    );
  }

  // ---- routes ----

  app.get<{ Params: Params }>('/interaction/:uid', async (request, reply) => {
    const d = await services.provider().interactionDetails(request.raw, reply.raw);
    const state = (await services.states.get(d.uid)) ?? {};
    const sessionAccount = d.session?.accountId;
    const loginHint =
      typeof d.params.login_hint === 'string' ? normalizeEmail(d.params.login_hint) : undefined;

    if (d.prompt.name === 'consent' && sessionAccount && !state.switching) {
      const user = await services.users.byId(sessionAccount);
      // A login_hint naming someone else than the session's user never signs in silently as the
      // session's user: sign the hinted person in instead.
      if (loginHint && user?.email && user.email !== loginHint) {
        const switching: SignInState = { switching: true };
        return routeEmail(request, reply, d, switching, loginHint);
      }
      const carried = (d.lastSubmission as { latchkey?: { notice?: unknown } } | undefined)?.latchkey?.notice;
      const notice = state.notice ?? (typeof carried === 'string' ? carried : undefined);
      if (state.notice) await services.states.put(d.uid, { ...state, notice: undefined });
      return showHandoff(request, reply, d, sessionAccount, notice);
    }

    if (state.step === 'upstream') return reply.redirect(`${base(d.uid)}/upstream`, 303);
    if (state.step) return showStep(request, reply, d, state);
    if (loginHint) return routeEmail(request, reply, d, state, loginHint);
    return showStep(request, reply, d, state);
  });

  app.post<{ Params: Params; Body: { email?: string } }>(
    '/interaction/:uid/email',
    async (request, reply) => {
      const d = await services.provider().interactionDetails(request.raw, reply.raw);
      if (!services.csrf.verify(request)) return csrfFailure(reply);
      const state = (await services.states.get(d.uid)) ?? {};
      return routeEmail(request, reply, d, { switching: state.switching }, String(request.body?.email ?? ''));
    },
  );

  app.post<{ Params: Params; Body: { password?: string } }>(
    '/interaction/:uid/password',
    async (request, reply) => {
      const d = await services.provider().interactionDetails(request.raw, reply.raw);
      if (!services.csrf.verify(request)) return csrfFailure(reply);
      const state = (await services.states.get(d.uid)) ?? {};
      if (state.step !== 'password' || !state.email) return showStep(request, reply, d, {});
      const password = String(request.body?.password ?? '');
      // Throttled before the hash is computed; an unknown email is counted under the email itself,
      // so it walks exactly the path (and timing) of a real account.
      const keys = { account: accountKey(state.userId ?? state.email), address: addressKey(request.ip) };
      const decision = services.throttle ? await services.throttle.attempt(keys) : { allowed: true as const };
      const auditFailure = (details: Record<string, unknown>) =>
        services.audit({
          action: 'password',
          outcome: 'failure',
          userId: state.userId,
          organizationId: state.organizationId,
          clientId: String(d.params.client_id),
          ...context(request, { details }),
        });
      if (!decision.allowed) {
        await auditFailure({
          reason: 'throttled',
          limitedBy: decision.limitedBy,
          retryAfterMs: decision.retryAfterMs,
        });
        const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
        return showStep(
          request,
          reply,
          d,
          state,
          messages.throttled.replace('{seconds}', String(seconds)),
          429,
        );
      }
      const ok = await services.passwords.verify(state.userId, password);
      const user = ok && state.userId ? await services.users.byId(state.userId) : undefined;
      if (!ok || !user || user.status !== 'active') {
        await auditFailure({ reason: user && user.status !== 'active' ? 'disabled' : 'wrong_password' });
        return showStep(request, reply, d, state, messages.passwordWrong, 401);
      }
      await services.audit({
        action: 'password',
        outcome: 'success',
        userId: user.id,
        organizationId: state.organizationId,
        clientId: String(d.params.client_id),
        ...context(request),
      });
      const next: SignInState = { ...state, amr: ['pwd'] };
      return flow.afterFirstFactor(request, reply, d, next, user.id);
    },
  );

  /** "Not you?": forget the typed email (and, on the handoff page, the session's user). */
  app.get<{ Params: Params }>('/interaction/:uid/switch', async (request, reply) => {
    const d = await services.provider().interactionDetails(request.raw, reply.raw);
    const state: SignInState = { switching: true };
    await services.states.put(d.uid, state);
    const csrf = services.csrf.token(request, reply);
    const { name } = await appName(String(d.params.client_id));
    return html(
      reply,
      emailPage({
        action: `${base(d.uid)}/email`,
        csrf,
        appName: name,
        passkeyAction: flow.emailPasskeyAction?.(d.uid),
      }),
    );
  });

  /** The handoff click: grants what the app asked for and lets the engine mint the code. */
  app.post<{ Params: Params }>('/interaction/:uid/confirm', async (request, reply) => {
    const d = await services.provider().interactionDetails(request.raw, reply.raw);
    if (!services.csrf.verify(request)) return csrfFailure(reply);
    const accountId = d.session?.accountId;
    if (d.prompt.name !== 'consent' || !accountId) return reply.redirect(base(d.uid), 303);
    const provider = services.provider();
    const clientId = String(d.params.client_id);
    // Every authorization gets a grant of its own, even when the browser session already holds one
    // for this app: each install (a laptop, a second OS account, a device-flow kiosk) then owns its
    // refresh token family, and one install signing out (RFC 7009 revokes the whole grant) leaves
    // the others signed in. What the session's earlier grant allowed is carried over.
    const grant = new provider.Grant({ accountId, clientId });
    const earlier = d.grantId ? await provider.Grant.find(d.grantId) : undefined;
    if (earlier && earlier.accountId === accountId) copyGrant(earlier, grant);
    const missing = d.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    await services.audit({
      action: 'handoff',
      outcome: 'success',
      userId: accountId,
      clientId,
      ...context(request),
    });
    const to = await provider.interactionResult(
      request.raw,
      reply.raw,
      { consent: { grantId } },
      { mergeWithLastSubmission: true },
    );
    return reply.redirect(to, 303);
  });

  app.get<{ Params: Params }>('/interaction/:uid/abort', async (request, reply) => {
    await services.provider().interactionDetails(request.raw, reply.raw);
    const to = await services
      .provider()
      .interactionResult(
        request.raw,
        reply.raw,
        { error: 'access_denied', error_description: 'End-User aborted interaction' },
        { mergeWithLastSubmission: false },
      );
    return reply.redirect(to, 303);
  });

  function csrfFailure(reply: FastifyReply) {
    return html(reply, messagePage({ title: messages.errorTitle, message: messages.errorCsrf }), 403);
  }

  const flow: SignInFlow = {
    base,
    html,
    csrfFailure,
    appName,
    context: (request, extra) => context(request, extra) as { ip: string; userAgent: string | undefined },
    finishLogin,
    showStep,
    steps,
    afterFirstFactor: async (request, reply, d, state, userId) => {
      await services.throttle?.recordSuccess({
        account: accountKey(userId),
        address: addressKey(request.ip),
      });
      return finishLogin(request, reply, d, state, userId);
    },
  };
  return flow;
}
