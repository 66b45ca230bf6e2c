import type Provider from 'oidc-provider';
import { clientAllowed } from '../../domain/directory.js';
import { parseWorkEmail } from '../../domain/emails.js';
import { describeDevice } from '../../domain/user-agents.js';
import { format } from '../../pages/index.js';
import { messages } from '../../pages/messages.js';
import { handoffPage } from '../../pages/sign-in-pages.js';
import { resourcesReached } from '../../protocol/resource-access.js';
import { handoffContentSecurityPolicy, loopbackOriginOf } from '../../web/assets-handoff.js';
import { appRequestOf, replayUrl } from '../app-request.js';
import type { Step, StepRoute } from '../flow.js';

type EngineGrant = InstanceType<Provider['Grant']>;

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
 * What asked for the device code and from where (kept by the engine with the code), for the one
 * device confirmation: the app's own product token or a fixed-vocabulary summary, never the raw
 * User-Agent a client library or a phisher wrote.
 */
async function deviceOrigin(
  flow: Parameters<Step['enter']>[0],
  s: Parameters<Step['enter']>[1],
): Promise<{ description: string; ip?: string | undefined; userCode?: string | undefined }> {
  const jti = (s.details as { deviceCode?: unknown }).deviceCode;
  const code =
    typeof jti === 'string'
      ? await flow.deps
          .engine()
          .DeviceCode.find(jti)
          .catch(() => undefined)
      : undefined;
  const found = code as { deviceInfo?: { ip?: unknown; ua?: unknown }; userCode?: unknown } | undefined;
  const info = found?.deviceInfo;
  return {
    description: describeDevice(typeof info?.ua === 'string' ? info.ua : undefined),
    ip: typeof info?.ip === 'string' ? info.ip : undefined,
    // Stored without its dash; shown as the device shows it (mask ****-****, protocol/provider.ts).
    userCode:
      typeof found?.userCode === 'string' && found.userCode.length === 8
        ? `${found.userCode.slice(0, 4)}-${found.userCode.slice(4)}`
        : undefined,
  };
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

/** The person says no (Deny, or Cancel): the app gets access_denied (RFC 6749 §4.1.2.1). */
const abortRoute: StepRoute = {
  method: 'GET',
  path: '/abort',
  at: 'any',
  async handle(flow, s) {
    const to = await flow.deps
      .engine()
      .interactionResult(
        s.request.raw,
        s.reply.raw,
        { error: 'access_denied', error_description: 'End-User aborted interaction' },
        { mergeWithLastSubmission: false },
      );
    return s.reply.redirect(to, 303);
  },
};

/**
 * The last page of every browser sign-in for an app: "Launch Acme Desktop" (or Continue / Allow).
 * Nothing is approved without this click, even when the browser session made credentials
 * unnecessary (RFC 8252 §8.6: any local program can start a request for any public client). The
 * click grants what the app asked for and lets the engine mint the code.
 */
export const launchStep: Step = {
  async enter(flow, s) {
    const accountId = s.details.session?.accountId as string;
    const user = await flow.deps.users.byId(accountId);
    const hint =
      typeof s.details.params.login_hint === 'string'
        ? parseWorkEmail(s.details.params.login_hint)
        : undefined;
    // A login_hint naming someone else than the session's user never signs in silently as the
    // session's user: sign the hinted person in instead.
    if (hint && user?.email && user.email !== hint)
      return flow.go(s, 'route', { switching: true, email: hint });
    if (user?.status !== 'active') {
      return flow.message(s, { message: messages.errorAccountDisabled, status: 403 });
    }
    // The browser session's organization may not allow this app (the SSO path never passed the policy step for it).
    const org = flow.deps.organizations.byId(user.organizationId);
    if (!org || !clientAllowed(org, s.clientId)) {
      await flow.audit(s, {
        action: 'sign_in',
        outcome: 'failure',
        userId: user.id,
        organizationId: user.organizationId,
        details: { reason: 'client_not_allowed', step: 'launch' },
      });
      return flow.message(s, {
        message: format(messages.clientNotAllowed, { app: await flow.appName(s) }),
        status: 403,
      });
    }
    const carried = (s.details.lastSubmission as { latchkey?: { notice?: unknown } } | undefined)?.latchkey
      ?.notice;
    const notice = s.state.notice ?? (typeof carried === 'string' ? carried : undefined);
    if (s.state.notice) await flow.save(s, { ...s.state, notice: undefined });
    const client = await flow.deps.engine().Client.find(s.clientId);
    const request = (await s.states.recallRequest(s.uid)) ?? appRequestOf(s.details);
    const redirectUri =
      typeof s.details.params.redirect_uri === 'string' ? s.details.params.redirect_uri : undefined;
    const isDevice = Boolean((s.details as { deviceCode?: unknown }).deviceCode);
    const downloadUrl = (client?.metadata() as { download_url?: string } | undefined)?.download_url;
    const mode = handoffMode(redirectUri, isDevice);
    // Loopback: the page may ask the app's receiver whether it still waits (web/assets-handoff.ts).
    const loopbackOrigin = mode === 'loopback' ? loopbackOriginOf(redirectUri) : undefined;
    if (loopbackOrigin)
      s.reply.header('content-security-policy', handoffContentSecurityPolicy(loopbackOrigin));
    return flow.page(
      s,
      handoffPage({
        brand: flow.brand(s, user.organizationId),
        action: flow.url(s, '/confirm'),
        csrf: flow.csrfToken(s),
        appName: client?.clientName ?? s.clientId,
        email: (await flow.deps.users.labelOf(user)) ?? messages.signedInAccountUnnamed,
        mode,
        loopbackOrigin,
        switchUrl: flow.url(s, '/switch'),
        retryUrl: replayUrl(request),
        downloadUrl,
        abortUrl: flow.url(s, '/abort'),
        notice,
        reaches: resourcesReached(flow.deps.engine(), s.clientId, s.details.params),
        device: isDevice ? await deviceOrigin(flow, s) : undefined,
      }),
    );
  },
  routes: [
    {
      method: 'POST',
      path: '/confirm',
      at: 'any',
      async handle(flow, s) {
        const d = s.details;
        const accountId = d.session?.accountId;
        if (d.prompt.name !== 'consent' || !accountId) return s.reply.redirect(flow.url(s), 303);
        const user = await flow.deps.users.byId(accountId);
        const org = user ? flow.deps.organizations.byId(user.organizationId) : undefined;
        if (user?.status !== 'active' || !org || !clientAllowed(org, s.clientId)) {
          return s.reply.redirect(flow.url(s), 303);
        }
        const provider = flow.deps.engine();
        // Every authorization gets a grant of its own, even when the browser session already holds one
        // for this app: each install (a laptop, a second OS account, a device-flow kiosk) then owns its
        // refresh token family, and one install signing out (RFC 7009 revokes the whole grant) leaves
        // the others signed in. What the session's earlier grant allowed is carried over.
        const grant = new provider.Grant({ accountId, clientId: s.clientId });
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
        // Back or Reload after this click finds the interaction gone: the error page then says the
        // sign-in finished rather than that it expired.
        const request = (await s.states.recallRequest(s.uid)) ?? appRequestOf(d);
        await s.states.rememberRequest(s.uid, { ...request, finishedAt: Date.now() });
        await flow.audit(s, { action: 'handoff', outcome: 'success', userId: accountId });
        const to = await provider.interactionResult(
          s.request.raw,
          s.reply.raw,
          { consent: { grantId } },
          { mergeWithLastSubmission: true },
        );
        return s.reply.redirect(to, 303);
      },
    },
    abortRoute,
    // The device flow's Deny button: a form post (CSRF-checked); the GET stays for pages already open.
    { ...abortRoute, method: 'POST' },
  ],
};
