/**
 * The validated, frozen configuration every part of the server reads. Produced once at start by
 * `loadConfig()` (config/load.ts; import from config/index.ts) from environment variables and the optional YAML file; never mutated.
 * Durations are in seconds unless the name says otherwise.
 */

export type Environment = 'development' | 'production';

/**
 * What proves a second factor for people who sign in through an upstream IdP, when their
 * organization requires 2-step verification (`policy.require_2sv`).
 * - `upstream_claims` (default): the IdP's own report — an `amr` with a second factor (`mfa`, `otp`,
 *   `hwk`…), or an `acr` / SAML `AuthnContextClassRef` naming a multi-factor context (the standard
 *   ones, plus `trustedAcr`). Without such a report Latchkey asks for its own second step.
 * - `latchkey`: always Latchkey's own second step (or its enrollment), whatever the IdP reports.
 * - `trust_upstream`: the IdP enforces a second factor itself and does not report it (Google Workspace
 *   with 2-Step Verification enforced, say): no check here. The administrator vouches for it.
 */
export interface ConnectionSecondFactor {
  proof: 'upstream_claims' | 'latchkey' | 'trust_upstream';
  /** `acr` / `AuthnContextClassRef` values that prove a second factor, beyond the standard ones. */
  trustedAcr: string[];
}

export type ConnectionConfig =
  | { type: 'local' }
  | {
      type: 'google';
      clientId: string;
      clientSecret: string;
      /** Overridable so tests and the demo can use a stand-in; defaults to https://accounts.google.com. */
      issuer: string;
      secondFactor: ConnectionSecondFactor;
    }
  | {
      type: 'oidc';
      issuer: string;
      clientId: string;
      clientSecret?: string | undefined;
      scopes: string[];
      prompt?: string | undefined;
      extraParams: Record<string, string>;
      /** Claim names to read; defaults sub/email/name/groups. */
      claims: { subject: string; email: string; name: string; groups: string };
      /** Microsoft Entra ID: pin the tenant (`tid`) and key accounts by `tid`+`oid`. */
      entraTenantId?: string | undefined;
      secondFactor: ConnectionSecondFactor;
      /** Client authentication at the token endpoint; unset = picked from the provider's discovery. */
      tokenEndpointAuthMethod?: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | undefined;
      /** PKCS#8 PEM for `private_key_jwt` (secret: stored encrypted). */
      privateKey?: string | undefined;
      /** The `kid` the provider registered for `privateKey`; default its RFC 7638 thumbprint. */
      privateKeyId?: string | undefined;
    }
  | {
      type: 'saml';
      /** IdP metadata XML, or a URL it is fetched (and refreshed) from. */
      idpMetadataXml?: string | undefined;
      idpMetadataUrl?: string | undefined;
      /** Attribute names to read; NameID is the subject unless `subject` names an attribute. */
      attributes: { subject?: string | undefined; email: string; name: string; groups: string };
      secondFactor: ConnectionSecondFactor;
      /** Latchkey's SP key (secret, stored encrypted) and certificate: signed requests, encrypted assertions. */
      spPrivateKey?: string | undefined;
      spCertificate?: string | undefined;
      /** Default: when the IdP's metadata wants signed AuthnRequests and there is an SP key. */
      signAuthnRequests?: boolean | undefined;
      authnRequestBinding?: 'redirect' | 'post' | undefined;
      wantAssertionsEncrypted?: boolean | undefined;
    };

export interface OrganizationPolicy {
  /** Local accounts must use 2-step verification. */
  require2sv: boolean;
  /** Client ids allowed to sign this organization's people in; empty = every client. */
  allowedClients: string[];
  /** Create users on their first upstream sign-in. */
  jitProvisioning: boolean;
  refreshIdleTtl: number;
  refreshAbsoluteTtl: number;
  /** After this many seconds since the last upstream sign-in the user must pass the upstream again. */
  maxUpstreamAge: number;
  /** How often a refresh re-validates the account with the upstream. */
  upstreamRevalidateInterval: number;
  /**
   * Which upstream identities sign in (`federation/identity-rule.ts`). Optional: policies stored before
   * it existed mean `organization_domains`.
   */
  acceptIdentities?: 'organization_domains' | 'any_verified' | 'any' | undefined;
}

/**
 * Display name, logo and accent colour of the pages (pages/brand.ts picks which one a page shows).
 * Every key is optional; what is unset falls back to the instance's.
 */
export interface BrandingConfig {
  displayName?: string | undefined;
  /** The image itself (read at start from a data: URI or a file), served from /assets/brand/. */
  logo?: { mediaType: string; base64: string } | undefined;
  /** `#rrggbb`, at least 4.5:1 against white (buttons carry white text on it). */
  accentColor?: string | undefined;
}

export interface OrganizationConfig {
  id: string;
  name: string;
  branding?: BrandingConfig | undefined;
  domains: string[];
  connection: ConnectionConfig;
  policy: OrganizationPolicy;
}

export interface ClientConfig {
  id: string;
  name: string;
  branding?: BrandingConfig | undefined;
  /** `native`: public desktop app (token_endpoint_auth_method none). `web`: confidential. */
  kind: 'native' | 'web';
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  deviceFlow: boolean;
  /** For `web` clients: `client_secret_basic`/`client_secret_post` with `secret`, or `private_key_jwt` with `jwks`. */
  tokenEndpointAuthMethod: 'none' | 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
  secret?: string | undefined;
  jwks?: { keys: Record<string, unknown>[] } | undefined;
  /** Shown on the handoff page for private-use-scheme clients ("Don't have the app? Download it"). */
  downloadUrl?: string | undefined;
  /** `ES256` unless the client asks for `RS256`. */
  idTokenSignedResponseAlg: 'ES256' | 'RS256';
  /**
   * RFC 9449: `required` refuses token requests without a DPoP proof; `optional` binds tokens when a
   * proof comes. Undefined (a client stored before the setting existed) means `optional`.
   */
  dpop?: 'required' | 'optional' | undefined;
}

export interface DpopConfig {
  /** Every proof must carry a server-issued nonce (RFC 9449 §8). */
  requireNonce: boolean;
}

export interface ResourceConfig {
  id: string;
  name: string;
  scopes: string[];
  accessTokenTtl?: number | undefined;
  /**
   * Client id → the scopes of this resource that client may have. Undefined: every client, every
   * scope (no `clients` key in the file). A client that is not a key gets no token for the resource.
   */
  clients?: Readonly<Record<string, readonly string[]>> | undefined;
}

export interface DevUserConfig {
  email: string;
  password?: string | undefined;
  totpSecret?: string | undefined;
  name?: string | undefined;
}

export interface LifetimesConfig {
  accessToken: number;
  idToken: number;
  authorizationCode: number;
  deviceCode: number;
  interaction: number;
  browserSession: number;
  /** Defaults for organizations that do not set their own. */
  refreshIdle: number;
  refreshAbsolute: number;
  /** Re-presenting a rotated refresh token within this window is forgiven once; 0 disables. */
  refreshReuseGrace: number;
  /** Live sign-out: a comment line on every open session events stream this often (http/session-events.ts). */
  sessionEventsHeartbeat: number;
}

export interface Argon2Config {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

export interface LatchkeyConfig {
  env: Environment;
  /** Public issuer URL, no trailing slash. */
  issuer: string;
  /** Address and port the HTTP server binds. */
  host: string;
  port: number;
  /** `sqlite:<path>` or `postgres://…`. */
  databaseUrl: string;
  /** The operator secret (resolved), used to derive encryption keys. Never logged. */
  secret: string;
  /** Where the secret came from, for messages: 'env', 'file:<path>' or 'generated:<path>'. */
  secretSource: string;
  redisUrl?: string | undefined;
  /** CIDRs / addresses whose X-Forwarded-* headers are trusted. */
  trustedProxies: string[];
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  lifetimes: LifetimesConfig;
  argon2: Argon2Config;
  dpop: DpopConfig;
  /** An organization for emails whose domain no organization claims; none by default. */
  defaultOrganization?: string | undefined;
  clients: ClientConfig[];
  resources: ResourceConfig[];
  organizations: OrganizationConfig[];
  /** Development only: local accounts created at start. Refused in production. */
  users: DevUserConfig[];
  /** Absolute path of the YAML file, if one was used. */
  configFile?: string | undefined;
  admin: AdminConfig;
  /** The instance's own brand: every page without an organization's or an app's (display name default "Latchkey"). */
  branding?: BrandingConfig | undefined;
}

export interface AdminConfig {
  /** Administrators declared in the file (by email); `organizationId` absent: instance administrator. */
  administrators: { email: string; organizationId?: string | undefined }[];
  /** Clients besides the console that may obtain access tokens for `<issuer>/admin/api`. */
  clients: string[];
}
