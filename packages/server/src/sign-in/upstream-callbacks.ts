import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SessionControl } from '../domain/sessions.js';
import { upstreamUrls } from '../federation/connector-source.js';
import type { SamlConnector } from '../federation/connectors/saml/index.js';
import { UpstreamError, type VerifiedIdentity } from '../federation/connectors/types.js';
import { messages } from '../pages/messages.js';
import { messagePage } from '../pages/sign-in-pages.js';
import type { Repositories } from '../storage/repositories.js';
import { sendPage } from '../web/reply.js';
import type { SignInDeps } from './deps.js';
import { interactionBase } from './flow.js';
import {
  asUpstreamError,
  causeSummary,
  claimDetails,
  providerDetails,
  RETURN_PATH,
  resultAd,
  type SealedResult,
  sameBrowser,
  statusOf,
} from './upstream-support.js';

export type UpstreamCallbackDeps = Pick<
  SignInDeps,
  | 'issuer'
  | 'audit'
  | 'states'
  | 'secretBox'
  | 'connectors'
  | 'upstreamRequests'
  | 'organizationDetails'
  | 'allOrganizationDetails'
>;

/**
 * The fixed-path endpoints the upstream IdPs know: the OIDC redirect URI, each SAML connection's
 * Assertion Consumer Service and its SP metadata. Neither the interaction cookie (scoped to the
 * interaction's path) nor, for SAML's cross-site POST, any SameSite=Lax cookie arrives here: the
 * sign-in is found through the database alone (the round trip's `state` / `RelayState`), so any
 * server process can serve any step; then the browser bounces back to the interaction's own URL.
 */
/** What IdP-initiated single logout needs: the identity a NameID names, and ending its browser sessions. */
export interface UpstreamLogoutDeps {
  identities: Pick<Repositories['users'], 'findIdentity'>;
  sessions: Pick<SessionControl, 'endBrowserSessions'>;
}

export function registerUpstreamCallbacks(
  app: FastifyInstance,
  deps: UpstreamCallbackDeps,
  logout?: UpstreamLogoutDeps,
): void {
  async function fail(
    request: FastifyRequest,
    reply: FastifyReply,
    error: UpstreamError,
    found?: { uid: string; organizationId?: string | undefined; connectionId?: string | undefined },
  ) {
    const provider = providerDetails(error);
    if (error.code === 'client_authentication_failed') {
      // The administrator's line: the connection is misconfigured, and this is what the IdP said.
      request.log.warn(
        { connection: found?.connectionId, organization: found?.organizationId, ...provider },
        'the identity provider refused Latchkey’s client authentication at its token endpoint',
      );
    }
    await deps.audit({
      action: 'upstream_sign_in',
      outcome: 'failure',
      organizationId: found?.organizationId,
      ip: request.ip,
      userAgent: request.headers['user-agent'],
      details: {
        reason: error.code,
        interaction: found?.uid,
        ...(found?.connectionId ? { connection: found.connectionId } : {}),
        ...claimDetails(error),
        ...provider,
        cause: causeSummary(error),
      },
    });
    if (found) await deps.states.put(found.uid, { step: 'email' });
    const message = found ? error.publicMessage : messages.upstreamUnknownResponse;
    return sendPage(
      reply,
      messagePage({
        title: messages.upstreamTitle,
        message,
        links: found
          ? [{ href: `${interactionBase(found.uid)}/switch`, label: messages.upstreamStartAgain }]
          : [],
      }),
      statusOf(error),
    );
  }

  /** Consumes the round trip once, lets the connector verify the response, then bounces back. */
  async function finish(
    request: FastifyRequest,
    reply: FastifyReply,
    input: { state: string | undefined; connectionId?: string; body?: Record<string, string> },
  ) {
    const row = input.state ? await deps.upstreamRequests.consume(input.state) : undefined;
    if (!row)
      return fail(request, reply, new UpstreamError('state_mismatch', messages.upstreamUnknownResponse));
    const organizationId = typeof row.data.organizationId === 'string' ? row.data.organizationId : undefined;
    const found = { uid: row.interactionUid, organizationId, connectionId: row.connectionId };
    if (input.connectionId !== undefined && input.connectionId !== row.connectionId) {
      return fail(
        request,
        reply,
        new UpstreamError('state_mismatch', messages.upstreamUnknownResponse),
        found,
      );
    }
    const org = organizationId ? await deps.organizationDetails(organizationId) : undefined;
    let identity: VerifiedIdentity;
    try {
      const connector = org ? await deps.connectors.forOrganization(org) : undefined;
      if (!connector || connector.id !== row.connectionId) {
        throw new UpstreamError('state_mismatch', messages.upstreamConnectionChanged);
      }
      const urls = upstreamUrls(deps.issuer, connector.id);
      identity = await connector.finishSignIn({
        callbackUrl: connector.type === 'saml' ? urls.samlAcs : urls.oidcCallback,
        currentUrl: new URL(request.url, deps.issuer),
        body: input.body,
        pending: (row.data.pending ?? {}) as Record<string, unknown>,
      });
    } catch (error) {
      const upstream = asUpstreamError(error);
      request.log.info({ err: { name: upstream.name, code: upstream.code } }, 'upstream response refused');
      return fail(request, reply, upstream, found);
    }
    const state = (await deps.states.get(row.interactionUid)) ?? {};
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
    const binding = typeof row.data.binding === 'string' ? row.data.binding : '';
    const result: SealedResult = {
      connectionId: row.connectionId,
      identity,
      binding,
      roundTrip: input.state as string,
    };
    const sealed = deps.secretBox.encrypt(JSON.stringify(result), resultAd(row.interactionUid));
    await deps.states.put(row.interactionUid, { ...state, data: { upstreamResult: sealed } });
    const query = new URLSearchParams({ interaction: row.interactionUid, rt: input.state as string });
    return reply.redirect(`${RETURN_PATH}?${query.toString()}`, 303);
  }

  /**
   * The return hop: a top-level GET in the browser the IdP sent back (after a redirect or the SAML
   * POST), where the binding cookie of the round trip arrives. Another browser's result is wiped
   * before anyone can use it.
   */
  app.get<{ Querystring: { interaction?: string; rt?: string } }>(RETURN_PATH, async (request, reply) => {
    const uid = typeof request.query.interaction === 'string' ? request.query.interaction : '';
    const roundTrip = typeof request.query.rt === 'string' ? request.query.rt : '';
    const state = uid ? await deps.states.get(uid) : undefined;
    const sealed = state?.data?.upstreamResult;
    let result: SealedResult | undefined;
    try {
      result =
        typeof sealed === 'string'
          ? (JSON.parse(deps.secretBox.decrypt(sealed, resultAd(uid))) as SealedResult)
          : undefined;
    } catch {
      result = undefined;
    }
    if (!state || !result || result.roundTrip !== roundTrip) {
      return fail(request, reply, new UpstreamError('state_mismatch', messages.upstreamUnknownResponse));
    }
    if (!result.binding || !sameBrowser(request, reply, roundTrip, result.binding)) {
      await deps.states.put(uid, { step: 'email' });
      await deps.audit({
        action: 'upstream_sign_in',
        outcome: 'failure',
        organizationId: state.organizationId,
        ip: request.ip,
        userAgent: request.headers['user-agent'],
        details: { reason: 'other_browser', interaction: uid, connection: result.connectionId },
      });
      return sendPage(
        reply,
        messagePage({ title: messages.upstreamTitle, message: messages.upstreamOtherBrowser }),
        403,
      );
    }
    await deps.states.put(uid, { ...state, data: { upstreamResult: sealed, browserChecked: true } });
    return reply.redirect(`${interactionBase(uid)}/upstream/complete`, 303);
  });

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

  /**
   * IdP-initiated single logout (SAML Profiles §4.4, HTTP-Redirect): a signed LogoutRequest naming a
   * NameID ends that person's Latchkey browser sessions, then the browser goes back to the IdP with a
   * LogoutResponse. Desktop apps keep their grants (their refresh re-validation and
   * `max_upstream_age` still apply).
   */
  app.get<{ Params: { connection: string }; Querystring: Record<string, string> }>(
    '/saml/:connection/slo',
    async (request, reply) => {
      const connectionId = request.params.connection;
      const orgs = await deps.allOrganizationDetails();
      const org = orgs.find((o) => o.connection?.id === connectionId && o.connection.type === 'saml');
      const connector = org
        ? ((await deps.connectors.forOrganization(org)) as SamlConnector | undefined)
        : undefined;
      const audit = (outcome: 'success' | 'failure', details: Record<string, unknown>, userId?: string) =>
        deps.audit({
          action: 'upstream_logout',
          outcome,
          userId,
          organizationId: org?.id,
          ip: request.ip,
          userAgent: request.headers['user-agent'],
          details: { connection: connectionId, ...details },
        });
      if (!logout || !connector || !('verifyLogoutRequest' in connector)) {
        return reply.code(404).type('text/plain; charset=utf-8').send('No such SAML connection.');
      }
      const query: Record<string, string> = {};
      for (const [key, value] of Object.entries(request.query ?? {}))
        if (typeof value === 'string') query[key] = value;
      if (query.SAMLResponse !== undefined) {
        // The IdP's answer to the LogoutRequest of an SP-initiated logout (sign-in/upstream-logout.ts):
        // the Latchkey session already ended; a refused answer means the IdP session may live on.
        try {
          await connector.verifyLogoutResponse({ query, rawQuery: request.url.split('?')[1] ?? '' });
        } catch (error) {
          const upstream = asUpstreamError(error);
          request.log.warn(
            { err: { name: upstream.name, code: upstream.code }, connection: connectionId },
            'SAML LogoutResponse refused',
          );
          await audit('failure', { initiator: 'sp', reason: upstream.code, cause: causeSummary(upstream) });
          return sendPage(
            reply,
            messagePage({ title: messages.upstreamLogoutTitle, message: messages.upstreamLogoutRefused }),
            400,
          );
        }
        await audit('success', { initiator: 'sp' });
        return sendPage(reply, messagePage({ title: messages.signedOutTitle, message: messages.signedOut }));
      }
      let verified: Awaited<ReturnType<SamlConnector['verifyLogoutRequest']>>;
      try {
        verified = await connector.verifyLogoutRequest({ query, rawQuery: request.url.split('?')[1] ?? '' });
      } catch (error) {
        const upstream = asUpstreamError(error);
        request.log.warn(
          { err: { name: upstream.name, code: upstream.code }, connection: connectionId },
          'SAML LogoutRequest refused',
        );
        await audit('failure', { reason: upstream.code, cause: causeSummary(upstream) });
        return sendPage(
          reply,
          messagePage({ title: messages.upstreamLogoutTitle, message: messages.upstreamLogoutRefused }),
          400,
        );
      }
      const identity = await logout.identities.findIdentity(connectionId, verified.subject);
      const ended = identity ? await logout.sessions.endBrowserSessions(identity.userId) : 0;
      await audit('success', { sessionsEnded: ended, known: identity !== undefined }, identity?.userId);
      return reply.redirect(verified.responseUrl, 303);
    },
  );

  app.get<{ Params: { connection: string } }>('/saml/:connection/metadata', async (request, reply) => {
    const orgs = await deps.allOrganizationDetails();
    const org = orgs.find(
      (o) => o.connection?.id === request.params.connection && o.connection.type === 'saml',
    );
    const connector = org ? await deps.connectors.forOrganization(org) : undefined;
    if (!connector || !('spMetadata' in connector)) {
      return reply.code(404).type('text/plain; charset=utf-8').send('No such SAML connection.');
    }
    return reply
      .type('application/samlmetadata+xml; charset=utf-8')
      .header('cache-control', 'public, max-age=300')
      .send((connector as { spMetadata(): string }).spMetadata());
  });
}
