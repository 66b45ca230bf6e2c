import { ServerError } from '../../errors/server-error.js';
/**
 * The seam for upstream identity providers, in the spirit of Dex's connector interfaces: a connector
 * declares what it can do through small capability interfaces, and per-connector state travels as
 * opaque data (`pending`) that Latchkey stores server-side (table `upstream_requests`) and never
 * shows to the user.
 */

/** What an upstream vouched for. Account linking uses `(connectionId, subject)`, never `email`. */
export interface VerifiedIdentity {
  connectionId: string;
  /** The upstream's stable subject (Entra: `tid`+`oid`; SAML: persistent NameID or mapped attribute). */
  subject: string;
  /** Present only when the upstream vouches for it (`emailVerified`). */
  email?: string | undefined;
  emailVerified: boolean;
  name?: string | undefined;
  groups: string[];
  /** When the upstream authenticated the user (epoch ms). */
  authenticatedAt: number;
  /** Kept encrypted on the identity for refresh re-validation, when the upstream issued one. */
  upstreamRefreshToken?: string | undefined;
  /**
   * The email as the upstream sent it, whether or not it vouches for it: the organization's identity
   * rule (`federation/identity-rule.ts`) reads this and `receivedEmailVerified`, never `raw`.
   */
  receivedEmail?: string | undefined;
  /** Whether the upstream vouches for `receivedEmail` (OIDC `email_verified`, Entra `xms_edov`; SAML: see the SAML connector). */
  receivedEmailVerified?: boolean | undefined;
  /** What to call the person when there is no name or email (the upstream's subject label: `preferred_username`, NameID…). */
  subjectLabel?: string | undefined;
  /** Claims or attributes as received, for audit and debugging; never rendered to the user. */
  raw: Record<string, unknown>;
  /** SAML: what an SP-initiated LogoutRequest must name (kept on the identity's profile at sign-in). */
  samlSession?: { nameIdFormat?: string | undefined; sessionIndex?: string | undefined } | undefined;
}

export interface StartSignInInput {
  /** Latchkey's callback URL for this connection (e.g. https://sso.example.com/upstream/callback). */
  callbackUrl: string;
  /** The opaque value Latchkey correlates the callback by (OIDC `state`, SAML `RelayState`). */
  state: string;
  /** The email typed on Latchkey's page, forwarded so the user does not type it twice. */
  loginHint?: string | undefined;
  /** The organization's domain the email belongs to (Google's `hd`). */
  domain?: string | undefined;
  /** Ask the upstream to authenticate again (`prompt=login` / `ForceAuthn`). */
  forceAuthn?: boolean | undefined;
}

export interface StartSignInResult {
  /** Where to send the browser. */
  url: string;
  /**
   * Instead of a redirect: a form the browser posts to `action` (SAML HTTP-POST binding), for IdPs
   * that want the AuthnRequest posted.
   */
  form?: { action: string; fields: Record<string, string> } | undefined;
  /** Connector state to keep server-side until the callback (PKCE verifier, nonce, request id…). */
  pending: Record<string, unknown>;
}

export interface FinishSignInInput {
  callbackUrl: string;
  /** The full callback URL as received (query parameters), for redirect-binding responses. */
  currentUrl: URL;
  /** Form fields of a POST callback (SAML HTTP-POST binding). */
  body?: Record<string, string> | undefined;
  pending: Record<string, unknown>;
}

/** A connector that sends the browser upstream and verifies what comes back. */
export interface RedirectConnector {
  readonly kind: 'redirect';
  readonly type: 'google' | 'oidc' | 'saml';
  readonly id: string;
  startSignIn(input: StartSignInInput): Promise<StartSignInResult>;
  finishSignIn(input: FinishSignInInput): Promise<VerifiedIdentity>;
  /**
   * Optional: re-checks the account upstream when a desktop app refreshes (upstream refresh token
   * where the IdP gave one). Resolves `valid` (optionally with a rotated upstream refresh token) or
   * `revoked` when the upstream refuses the account; throws UpstreamError when it cannot tell.
   */
  revalidate?(identity: {
    subject: string;
    upstreamRefreshToken?: string | undefined;
  }): Promise<{ status: 'valid'; upstreamRefreshToken?: string | undefined } | { status: 'revoked' }>;
}

/**
 * What a connector may use from its host, given once when it is built. Every field is optional so a
 * test passes only what it needs; connector kinds add fields here (e.g. a replay cache) as they need them.
 */
export interface ConnectorDeps {
  /** Used for every upstream HTTP call (tests, egress proxies). Defaults to the global `fetch`. */
  fetch?: typeof fetch | undefined;
  /** The clock, in epoch ms. Defaults to `Date.now`. */
  now?: (() => number) | undefined;
}

/** Stable codes for upstream failures; each maps to a readable page and an audit event. */
export type UpstreamErrorCode =
  | 'upstream_unreachable'
  | 'upstream_timeout'
  | 'access_denied'
  | 'invalid_response'
  | 'invalid_signature'
  | 'state_mismatch'
  | 'wrong_hosted_domain'
  | 'wrong_tenant'
  | 'email_unverified'
  | 'replayed'
  | 'expired'
  | 'wrong_audience'
  | 'subject_mismatch'
  | 'client_authentication_failed';

/** What the provider answered when it refused a back-channel request, for the administrator only. */
export interface ProviderAnswer {
  /** The HTTP status of the provider's answer. */
  status?: number | undefined;
  /** Its OAuth `error` code (RFC 6749 §5.2). */
  error?: string | undefined;
  /** Its `error_description`, cut short and stripped of control characters: logs and audit only, never a page. */
  description?: string | undefined;
}

export class UpstreamError extends ServerError {
  override readonly name = 'UpstreamError';
  declare readonly code: UpstreamErrorCode;
  constructor(
    code: UpstreamErrorCode,
    /** Safe to show to the user: no secrets, tokens or stack traces. */
    readonly publicMessage: string,
    options?: { cause?: unknown; provider?: ProviderAnswer | undefined },
  ) {
    super(code, `${code}: ${publicMessage}`, options?.cause === undefined ? {} : { cause: options.cause });
    this.provider = options?.provider;
  }
  /** What the provider said, when it refused a request of ours (token endpoint, UserInfo). */
  readonly provider: ProviderAnswer | undefined;
}
