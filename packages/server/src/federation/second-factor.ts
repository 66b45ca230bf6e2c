import type { ConnectionSecondFactor } from '../config/types.js';
import type { VerifiedIdentity } from './connectors/types.js';

/** RFC 8176 method values an upstream may report that Latchkey passes on next to `fed` in the ID token. */
export const UPSTREAM_AMR = new Set([
  'pwd',
  'otp',
  'mfa',
  'hwk',
  'swk',
  'sms',
  'face',
  'fpt',
  'pin',
  'rsa',
  'sc',
  'tel',
]);

/**
 * RFC 8176 values that are a second factor beside a password: `mfa` itself, one-time codes, keys held
 * in hardware or software, biometrics, smart cards, phone confirmation.
 */
const SECOND_FACTOR_AMR = new Set(['mfa', 'otp', 'hwk', 'swk', 'sms', 'tel', 'face', 'fpt', 'sc', 'rsa']);

/**
 * Authentication context values that name a multi-factor context: REFEDS MFA, OpenID PAPE's
 * multi-factor policy, Microsoft's (ADFS / Entra ID) multiple-authentication claim, and SAML 2.0's
 * authentication context classes for two-factor contracts, time-synchronised tokens and smart cards.
 */
export const STANDARD_MFA_CONTEXTS: readonly string[] = [
  'https://refeds.org/profile/mfa',
  'http://schemas.openid.net/pape/policies/2007/06/multi-factor',
  'http://schemas.openid.net/pape/policies/2007/06/multi-factor-physical',
  'http://schemas.microsoft.com/claims/multipleauthn',
  'urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract',
  'urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorUnregistered',
  'urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken',
  'urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard',
  'urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI',
];

/** How the upstream says it authenticated the person: OIDC `amr`/`acr`, SAML `AuthnContextClassRef`. */
export function upstreamAuthentication(identity: VerifiedIdentity): {
  amr: string[];
  acr: string | undefined;
} {
  const raw = identity.raw;
  const amr = Array.isArray(raw.amr) ? raw.amr.filter((m): m is string => typeof m === 'string') : [];
  const acr =
    typeof raw.acr === 'string'
      ? raw.acr
      : typeof raw.authnContextClassRef === 'string'
        ? raw.authnContextClassRef
        : undefined;
  return { amr, acr };
}

/** The connection setting when none is stored (connections saved before the setting existed). */
export const DEFAULT_SECOND_FACTOR: ConnectionSecondFactor = { proof: 'upstream_claims', trustedAcr: [] };

/**
 * Did the upstream prove a second factor, by the connection's rule (see ConnectionSecondFactor)?
 * Returns what proved it, for the audit log, or undefined.
 */
export function upstreamSecondFactor(
  identity: VerifiedIdentity,
  setting: ConnectionSecondFactor = DEFAULT_SECOND_FACTOR,
): string | undefined {
  if (setting.proof === 'trust_upstream') return 'trusted_connection';
  if (setting.proof === 'latchkey') return undefined;
  const { amr, acr } = upstreamAuthentication(identity);
  const method = amr.find((m) => SECOND_FACTOR_AMR.has(m));
  if (method) return `amr:${method}`;
  if (acr && (STANDARD_MFA_CONTEXTS.includes(acr) || setting.trustedAcr.includes(acr))) return `acr:${acr}`;
  return undefined;
}
