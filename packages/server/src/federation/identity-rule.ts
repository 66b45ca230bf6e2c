import type { VerifiedIdentity } from './connectors/types.js';

/**
 * Which upstream identities an organization accepts (`policy.accept_identities`), one rule for every
 * connector kind (google, oidc, saml):
 * - `organization_domains` (default): the upstream vouches for the email and its domain is one of the
 *   organization's. An IdP that authenticates anyone (a shared tenant, guests, a misconfigured app)
 *   cannot sign a stranger in to the organization.
 * - `any_verified`: any email the upstream vouches for (contractors and guests with their own domains).
 * - `any`: whatever the upstream authenticated, with or without an email.
 */
export type AcceptIdentities = 'organization_domains' | 'any_verified' | 'any';

export const ACCEPT_IDENTITIES: readonly AcceptIdentities[] = ['organization_domains', 'any_verified', 'any'];

/** Why the rule refused: the claim that failed it, for the page and the audit event. */
export interface IdentityRuleRefusal {
  /** The claim the rule read (`email` is the SAML email attribute for SAML connections). */
  claim: 'email' | 'email_verified';
  problem: 'missing' | 'unverified' | 'outside_domains';
}

/**
 * Checks a verified identity against the organization's rule; `undefined` when it is accepted. Reads
 * the email as the upstream sent it (`receivedEmail`), falling back to the vouched-for `email` for
 * connectors that do not report it.
 */
export function checkIdentityRule(
  identity: Pick<VerifiedIdentity, 'email' | 'emailVerified' | 'receivedEmail' | 'receivedEmailVerified'>,
  domains: readonly string[],
  accept: AcceptIdentities | undefined,
): IdentityRuleRefusal | undefined {
  const rule = accept ?? 'organization_domains';
  if (rule === 'any') return undefined;
  const email = (identity.receivedEmail ?? identity.email)?.trim().toLowerCase();
  const verified = identity.receivedEmailVerified ?? identity.emailVerified;
  if (!email) return { claim: 'email', problem: 'missing' };
  if (!verified) return { claim: 'email_verified', problem: 'unverified' };
  if (rule === 'any_verified') return undefined;
  const domain = email.slice(email.lastIndexOf('@') + 1);
  if (!domains.some((d) => d.toLowerCase() === domain)) return { claim: 'email', problem: 'outside_domains' };
  return undefined;
}
