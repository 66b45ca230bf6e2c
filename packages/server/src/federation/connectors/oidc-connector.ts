import type * as OpenId from 'openid-client';
import { chooseClientAuth, type TokenEndpointAuthMethod, type UpstreamClientKey } from './client-auth.js';
import { loadOpenId } from './openid.js';
import {
  type ConnectorDeps,
  type FinishSignInInput,
  type RedirectConnector,
  type StartSignInInput,
  type StartSignInResult,
  UpstreamError,
  type VerifiedIdentity,
} from './types.js';
import { toUpstreamError } from './upstream-errors.js';

/** Which claims carry what; the defaults are the standard OpenID Connect names. */
export interface ClaimNames {
  subject: string;
  email: string;
  name: string;
  groups: string;
}

export interface OidcConnectorOptions {
  /** The connection id; becomes `VerifiedIdentity.connectionId`. */
  id: string;
  /** The issuer identifier; its `/.well-known/openid-configuration` is discovered. */
  issuer: string;
  clientId: string;
  /** Omit for a public client (PKCE alone). */
  clientSecret?: string | undefined;
  /** Default `openid email profile`; `openid` is always sent. */
  scopes?: string[] | undefined;
  /** Sent as `prompt` (e.g. `select_account`). */
  prompt?: string | undefined;
  /** Extra authorization request parameters; they never override the ones the protocol needs. */
  extraParams?: Record<string, string> | undefined;
  claims?: Partial<ClaimNames> | undefined;
  /**
   * Microsoft Entra ID: the only tenant (`tid`) accepted. Accounts are keyed by `tid:oid`, because
   * Entra's `sub` differs per application and its `email` claim is not verified unless `xms_edov`.
   */
  entraTenantId?: string | undefined;
  /** Bound for each upstream HTTP call (discovery, token, JWKS). Default 10 000 ms. */
  timeoutMs?: number | undefined;
  /** Overrides `deps.fetch` for this connector. */
  fetch?: typeof fetch | undefined;
  /**
   * How Latchkey authenticates at the provider's token endpoint. Unset: picked from discovery's
   * `token_endpoint_auth_methods_supported` (see `client-auth.ts`).
   */
  tokenEndpointAuthMethod?: TokenEndpointAuthMethod | undefined;
  /** The private key for `private_key_jwt` (PKCS#8 PEM, RSA or EC), and the `kid` the provider knows it by. */
  privateKey?: UpstreamClientKey | undefined;
  /** Discovery is cached this long, then refreshed (the stale copy is kept if that fails). Default 1 day. */
  discoveryTtlMs?: number | undefined;
}

/** What the connector keeps server-side between `startSignIn` and `finishSignIn`. */
interface OidcPending {
  state: string;
  nonce: string;
  codeVerifier: string;
  startedAt: number;
  forceAuthn: boolean;
}

export type ClaimsPhase = 'sign-in' | 'refresh';

/**
 * Hooks a specialised connector (Google) adds on top of plain OpenID Connect. Kept internal to the
 * connectors folder: the registry, not callers, decides which connector a connection gets.
 */
export interface OidcConnectorHooks {
  type: 'google' | 'oidc';
  /** Adds provider-specific authorization parameters (after the standard ones are set). */
  authorizationParams?(input: StartSignInInput, params: Record<string, string>): void;
  /** Refuses an identity the organization must not accept; throws UpstreamError. */
  checkClaims?(claims: Record<string, unknown>, phase: ClaimsPhase): void;
}

const DEFAULT_SCOPES = ['openid', 'email', 'profile'];
const DEFAULT_CLAIMS: ClaimNames = { subject: 'sub', email: 'email', name: 'name', groups: 'groups' };
/** Claims a person or a tenant admin can set to anything: never an account key (the "nOAuth" class). */
const MUTABLE_CLAIMS = new Set(['email', 'preferred_username', 'upn', 'unique_name', 'name']);
/** How far an upstream `auth_time` may precede our request when we asked for a fresh sign-in. */
const FORCE_AUTHN_SLACK_MS = 60_000;

function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

function asString(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

function asGroups(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((g): g is string => typeof g === 'string');
  if (typeof value === 'string' && value !== '') return [value];
  return [];
}

function readPending(pending: Record<string, unknown>): OidcPending {
  const { state, nonce, codeVerifier, startedAt, forceAuthn } = pending;
  if (typeof state !== 'string' || typeof nonce !== 'string' || typeof codeVerifier !== 'string') {
    throw new UpstreamError(
      'state_mismatch',
      'This sign-in was not started here or has expired. Please start again.',
    );
  }
  return {
    state,
    nonce,
    codeVerifier,
    startedAt: typeof startedAt === 'number' ? startedAt : 0,
    forceAuthn: forceAuthn === true,
  };
}

/** Joins the configured prompt with `login` when a fresh sign-in is required (`none` cannot coexist). */
function promptFor(configured: string | undefined, forceAuthn: boolean): string | undefined {
  const values = new Set((configured ?? '').split(' ').filter(Boolean));
  if (forceAuthn) {
    values.delete('none');
    values.add('login');
  }
  return values.size > 0 ? [...values].join(' ') : undefined;
}

/** openid-client refuses a UserInfo answer whose `sub` is not the ID token's with this check's error. */
function isSubjectMismatch(err: unknown): boolean {
  // openid-client wraps oauth4webapi's error: the compared attribute sits one or two causes down.
  let e = err as { code?: unknown; attribute?: unknown; cause?: unknown } | null | undefined;
  let comparison = false;
  for (let depth = 0; e && depth < 4; depth++) {
    if (e.code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED') comparison = true;
    if (comparison && e.attribute === 'sub') return true;
    e = e.cause as typeof e;
  }
  return false;
}

/** Safe to echo: an RFC 6749 error code is a short token, unlike `error_description`, which anyone can forge. */
function safeErrorCode(value: string | null): string {
  return value && /^[a-z_]{1,64}$/.test(value) ? value : 'unknown_error';
}

/**
 * A generic OpenID Connect upstream (Okta, Keycloak, Auth0, Entra ID…): authorization code flow with
 * PKCE S256, state and nonce; the ID token is verified (signature against the discovered JWKS, iss,
 * aud, exp, nonce) by openid-client.
 */
export function createOidcConnector(
  options: OidcConnectorOptions,
  deps: ConnectorDeps = {},
): RedirectConnector {
  return createOidcConnectorWith(options, deps, { type: 'oidc' });
}

export function createOidcConnectorWith(
  options: OidcConnectorOptions,
  deps: ConnectorDeps,
  hooks: OidcConnectorHooks,
): RedirectConnector {
  const issuer = new URL(options.issuer);
  const insecure = issuer.protocol === 'http:';
  if (insecure && !isLoopbackHost(issuer.hostname)) {
    throw new Error(`connection ${options.id}: issuer ${options.issuer} must use https`);
  }
  const claimNames: ClaimNames = { ...DEFAULT_CLAIMS, ...options.claims };
  if (!options.entraTenantId && MUTABLE_CLAIMS.has(claimNames.subject)) {
    throw new Error(
      `connection ${options.id}: claims.subject must be a stable identifier, not "${claimNames.subject}"`,
    );
  }
  const scopes = [...new Set(['openid', ...(options.scopes ?? DEFAULT_SCOPES)])];
  const timeoutSeconds = (options.timeoutMs ?? 10_000) / 1000;
  const discoveryTtlMs = options.discoveryTtlMs ?? 24 * 3600_000;
  const now = deps.now ?? Date.now;
  const fetchImpl = options.fetch ?? deps.fetch;
  // Decided per request from the discovered metadata (it may change when discovery is refreshed).
  const clientAuth = chooseClientAuth({
    connectionId: options.id,
    method: options.tokenEndpointAuthMethod,
    clientSecret: options.clientSecret,
    privateKey: options.privateKey,
  });

  let cached: { config: OpenId.Configuration; at: number } | undefined;
  let inflight: Promise<OpenId.Configuration> | undefined;

  async function discover(): Promise<OpenId.Configuration> {
    const client = await loadOpenId();
    const execute = [client.enableNonRepudiationChecks];
    // http only for a loopback issuer (the stand-in IdP in tests and the demo); refused above otherwise.
    if (insecure) execute.push(client.allowInsecureRequests);
    try {
      const config = await client.discovery(issuer, options.clientId, undefined, clientAuth, {
        execute,
        timeout: timeoutSeconds,
        ...(fetchImpl ? { [client.customFetch]: fetchImpl as OpenId.CustomFetch } : {}),
      });
      cached = { config, at: now() };
      return config;
    } catch (err) {
      throw toUpstreamError(err);
    }
  }

  /** Discovery, cached; concurrent callers share one request, and a failure is not cached. */
  async function configuration(): Promise<OpenId.Configuration> {
    if (cached && now() - cached.at < discoveryTtlMs) return cached.config;
    if (!inflight) {
      inflight = discover().finally(() => {
        inflight = undefined;
      });
    }
    try {
      return await inflight;
    } catch (err) {
      // Stale-if-error: an IdP whose discovery blips keeps working with yesterday's metadata.
      if (cached) return cached.config;
      throw err;
    }
  }

  /** Turns verified ID token claims into an identity; the pipeline's last step. */
  function mapClaims(claims: Record<string, unknown>): Omit<VerifiedIdentity, 'authenticatedAt'> {
    let subject: string | undefined;
    let emailVerified: boolean;
    if (options.entraTenantId) {
      const tid = asString(claims.tid);
      const oid = asString(claims.oid);
      if (!tid || !oid) {
        throw new UpstreamError(
          'invalid_response',
          'The identity provider did not say which account signed in.',
        );
      }
      if (tid.toLowerCase() !== options.entraTenantId.toLowerCase()) {
        throw new UpstreamError(
          'wrong_tenant',
          'This account belongs to a different Microsoft organization.',
        );
      }
      subject = `${tid.toLowerCase()}:${oid.toLowerCase()}`;
      // Entra sends `email` unverified; `xms_edov` (email domain owner verified) is what vouches for it.
      emailVerified = claims.xms_edov === true || claims.email_verified === true;
    } else {
      subject = asString(claims[claimNames.subject]);
      if (!subject) {
        throw new UpstreamError(
          'invalid_response',
          'The identity provider did not say which account signed in.',
        );
      }
      emailVerified = claims.email_verified === true;
    }
    const email = asString(claims[claimNames.email]);
    return {
      connectionId: options.id,
      subject,
      email: emailVerified ? email : undefined,
      emailVerified: emailVerified && email !== undefined,
      receivedEmail: email,
      receivedEmailVerified: emailVerified && email !== undefined,
      subjectLabel: asString(claims.preferred_username) ?? email ?? subject,
      name: asString(claims[claimNames.name]),
      groups: asGroups(claims[claimNames.groups]),
      raw: claims,
    };
  }

  /**
   * OpenID Connect Core §5.4 lets a provider return the `email` and `profile` scope claims from the
   * UserInfo endpoint only (LemonLDAP::NG, ADFS, and any oidc-provider with `conformIdTokenClaims`).
   * When the ID token lacks one of the claims we map, UserInfo is asked once and fills in what the ID
   * token did not say; the ID token wins where both speak. Its `sub` must equal the ID token's
   * (§5.3.4), or the answer is about someone else and the sign-in is refused.
   */
  async function withUserInfo(
    config: OpenId.Configuration,
    idClaims: Record<string, unknown>,
    accessToken: string,
  ): Promise<Record<string, unknown>> {
    const client = await loadOpenId();
    const wanted = [claimNames.email, 'email_verified', claimNames.name];
    if (wanted.every((name) => idClaims[name] !== undefined)) return idClaims;
    if (!config.serverMetadata().userinfo_endpoint) return idClaims;
    const subject = asString(idClaims.sub);
    if (!subject) {
      throw new UpstreamError(
        'invalid_response',
        'The identity provider did not say which account signed in.',
      );
    }
    let userinfo: Record<string, unknown>;
    try {
      userinfo = (await client.fetchUserInfo(config, accessToken, subject)) as Record<string, unknown>;
    } catch (err) {
      if (isSubjectMismatch(err)) {
        throw new UpstreamError(
          'subject_mismatch',
          'The identity provider answered for a different account. Please start again.',
          { cause: err },
        );
      }
      throw toUpstreamError(err);
    }
    // Only the claims the ID token lacks; `sub`, `iss`, `aud` and the rest stay the ID token's.
    const merged = { ...idClaims };
    for (const [name, value] of Object.entries(userinfo)) {
      if (merged[name] === undefined) merged[name] = value;
    }
    return merged;
  }

  async function startSignIn(input: StartSignInInput): Promise<StartSignInResult> {
    const config = await configuration();
    const client = await loadOpenId();
    const codeVerifier = client.randomPKCECodeVerifier();
    const nonce = client.randomNonce();
    const forceAuthn = input.forceAuthn === true;
    const params: Record<string, string> = {
      ...options.extraParams,
      response_type: 'code',
      redirect_uri: input.callbackUrl,
      scope: scopes.join(' '),
      state: input.state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
    };
    if (input.loginHint) params.login_hint = input.loginHint;
    const prompt = promptFor(options.prompt, forceAuthn);
    if (prompt) params.prompt = prompt;
    else delete params.prompt;
    if (forceAuthn) params.max_age = '0';
    hooks.authorizationParams?.(input, params);
    const url = client.buildAuthorizationUrl(config, params);
    const pending: OidcPending = { state: input.state, nonce, codeVerifier, startedAt: now(), forceAuthn };
    return { url: url.href, pending: { ...pending } };
  }

  async function finishSignIn(input: FinishSignInInput): Promise<VerifiedIdentity> {
    const client = await loadOpenId();
    // 1. Correlate: the callback must answer the request this browser started.
    const pending = readPending(input.pending);
    const query = input.currentUrl.searchParams;
    if (query.get('state') !== pending.state) {
      throw new UpstreamError(
        'state_mismatch',
        'This sign-in was not started here or has expired. Please start again.',
      );
    }
    // 2. The upstream said no.
    const error = query.get('error');
    if (error === 'access_denied') {
      throw new UpstreamError('access_denied', 'Sign-in was cancelled at the identity provider.');
    }
    if (error !== null) {
      throw new UpstreamError(
        'invalid_response',
        `The identity provider could not sign you in (${safeErrorCode(error)}).`,
        { cause: { error, error_description: query.get('error_description') } },
      );
    }
    // 3. Exchange the code and verify the ID token (signature, iss, aud, exp, nonce).
    const config = await configuration();
    // The token request must repeat the registered redirect URI exactly, whatever URL a proxy in
    // front of Latchkey showed us (RFC 6749 §4.1.3).
    const callback = new URL(input.callbackUrl);
    callback.search = input.currentUrl.search;
    let tokens: Awaited<ReturnType<typeof OpenId.authorizationCodeGrant>>;
    try {
      tokens = await client.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
    } catch (err) {
      throw toUpstreamError(err);
    }
    const idClaims = tokens.claims() as Record<string, unknown> | undefined;
    if (!idClaims) throw new UpstreamError('invalid_response', 'The identity provider sent no ID token.');
    const claims = await withUserInfo(config, idClaims, tokens.access_token);
    // 4. A fresh sign-in was required: the upstream must not have reused an old session.
    const authTime = typeof claims.auth_time === 'number' ? claims.auth_time * 1000 : undefined;
    if (pending.forceAuthn && authTime !== undefined && authTime < pending.startedAt - FORCE_AUTHN_SLACK_MS) {
      throw new UpstreamError(
        'expired',
        'The identity provider did not ask you to sign in again. Please retry.',
      );
    }
    // 5. Map and apply the organization's rules.
    const identity = mapClaims(claims);
    hooks.checkClaims?.(claims, 'sign-in');
    return { ...identity, authenticatedAt: authTime ?? now(), upstreamRefreshToken: tokens.refresh_token };
  }

  /**
   * Uses the upstream refresh token: the IdP refuses it (`invalid_grant`) once the account is disabled,
   * deleted or signed out everywhere. No refresh token means nothing to ask; the organization's maximum
   * upstream sign-in age bounds such identities instead.
   */
  async function revalidate(identity: { subject: string; upstreamRefreshToken?: string | undefined }) {
    if (!identity.upstreamRefreshToken) return { status: 'valid' as const };
    const config = await configuration();
    const client = await loadOpenId();
    let tokens: Awaited<ReturnType<typeof OpenId.refreshTokenGrant>>;
    try {
      tokens = await client.refreshTokenGrant(config, identity.upstreamRefreshToken);
    } catch (err) {
      if (err instanceof client.ResponseBodyError && err.error === 'invalid_grant') {
        return { status: 'revoked' as const };
      }
      throw toUpstreamError(err);
    }
    const claims = tokens.claims() as Record<string, unknown> | undefined;
    if (claims) {
      let subject: string;
      try {
        subject = mapClaims(claims).subject;
        hooks.checkClaims?.(claims, 'refresh');
      } catch (err) {
        // The account still exists upstream but no longer fits the organization (tenant, hosted domain).
        if (err instanceof UpstreamError && err.code !== 'invalid_response')
          return { status: 'revoked' as const };
        throw err;
      }
      if (subject !== identity.subject) {
        throw new UpstreamError(
          'invalid_response',
          'The identity provider answered for a different account.',
        );
      }
    }
    // Only a new token is returned: absent when the IdP does not rotate (Google), so the caller keeps
    // the one it has.
    const rotated = tokens.refresh_token !== identity.upstreamRefreshToken ? tokens.refresh_token : undefined;
    return { status: 'valid' as const, upstreamRefreshToken: rotated };
  }

  return {
    kind: 'redirect',
    type: hooks.type,
    id: options.id,
    startSignIn,
    finishSignIn,
    revalidate,
  } satisfies RedirectConnector;
}
