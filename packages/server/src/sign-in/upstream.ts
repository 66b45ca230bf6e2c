import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { UpstreamError, type VerifiedIdentity } from '../federation/connectors/types.js';
import type { ExtensionDeps, PagePlugin, SignInExtension } from './extensions.js';
import type { Details, SignInFlow } from './interaction-routes.js';
import { emailDomain } from './interaction-routes.js';
import { messages } from '../pages/messages.js';
import type { LoginServices, SignInState } from './services.js';
import { format } from '../pages/index.js';
import { messagePage } from '../pages/sign-in-pages.js';
import { type ConnectorSource, createConnectorSource, upstreamUrls } from '../federation/connector-source.js';
import { type LinkRefusal, linkIdentity } from '../federation/link.js';

interface Params {
  uid: string;
}

/** How long the browser may spend at the upstream before the round trip is refused. */
const ROUND_TRIP_MS = 10 * 60_000;
/** Bound on building the upstream request (discovery, metadata): the person is waiting. */
const START_TIMEOUT_MS = 12_000;
/** RFC 8176 values an upstream may report that Latchkey passes on next to `fed`. */
const UPSTREAM_AMR = new Set(['pwd', 'otp', 'mfa', 'hwk', 'swk', 'sms', 'face', 'fpt', 'pin', 'rsa']);

/** What the callback leaves for `/interaction/<uid>/upstream/complete`, sealed in the sign-in state. */
interface SealedResult {
  connectionId: string;
  identity: VerifiedIdentity;
}

interface Shared {
  services: LoginServices;
  connectors: ConnectorSource;
}

const sharedByDeps = new WeakMap<ExtensionDeps, Shared>();

/** One connector source per server, shared by the interaction routes and the fixed-path callbacks. */
function shared(deps: ExtensionDeps): Shared {
  let value = sharedByDeps.get(deps);
  if (!value) {
    value = {
      services: deps.backend.loginServices({ provider: deps.provider, csrf: deps.csrf }),
      connectors: createConnectorSource({ issuer: deps.config.issuer, repos: deps.backend.repos }),
    };
    sharedByDeps.set(deps, value);
  }
  return value;
}

const base = (uid: string) => `/interaction/${encodeURIComponent(uid)}`;
/** "Start again" shows the interaction's email page (the engine's interaction is still open). */
const startAgainUrl = (uid: string) => `${base(uid)}/switch`;

function page(
  reply: FastifyReply,
  status: number,
  message: string | ReturnType<typeof format>,
  uid?: string,
) {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .send(
      messagePage({
        title: messages.upstreamTitle,
        message,
        links: uid ? [{ href: startAgainUrl(uid), label: messages.upstreamStartAgain }] : [],
      }),
    );
}

function statusOf(error: UpstreamError): number {
  if (error.code === 'upstream_unreachable' || error.code === 'upstream_timeout') return 502;
  if (error.code === 'access_denied') return 403;
  return 400;
}

/** Anything a connector throws becomes an UpstreamError with a message safe to show. */
function asUpstreamError(error: unknown): UpstreamError {
  if (error instanceof UpstreamError) return error;
  return new UpstreamError('invalid_response', messages.upstreamNotConfigured, { cause: error });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new UpstreamError(
            'upstream_timeout',
            'The identity provider did not answer in time. Please retry.',
          ),
        ),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The cause chain's names and codes, for audit: never the upstream's own text. */
function causeSummary(error: unknown): string | undefined {
  const cause = (error as { cause?: unknown }).cause;
  if (!cause) return undefined;
  const name = (cause as { name?: unknown }).name;
  const code = (cause as { code?: unknown }).code;
  const message = (cause as { message?: unknown }).message;
  return [name, code, typeof message === 'string' ? message.slice(0, 200) : undefined]
    .filter((v) => typeof v === 'string' && v)
    .join(': ');
}

const REFUSAL_MESSAGES: Record<LinkRefusal, string> = {
  not_provisioned: messages.upstreamNotProvisioned,
  account_disabled: messages.upstreamAccountDisabled,
  wrong_organization: messages.upstreamWrongOrganization,
  email_taken: messages.upstreamEmailTaken,
  wrong_connection: messages.upstreamConnectionChanged,
};

/**
 * Sign-in through the organization's upstream IdP, in three steps across two URLs:
 *
 *   GET /interaction/:uid/upstream           → a round trip row keyed by a fresh `state` → 303 upstream
 *   GET /upstream/callback | POST /saml/:c/acs → consume the row once → connector verifies → seal the
 *                                                identity in the sign-in state → 303 back
 *   GET /interaction/:uid/upstream/complete   → link or create the user → finishLogin (amr fed)
 *
 * The callbacks sit at fixed paths (what the IdP has registered) where neither the interaction
 * cookie (path-scoped) nor, for SAML's cross-site POST, any SameSite=Lax cookie arrives: they find
 * the sign-in through the database alone, so any server process can serve any step (FACTS.md).
 */
export function upstreamExtension(deps: ExtensionDeps): SignInExtension {
  const { backend, config } = deps;
  const { services, connectors } = shared(deps);
  const repos = backend.repos;

  return (app: FastifyInstance, flow: SignInFlow) => {
    async function details(request: FastifyRequest, reply: FastifyReply): Promise<Details> {
      return deps.provider().interactionDetails(request.raw, reply.raw);
    }

    async function refuse(
      request: FastifyRequest,
      reply: FastifyReply,
      d: Details,
      state: SignInState,
      outcome: { code: string; message: string | ReturnType<typeof format>; status: number; cause?: unknown },
      userId?: string,
    ) {
      await services.audit({
        action: 'upstream_sign_in',
        outcome: 'failure',
        userId,
        organizationId: state.organizationId,
        clientId: String(d.params.client_id),
        ...flow.context(request, {
          details: { reason: outcome.code, ...(outcome.cause ? { cause: causeSummary(outcome.cause) } : {}) },
        }),
      });
      // The step is over: "Start again" returns to the email page, not to this step.
      await services.states.put(d.uid, { switching: state.switching });
      return page(reply, outcome.status, outcome.message, d.uid);
    }

    app.get<{ Params: Params }>('/interaction/:uid/upstream', async (request, reply) => {
      const d = await details(request, reply);
      const state = (await services.states.get(d.uid)) ?? {};
      if (state.step !== 'upstream' || !state.email || !state.organizationId) {
        return reply.redirect(flow.base(d.uid), 303);
      }
      const org = (await repos.organizations.listWithDetails({ id: state.organizationId }))[0];
      try {
        const connector = org ? await connectors.forOrganization(org) : undefined;
        if (!org?.connection || !connector) return reply.redirect(flow.base(d.uid), 303);
        const stateToken = randomBytes(32).toString('base64url');
        const callbackUrl =
          connector.type === 'saml'
            ? upstreamUrls(config.issuer, connector.id).samlAcs
            : upstreamUrls(config.issuer).oidcCallback;
        const started = await withTimeout(
          connector.startSignIn({
            callbackUrl,
            state: stateToken,
            loginHint: state.email,
            domain: emailDomain(state.email),
          }),
          START_TIMEOUT_MS,
        );
        await repos.upstreamRequests.create({
          id: stateToken,
          connectionId: connector.id,
          interactionUid: d.uid,
          data: { organizationId: org.id, pending: started.pending },
          expiresAt: Date.now() + ROUND_TRIP_MS,
        });
        await services.audit({
          action: 'upstream_redirect',
          outcome: 'info',
          userId: state.userId,
          organizationId: org.id,
          clientId: String(d.params.client_id),
          ...flow.context(request, { details: { connection: connector.id, type: connector.type } }),
        });
        return reply.redirect(started.url, 303);
      } catch (error) {
        const upstream = asUpstreamError(error);
        request.log.warn({ err: { name: upstream.name, code: upstream.code } }, 'upstream start failed');
        return refuse(request, reply, d, state, {
          code: upstream.code,
          message: upstream.publicMessage,
          status: statusOf(upstream),
          cause: upstream.cause ?? error,
        });
      }
    });

    app.get<{ Params: Params }>('/interaction/:uid/upstream/complete', async (request, reply) => {
      const d = await details(request, reply);
      const state = (await services.states.get(d.uid)) ?? {};
      const sealed = state.data?.upstreamResult;
      if (state.step !== 'upstream' || typeof sealed !== 'string' || !state.organizationId) {
        return reply.redirect(flow.base(d.uid), 303);
      }
      // One use: the sealed identity leaves the state before anything else happens.
      await services.states.put(d.uid, { ...state, data: {} });
      const result = JSON.parse(backend.secretBox.decrypt(sealed, resultAd(d.uid))) as SealedResult;
      const org = (await repos.organizations.listWithDetails({ id: state.organizationId }))[0];
      const policy = (await services.organizations.byId(state.organizationId))?.policy;
      if (!org?.connection || !policy) {
        return refuse(request, reply, d, state, {
          code: 'wrong_connection',
          message: messages.upstreamConnectionChanged,
          status: 409,
        });
      }
      const linked = await linkIdentity(repos, {
        identity: result.identity,
        organization: { id: org.id, domains: org.domains, policy, connectionId: org.connection.id },
      });
      if (!linked.ok) {
        return refuse(
          request,
          reply,
          d,
          state,
          {
            code: linked.reason,
            message: format(REFUSAL_MESSAGES[linked.reason], { org: org.name }),
            status: linked.reason === 'not_provisioned' || linked.reason === 'account_disabled' ? 403 : 409,
          },
          linked.userId,
        );
      }
      await services.audit({
        action: 'upstream_sign_in',
        outcome: 'success',
        userId: linked.userId,
        organizationId: org.id,
        clientId: String(d.params.client_id),
        ...flow.context(request, {
          details: {
            connection: org.connection.id,
            created: linked.created,
            linked: linked.linked,
          },
        }),
      });
      const upstreamAmr = Array.isArray(result.identity.raw.amr)
        ? result.identity.raw.amr.filter((m): m is string => typeof m === 'string' && UPSTREAM_AMR.has(m))
        : [];
      return flow.finishLogin(
        request,
        reply,
        d,
        { ...state, amr: ['fed', ...new Set(upstreamAmr)] },
        linked.userId,
      );
    });
  };
}

const resultAd = (uid: string) => `upstream-result:${uid}`;

/**
 * The fixed-path endpoints the upstream IdPs know: the OIDC redirect URI, each SAML connection's
 * Assertion Consumer Service and its SP metadata.
 */
export function upstreamPages(deps: ExtensionDeps): PagePlugin {
  const { backend, config } = deps;
  const { services, connectors } = shared(deps);
  const repos = backend.repos;

  return (app: FastifyInstance) => {
    async function fail(
      request: FastifyRequest,
      reply: FastifyReply,
      error: UpstreamError,
      found?: { uid: string; organizationId?: string | undefined },
    ) {
      await services.audit({
        action: 'upstream_sign_in',
        outcome: 'failure',
        organizationId: found?.organizationId,
        ip: request.ip,
        userAgent: request.headers['user-agent'],
        details: { reason: error.code, interaction: found?.uid, cause: causeSummary(error) },
      });
      if (found) await services.states.put(found.uid, {});
      const message = found ? error.publicMessage : messages.upstreamUnknownResponse;
      return page(reply, statusOf(error), message, found?.uid);
    }

    /** Consumes the round trip once, lets the connector verify the response, then bounces back. */
    async function finish(
      request: FastifyRequest,
      reply: FastifyReply,
      input: { state: string | undefined; connectionId?: string; body?: Record<string, string> },
    ) {
      const row = input.state ? await repos.upstreamRequests.consume(input.state) : undefined;
      if (!row) {
        return fail(request, reply, new UpstreamError('state_mismatch', messages.upstreamUnknownResponse));
      }
      const organizationId =
        typeof row.data.organizationId === 'string' ? row.data.organizationId : undefined;
      const found = { uid: row.interactionUid, organizationId };
      if (input.connectionId !== undefined && input.connectionId !== row.connectionId) {
        return fail(
          request,
          reply,
          new UpstreamError('state_mismatch', messages.upstreamUnknownResponse),
          found,
        );
      }
      const org = organizationId
        ? (await repos.organizations.listWithDetails({ id: organizationId }))[0]
        : undefined;
      let identity: VerifiedIdentity;
      try {
        const connector = org ? await connectors.forOrganization(org) : undefined;
        if (!connector || connector.id !== row.connectionId) {
          throw new UpstreamError('state_mismatch', messages.upstreamConnectionChanged);
        }
        const callbackUrl =
          connector.type === 'saml'
            ? upstreamUrls(config.issuer, connector.id).samlAcs
            : upstreamUrls(config.issuer).oidcCallback;
        identity = await connector.finishSignIn({
          callbackUrl,
          currentUrl: new URL(request.url, config.issuer),
          body: input.body,
          pending: (row.data.pending ?? {}) as Record<string, unknown>,
        });
      } catch (error) {
        const upstream = asUpstreamError(error);
        request.log.info({ err: { name: upstream.name, code: upstream.code } }, 'upstream response refused');
        return fail(request, reply, upstream, found);
      }
      const state = (await services.states.get(row.interactionUid)) ?? {};
      if (state.step !== 'upstream' || state.organizationId !== organizationId) {
        // The sign-in moved on (another email, another tab) while the person was upstream.
        return fail(
          request,
          reply,
          new UpstreamError('state_mismatch', messages.upstreamConnectionChanged),
          found,
        );
      }
      // Sealed: the identity may carry an upstream refresh token, and sign-in states are plain JSON.
      const result: SealedResult = { connectionId: row.connectionId, identity };
      const sealed = backend.secretBox.encrypt(JSON.stringify(result), resultAd(row.interactionUid));
      await services.states.put(row.interactionUid, { ...state, data: { upstreamResult: sealed } });
      // The interaction cookie is scoped to /interaction/<uid>: continue there (FACTS.md).
      return reply.redirect(`${base(row.interactionUid)}/upstream/complete`, 303);
    }

    app.get<{ Querystring: { state?: string } }>('/upstream/callback', async (request, reply) =>
      finish(request, reply, {
        state: typeof request.query.state === 'string' ? request.query.state : undefined,
      }),
    );

    app.post<{ Params: { connection: string }; Body: Record<string, unknown> }>(
      '/saml/:connection/acs',
      // A signed response with a few certificates and groups can exceed the default 64 KiB.
      { bodyLimit: 512 * 1024 },
      async (request, reply) => {
        const body: Record<string, string> = {};
        for (const [key, value] of Object.entries(request.body ?? {})) {
          if (typeof value === 'string') body[key] = value;
        }
        return finish(request, reply, {
          state: body.RelayState,
          connectionId: request.params.connection,
          body,
        });
      },
    );

    app.get<{ Params: { connection: string } }>('/saml/:connection/metadata', async (request, reply) => {
      const orgs = await repos.organizations.listWithDetails();
      const org = orgs.find(
        (o) => o.connection?.id === request.params.connection && o.connection.type === 'saml',
      );
      const connector = org ? await connectors.forOrganization(org) : undefined;
      if (!connector || !('spMetadata' in connector)) {
        return reply.code(404).type('text/plain; charset=utf-8').send('No such SAML connection.');
      }
      return reply
        .type('application/samlmetadata+xml; charset=utf-8')
        .header('cache-control', 'public, max-age=300')
        .send((connector as { spMetadata(): string }).spMetadata());
    });
  };
}
