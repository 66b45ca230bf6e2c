import { createOidcConnectorWith } from './oidc-connector.js';
import { type ConnectorDeps, type RedirectConnector, UpstreamError } from './types.js';

export const GOOGLE_ISSUER = 'https://accounts.google.com';

export interface GoogleConnectorOptions {
  /** The connection id. */
  id: string;
  clientId: string;
  clientSecret: string;
  /** Default https://accounts.google.com; a stand-in's issuer in tests and the demo. */
  issuer?: string | undefined;
  /** The organization's domains: the ID token's `hd` claim must be one of them. */
  domains: string[];
  timeoutMs?: number | undefined;
  fetch?: typeof fetch | undefined;
  /**
   * The organization's identity rule. The hosted-domain (`hd`) check is the Workspace form of
   * `organization_domains`; an organization that accepts other identities (contractors with personal
   * or other Workspace accounts) lets the common rule decide instead.
   */
  acceptIdentities?: 'organization_domains' | 'any_verified' | 'any' | undefined;
}

/**
 * Google Workspace sign-in: OpenID Connect plus Google's rules.
 *
 * - `login_hint` carries the email typed on Latchkey's page and `hd` the organization's domain, so the
 *   user neither types the email again nor picks a personal account. `hd` as a *parameter* is only a
 *   UI hint that anyone can strip from the URL; the `hd` *claim* in the verified ID token is what
 *   proves the account belongs to the Workspace, and it is checked on every sign-in and refresh.
 * - `email_verified` must be true, as an unverified address proves nothing about who signed in.
 */
export function createGoogleConnector(
  options: GoogleConnectorOptions,
  deps: ConnectorDeps = {},
): RedirectConnector {
  const domains = new Set(options.domains.map((d) => d.toLowerCase()));
  if (domains.size === 0)
    throw new Error(`connection ${options.id}: a Google connection needs at least one domain`);
  const [onlyDomain] = domains;

  return createOidcConnectorWith(
    {
      id: options.id,
      issuer: options.issuer ?? GOOGLE_ISSUER,
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      scopes: ['openid', 'email', 'profile'],
      // Google ignores the `offline_access` scope and issues a refresh token only for
      // `access_type=offline`. It does so only when the user consents for this client: later sign-ins
      // return no refresh token (unless `prompt=consent`, which would show the consent screen every
      // time), and it keeps at most about 100 live refresh tokens per account and client, silently
      // revoking the oldest. So a sign-in without `upstreamRefreshToken` means "keep the one you
      // have", not "forget it", and revalidation must tolerate a refresh token that has aged out.
      extraParams: { access_type: 'offline' },
      timeoutMs: options.timeoutMs,
      fetch: options.fetch,
    },
    deps,
    {
      type: 'google',
      authorizationParams(input, params) {
        const domain = input.domain?.toLowerCase();
        // One domain: hint it. Several and the email's is unknown: `*` still hides personal accounts.
        params.hd =
          domain && domains.has(domain) ? domain : domains.size === 1 && onlyDomain ? onlyDomain : '*';
        // Google documents prompt values none, consent and select_account only; a fresh sign-in is
        // asked for with `max_age=0` (set by the OIDC connector) and checked against `auth_time`.
        if (params.prompt) {
          const prompt = params.prompt
            .split(' ')
            .filter((p) => p !== 'login')
            .join(' ');
          if (prompt) params.prompt = prompt;
          else delete params.prompt;
        }
      },
      checkClaims(claims, phase) {
        const rule = options.acceptIdentities ?? 'organization_domains';
        if (rule === 'any') return;
        if (phase === 'sign-in' && claims.email_verified !== true && rule === 'any_verified') {
          throw new UpstreamError(
            'email_unverified',
            'Google has not verified the email address of this account.',
          );
        }
        if (rule !== 'organization_domains') return;
        const hd = typeof claims.hd === 'string' ? claims.hd.toLowerCase() : undefined;
        if (!hd || !domains.has(hd)) {
          throw new UpstreamError(
            'wrong_hosted_domain',
            'This Google account does not belong to your organization. Sign in with your work account.',
          );
        }
        // ID tokens from a refresh may omit the email claims; the account was verified at sign-in.
        if (phase === 'sign-in' && claims.email_verified !== true) {
          throw new UpstreamError(
            'email_unverified',
            'Google has not verified the email address of this account.',
          );
        }
      },
    },
  );
}
