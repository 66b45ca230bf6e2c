import { randomBytes } from 'node:crypto';
import { emailDomain } from '../../domain/emails.js';
import { upstreamUrls } from '../../federation/connector-source.js';
import { UPSTREAM_AMR, upstreamSecondFactor } from '../../federation/second-factor.js';
import { format, type SafeHtml } from '../../pages/index.js';
import { messages } from '../../pages/messages.js';
import { upstreamPostPage } from '../../pages/upstream-post-page.js';
import { sendPage } from '../../web/reply.js';
import type { SignIn, Step, StepFlow } from '../flow.js';
import {
  asUpstreamError,
  bindBrowser,
  causeSummary,
  identityRefusalMessage,
  providerDetails,
  REFUSAL_MESSAGES,
  ROUND_TRIP_MS,
  resultAd,
  type SealedResult,
  START_TIMEOUT_MS,
  statusOf,
  withTimeout,
} from '../upstream-support.js';

/**
 * Sign-in through the organization's upstream IdP, in three requests across two URLs:
 *
 *   GET /interaction/:uid/upstream           → a round trip row keyed by a fresh `state` → 303 upstream
 *   GET /upstream/callback | POST /saml/:c/acs → consume the row once → connector verifies → seal the
 *                                                identity in the sign-in state → 303 (upstream-callbacks.ts)
 *   GET /upstream/return                      → the browser that started the round trip? → 303 back
 *   GET /interaction/:uid/upstream/complete   → link or create the user → the policy step
 *
 * The typed email travels upstream (`login_hint`, and `hd` for Google Workspace) so it is not typed twice.
 */
export const upstreamStep: Step = {
  // A GET of its own, so Reload or Back never re-posts the email form.
  enter: async (flow, s) => s.reply.redirect(flow.url(s, '/upstream'), 303),
  show: (flow, s) => upstreamStep.enter(flow, s),
  routes: [
    {
      method: 'GET',
      path: '/upstream',
      async handle(flow, s) {
        const { state } = s;
        if (!state.email || !state.organizationId) return flow.restart(s, state);
        const org = await flow.deps.organizationDetails(state.organizationId);
        try {
          const connector = org ? await flow.deps.connectors.forOrganization(org) : undefined;
          if (!org?.connection || !connector) return flow.restart(s, state);
          const stateToken = randomBytes(32).toString('base64url');
          const urls = upstreamUrls(flow.deps.issuer, connector.id);
          const started = await withTimeout(
            connector.startSignIn({
              callbackUrl: connector.type === 'saml' ? urls.samlAcs : urls.oidcCallback,
              state: stateToken,
              loginHint: state.email,
              domain: emailDomain(state.email),
            }),
            START_TIMEOUT_MS,
          );
          const binding = bindBrowser(s.reply, stateToken, flow.deps.issuer.startsWith('https:'));
          await flow.deps.upstreamRequests.create({
            id: stateToken,
            connectionId: connector.id,
            interactionUid: s.uid,
            data: { organizationId: org.id, pending: started.pending, binding },
            expiresAt: Date.now() + ROUND_TRIP_MS,
          });
          await flow.audit(s, {
            action: 'upstream_redirect',
            outcome: 'info',
            userId: state.userId,
            organizationId: org.id,
            details: { connection: connector.id, type: connector.type },
          });
          // SAML HTTP-POST binding: a form the browser posts to the IdP.
          if (started.form) return sendPage(s.reply, upstreamPostPage(started.form));
          return s.reply.redirect(started.url, 303);
        } catch (error) {
          const upstream = asUpstreamError(error);
          const provider = providerDetails(upstream);
          s.request.log.warn(
            {
              err: { name: upstream.name, code: upstream.code },
              connection: org?.connection?.id,
              ...provider,
            },
            'upstream start failed',
          );
          return refuse(flow, s, {
            code: upstream.code,
            message: upstream.publicMessage,
            status: statusOf(upstream),
            cause: upstream.cause ?? error,
            details: { ...(org?.connection ? { connection: org.connection.id } : {}), ...provider },
          });
        }
      },
    },
    {
      method: 'GET',
      path: '/upstream/complete',
      async handle(flow, s) {
        const { state } = s;
        const sealed = state.data?.upstreamResult;
        // Only a result whose return hop came back in the browser that started the round trip.
        if (typeof sealed !== 'string' || state.data?.browserChecked !== true || !state.organizationId) {
          return s.reply.redirect(flow.url(s), 303);
        }
        // One use: the sealed identity leaves the state before anything else happens.
        await flow.save(s, { ...state, data: {} });
        const result = JSON.parse(flow.deps.secretBox.decrypt(sealed, resultAd(s.uid))) as SealedResult;
        const org = await flow.deps.organizationDetails(state.organizationId);
        const view = flow.deps.organizations.byId(state.organizationId);
        if (!org?.connection || !view) {
          return refuse(flow, s, {
            code: 'wrong_connection',
            message: messages.upstreamConnectionChanged,
            status: 409,
          });
        }
        const linked = await flow.deps.linkIdentity({
          identity: result.identity,
          organization: {
            id: org.id,
            domains: org.domains,
            policy: view.policy,
            connectionId: org.connection.id,
          },
        });
        if (!linked.ok && linked.refusal) {
          // The organization's identity rule (policy.accept_identities): the claim that failed it is
          // named in the audit event, the person is told what to do.
          return refuse(flow, s, {
            code: linked.reason,
            message: format(identityRefusalMessage(linked.refusal.problem), { org: org.name }),
            status: 403,
            details: {
              connection: org.connection.id,
              claim: linked.refusal.claim,
              problem: linked.refusal.problem,
              rule: view.policy.acceptIdentities ?? 'organization_domains',
            },
          });
        }
        if (!linked.ok) {
          return refuse(
            flow,
            s,
            {
              code: linked.reason,
              message: format(REFUSAL_MESSAGES[linked.reason], { org: org.name }),
              status: linked.reason === 'not_provisioned' || linked.reason === 'account_disabled' ? 403 : 409,
            },
            linked.userId,
          );
        }
        const raw = result.identity.raw.amr;
        const upstreamAmr = Array.isArray(raw)
          ? raw.filter((m): m is string => typeof m === 'string' && UPSTREAM_AMR.has(m))
          : [];
        const secondFactor = upstreamSecondFactor(result.identity, view.connection.secondFactor);
        await flow.audit(s, {
          action: 'upstream_sign_in',
          outcome: 'success',
          userId: linked.userId,
          organizationId: org.id,
          details: {
            connection: org.connection.id,
            created: linked.created,
            linked: linked.linked,
            ...(secondFactor ? { secondFactor } : {}),
          },
        });
        return flow.go(s, 'policy', {
          ...state,
          data: undefined,
          userId: linked.userId,
          amr: ['fed'],
          upstreamAmr: [...new Set(upstreamAmr)],
          upstreamSecondFactor: secondFactor,
        });
      },
    },
  ],
};

async function refuse(
  flow: StepFlow,
  s: SignIn,
  outcome: {
    code: string;
    message: string | SafeHtml;
    status: number;
    cause?: unknown;
    details?: Record<string, unknown>;
  },
  userId?: string,
) {
  await flow.audit(s, {
    action: 'upstream_sign_in',
    outcome: 'failure',
    userId,
    organizationId: s.state.organizationId,
    details: {
      reason: outcome.code,
      ...outcome.details,
      ...(outcome.cause ? { cause: causeSummary(outcome.cause) } : {}),
    },
  });
  // The step is over: "Start again" returns to the email page, not to this step.
  await flow.save(s, { step: 'email', switching: s.state.switching });
  return flow.message(s, {
    title: messages.upstreamTitle,
    message: outcome.message,
    status: outcome.status,
    startAgain: true,
  });
}
