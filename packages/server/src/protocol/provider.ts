import Provider, { type Configuration, errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { LatchkeyConfig } from '../config/types.js';
import type { Throttle } from '../domain/throttle/throttle.js';
import type { Brands } from '../pages/brand-assets.js';
import {
  renderDeviceConfirm,
  renderDeviceInput,
  renderDeviceSuccess,
  renderDeviceThrottled,
  renderErrorPage,
  renderLoggedOut,
  renderLogoutConfirm,
} from '../pages/sign-in-pages.js';
import { heldWritesMiddleware } from '../storage/oidc-adapter.js';
import type { AccountStore } from './accounts.js';
import { CLAIMS, SCOPES } from './claims.js';
import { devicePollingMiddleware, type PollLedger } from './device-polling.js';
import { type DpopRefused, dpopRefusedEvent, type EngineError } from './dpop-binding.js';
import type { ProtocolKeys } from './keys.js';
import { keepOfflineAccess } from './offline-access.js';
import { allowedScopes, type ResourceInfo, registerResourceLookup } from './resource-access.js';
import { summarizeUserAgent } from './user-agent.js';
import { userCodeThrottleMiddleware } from './user-code-throttle.js';

/** What the engine needs from the rest of the server; assembled in http/app.ts. */
export interface ProviderDeps {
  config: LatchkeyConfig;
  /** oidc-provider adapter factory backed by our storage (storage/oidc-adapter.ts). */
  adapter: NonNullable<Configuration['adapter']>;
  accounts: AccountStore;
  keys: ProtocolKeys;
  /** Resolves a registered resource (API) by its identifier, with its allow-list of clients. */
  findResource(id: string): ResourceInfo | undefined;
  /**
   * Limits user-code entry per address (RFC 8628 §5.1); a throttle built with
   * USER_CODE_THROTTLE_POLICY (protocol/user-code-throttle.ts). Without one, entry is not limited.
   */
  userCodeThrottle?: Throttle | undefined;
  /**
   * Remembers each device code's last answered poll across processes (the replay cache), so a
   * device polling faster than the interval gets `slow_down` (RFC 8628 §3.5). Without one, the
   * interval is sent but not enforced.
   */
  devicePolls?: PollLedger | undefined;
  /**
   * The DPoP nonce secret (32 bytes), the same on every process of a fleet: a nonce issued by one
   * process is accepted by another. Derived from the operator secret in main/assemble.ts.
   */
  dpopNonceSecret: Buffer;
  /** A token request refused for want of the right DPoP proof (RFC 9449): the audit log. */
  onDpopRefused?(event: DpopRefused): void | Promise<void>;
  /**
   * SP-initiated upstream logout (SAML single logout): the IdP URL to send a person to after they
   * signed out of their whole browser session at Latchkey, or undefined when there is none.
   */
  upstreamLogoutUrl?(accountId: string): Promise<string | undefined>;
  /** The configured brands (pages/brand-assets.ts) for the engine's own pages; absent: Latchkey's. */
  brands?: Brands | undefined;
  /** Called for every engine error worth logging (never with secrets). */
  onError?(ctx: KoaContextWithOIDC, error: Error): void;
  /**
   * An authorization request opened an interaction: its query exactly as the app sent it (the
   * engine's parsed params drop what it will not grant, e.g. offline_access), for "Start again".
   */
  onInteractionStarted?(
    uid: string,
    origin: { clientId: string; query: string } | { previousUid: string },
  ): Promise<void>;
}

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/**
 * Builds the OpenID Connect engine (oidc-provider 9) with Latchkey's policy:
 * - public native clients: authorization code + PKCE S256 only (RFC 8252, RFC 7636), refresh tokens
 *   that outlive the browser session, rotation on every use;
 * - access tokens for registered resources are RFC 9068 JWTs; others are opaque (userinfo only);
 * - every native authorization passes through an interaction (RFC 8252 §8.6): the engine's default
 *   policy already asks for consent on every native request, and our consent page is the handoff page
 *   whose click mints the code.
 * The engine's development interactions and keys are never used.
 */
export function buildProvider(deps: ProviderDeps): Provider {
  const { config, accounts, keys } = deps;
  const lifetimes = config.lifetimes;

  const configuration: Configuration = {
    adapter: deps.adapter,
    findAccount: (ctx, sub, token) => accounts.findAccount(ctx, sub, token),
    jwks: keys.jwks(),
    cookies: {
      keys: keys.cookieKeys(),
      names: { session: 'lk_session', interaction: 'lk_interaction', resume: 'lk_resume' },
      long: { httpOnly: true, sameSite: 'lax', secure: config.issuer.startsWith('https:') },
      short: { httpOnly: true, sameSite: 'lax', secure: config.issuer.startsWith('https:') },
    },
    claims: CLAIMS,
    scopes: SCOPES,
    acrValues: ['urn:latchkey:acr:pwd', 'urn:latchkey:acr:mfa', 'urn:latchkey:acr:federated'],
    conformIdTokenClaims: false,
    clientDefaults: {
      // Each client's registration names its own (config `id_token_signed_response_alg`).
      id_token_signed_response_alg: 'RS256',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    },
    enabledJWA: {
      idTokenSigningAlgValues: ['ES256', 'RS256'],
      userinfoSigningAlgValues: ['ES256', 'RS256'],
      introspectionSigningAlgValues: ['ES256', 'RS256'],
    },
    responseTypes: ['code'],
    // Checks run after the engine's own parameter checks (see each function).
    extraParams: { scope: keepOfflineAccess },
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      deviceFlow: {
        enabled: true,
        charset: 'base-20',
        mask: '****-****',
        userCodeInputSource: (ctx, form, out, err) => {
          // The code from verification_uri_complete (see the middleware below), shown pre-filled.
          const prefill = (ctx.state as { latchkeyUserCode?: unknown } | undefined)?.latchkeyUserCode;
          if (typeof prefill === 'string' && !err && ctx.oidc.params && !ctx.oidc.params.user_code)
            ctx.oidc.params.user_code = prefill;
          return renderDeviceInput(ctx, form, out, err, deps.brands?.instance);
        },
        // The device's User-Agent is written by whoever started the flow (a phisher, perhaps): the page
        // shows the registered app name, a summary from a fixed vocabulary and the address instead.
        userCodeConfirmSource: (ctx, form, client, deviceInfo, userCode) =>
          renderDeviceConfirm(
            ctx,
            form,
            client,
            {
              ip: typeof deviceInfo?.ip === 'string' ? deviceInfo.ip : undefined,
              program: summarizeUserAgent(typeof deviceInfo?.ua === 'string' ? deviceInfo.ua : undefined),
            },
            userCode,
            deps.brands?.pick({ clientId: client.clientId }),
          ),
        successSource: (ctx) => renderDeviceSuccess(ctx, deps.brands?.instance),
      },
      revocation: { enabled: true },
      introspection: { enabled: true },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx, form) => renderLogoutConfirm(ctx, form, deps.brands?.instance),
        postLogoutSuccessSource: (ctx) => renderLoggedOut(ctx, deps.brands?.instance),
      },
      // RFC 9449. A client with `dpop: required` has `dpop_bound_access_tokens` (protocol/clients.ts):
      // the engine refuses its token requests without a proof; for every client a proof binds the
      // tokens (`cnf.jkt`), and a bound refresh token needs its key's proof. Nonces (§8) come from a
      // secret every process shares, so any process accepts a nonce another one issued; they are
      // always offered (a client with a skewed clock recovers through one) and required when
      // `dpop.require_nonce` says so. PAR stays available too.
      dPoP: {
        enabled: true,
        nonceSecret: deps.dpopNonceSecret,
        requireNonce: () => config.dpop.requireNonce,
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: (_ctx, _client, oneOf) => oneOf ?? undefined,
        // Without a `resource` parameter the token endpoint issues a userinfo token (opaque); a JWT
        // for an API is minted only when the app names the API (RFC 8707).
        useGrantedResource: () => false,
        // Called at the authorization request, the code exchange and every refresh (oidc-provider's
        // check_resource, grant_authorization, refresh_token): the resource's allow-list holds at
        // each, so narrowing `resources[].clients` takes effect at the next refresh.
        getResourceServerInfo: (_ctx, resourceIndicator, client) => {
          const resource = deps.findResource(resourceIndicator);
          if (!resource) throw new errors.InvalidTarget();
          const scopes = allowedScopes(resource, client.clientId);
          if (!scopes)
            throw new errors.InvalidTarget(`the resource does not admit client ${client.clientId}`);
          return {
            scope: scopes.join(' '),
            audience: resource.id,
            accessTokenTTL: resource.accessTokenTtl ?? lifetimes.accessToken,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
    },
    // Desktop refresh tokens must outlive the browser session and its logout (oidc-provider ties them to the session by default): a native
    // app signs in silently for weeks while the browser session is long gone.
    expiresWithSession: async () => false,
    issueRefreshToken: async (_ctx, client, code) =>
      client.grantTypeAllowed('refresh_token') &&
      (client.applicationType === 'native' || code.scopes.has('offline_access')),
    rotateRefreshToken: true,
    extraTokenClaims: async (ctx, token) => accounts.extraAccessTokenClaims(ctx, token),
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? lifetimes.accessToken,
      AuthorizationCode: lifetimes.authorizationCode,
      DeviceCode: lifetimes.deviceCode,
      IdToken: lifetimes.idToken,
      Interaction: lifetimes.interaction,
      Session: lifetimes.browserSession,
      // The grant must live at least as long as the longest refresh token it can carry.
      Grant: (ctx) => accounts.grantTtl(ctx),
      RefreshToken: (ctx, token) => accounts.refreshTokenTtl(ctx, token),
    },
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    renderError: async (ctx, out, error) => {
      deps.onError?.(ctx, error);
      // The app's brand when the request names a registered app, else the instance's.
      renderErrorPage(ctx, out, deps.brands?.pick({ clientId: ctx.oidc?.client?.clientId }));
    },
    clientBasedCORS: (_ctx, origin, client) =>
      // Native apps make token requests from no browser origin; web clients from their redirect
      // origins. Only http(s) redirect URIs have an origin: a private-use scheme's URL origin is the
      // string "null", which is also what sandboxed iframes and data: documents send (never allowed).
      origin !== 'null' &&
      (client.redirectUris ?? []).some((uri) => {
        try {
          const url = new URL(uri);
          return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === origin;
        } catch {
          return false;
        }
      }),
    allowOmittingSingleRegisteredRedirectUri: false,
    discovery: {
      service_documentation: `${config.issuer}/`,
      // Live sign-out (http/session-events.ts): the SSE stream an app holds open with its access token.
      session_events_endpoint: `${config.issuer}/session/events`,
    },
  };

  const provider = new Provider(config.issuer, configuration);
  registerResourceLookup(provider, deps.findResource);
  // `Origin: null` (sandboxed iframes, data: and file: documents) is never a trusted origin: the
  // engine's CORS answers preflights for any origin and echoes it, so its answer is taken back here.
  provider.use(async (ctx, next) => {
    if (ctx.get('origin') !== 'null') return next();
    try {
      await next();
    } finally {
      for (const name of [
        'access-control-allow-origin',
        'access-control-allow-credentials',
        'access-control-allow-methods',
        'access-control-allow-headers',
        'access-control-expose-headers',
        'access-control-max-age',
      ])
        ctx.remove(name);
    }
  });
  if (deps.userCodeThrottle)
    provider.use(
      userCodeThrottleMiddleware(deps.userCodeThrottle, (ctx, seconds) =>
        renderDeviceThrottled(ctx, seconds, deps.brands?.instance),
      ),
    );
  if (deps.devicePolls) provider.use(devicePollingMiddleware(deps.devicePolls));
  // A whole browser session ended at Latchkey's sign-out (end_session confirm, "sign out of all"):
  // when it came from a SAML connection with single logout, the browser goes on to the IdP with a
  // LogoutRequest, and the IdP's LogoutResponse lands on /saml/:connection/slo, which shows the
  // signed-out page. An app's own post_logout_redirect_uri keeps its redirect (no return address
  // is stored for the round trip).
  const upstreamLogoutUrl = deps.upstreamLogoutUrl;
  if (upstreamLogoutUrl)
    provider.use(async (ctx, next) => {
      await next();
      const oidc = (ctx as Partial<KoaContextWithOIDC>).oidc;
      if (oidc?.route !== 'end_session_confirm' || ctx.status < 300 || ctx.status >= 400) return;
      const accountId = oidc.session?.accountId;
      if (!accountId || !oidc.params?.logout) return;
      if (!ctx.response.get('location').startsWith(oidc.urlFor('end_session_success'))) return;
      const url = await upstreamLogoutUrl(accountId);
      if (url) ctx.redirect(url);
    });
  // RFC 8628 §3.3.1: verification_uri_complete opens the code page with the code pre-filled, and the
  // person still presses Continue before the confirmation page. (The engine would post the code on
  // its own, skipping the person's look at the code page.)
  provider.use(async (ctx, next) => {
    if (ctx.method === 'GET' && ctx.path === '/device' && typeof ctx.query.user_code === 'string') {
      ctx.state.latchkeyUserCode = ctx.query.user_code;
      const { user_code: _prefilled, ...rest } = ctx.query;
      ctx.query = rest;
    }
    await next();
  });
  if (deps.onInteractionStarted) {
    const started = deps.onInteractionStarted;
    provider.use(async (ctx, next) => {
      await next();
      if (ctx.method !== 'GET') return;
      const uid = /^\/interaction\/([^/?#]+)$/.exec(String(ctx.response.get('location') ?? ''))?.[1];
      if (!uid) return;
      // A new request (`/auth?…`), or a resumed one (`/auth/<uid>` after sign-in opens the consent
      // interaction under a new uid): the request travels on.
      const resumed = /^\/auth\/([^/]+)$/.exec(ctx.path)?.[1];
      const origin =
        ctx.path === '/auth' && typeof ctx.query.client_id === 'string'
          ? { clientId: ctx.query.client_id, query: ctx.querystring }
          : resumed
            ? { previousUid: decodeURIComponent(resumed) }
            : undefined;
      if (!origin) return;
      await started(decodeURIComponent(uid), origin).catch((error: Error) =>
        deps.onError?.(ctx as KoaContextWithOIDC, error),
      );
    });
  }
  // Refresh-token rotations the storage adapter held back commit before the response leaves.
  provider.use(
    heldWritesMiddleware(provider, (ctx, error) => deps.onError?.(ctx as KoaContextWithOIDC, error)),
  );
  // Trust X-Forwarded-* only because http/app.ts strips them from untrusted peers before the engine
  // sees the request (see normalizeForwarded in http/provider-mount.ts).
  provider.proxy = true;
  provider.on('server_error', (ctx, error) => deps.onError?.(ctx, error));
  if (deps.onDpopRefused) {
    const report = deps.onDpopRefused;
    provider.on('grant.error', (ctx: KoaContextWithOIDC, error: Error) => {
      const event = dpopRefusedEvent(ctx, error as EngineError);
      if (event) void Promise.resolve(report(event)).catch((caught: Error) => deps.onError?.(ctx, caught));
    });
  }
  return provider;
}

export { DEVICE_CODE_GRANT };
