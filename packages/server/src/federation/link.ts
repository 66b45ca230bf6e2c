import type { OrganizationPolicy } from '../config/types.js';
import { DuplicateError } from '../storage/errors.js';
import type { Repositories } from '../storage/repositories.js';
import type { VerifiedIdentity } from './connectors/types.js';
import { checkIdentityRule, type IdentityRuleRefusal } from './identity-rule.js';

/** Why Latchkey itself (not the upstream) refused a verified identity; each has a page and an audit event. */
export type LinkRefusal =
  | 'not_provisioned'
  | 'account_disabled'
  | 'wrong_organization'
  | 'email_taken'
  | 'wrong_connection'
  | 'identity_not_accepted';

export type LinkResult =
  | { ok: true; userId: string; created: boolean; linked: boolean }
  | {
      ok: false;
      reason: LinkRefusal;
      userId?: string | undefined;
      /** For `identity_not_accepted`: the claim that failed the organization's identity rule. */
      refusal?: IdentityRuleRefusal | undefined;
    };

export interface LinkInput {
  identity: VerifiedIdentity;
  organization: { id: string; domains: string[]; policy: OrganizationPolicy; connectionId: string };
}

/** An email is trusted only when the upstream vouched for it and its domain is the organization's (nOAuth). */
export function trustedEmail(identity: VerifiedIdentity, domains: readonly string[]): string | undefined {
  const email = identity.emailVerified ? identity.email?.trim().toLowerCase() : undefined;
  if (!email) return undefined;
  const domain = email.slice(email.lastIndexOf('@') + 1);
  return domains.some((d) => d.toLowerCase() === domain) ? email : undefined;
}

/** The upstream's `preferred_username` claim (OpenID Connect upstreams), as a label only. */
function upstreamUsername(identity: VerifiedIdentity): string | undefined {
  const value = identity.raw.preferred_username;
  return typeof value === 'string' && value.trim() && value.length <= 256 ? value.trim() : undefined;
}

function profileOf(identity: VerifiedIdentity): Record<string, unknown> {
  const username = upstreamUsername(identity);
  return {
    groups: identity.groups,
    ...(username ? { preferred_username: username } : {}),
    ...(identity.subjectLabel ? { label: identity.subjectLabel } : {}),
    ...(identity.name ? { name: identity.name } : {}),
    ...(identity.email ? { email: identity.email } : {}),
    // The last SAML sign-in's NameID format and SessionIndex: SP-initiated logout names them.
    ...(identity.samlSession ? { saml_session: identity.samlSession } : {}),
  };
}

/**
 * Finds or creates the Latchkey user for a verified upstream identity, as a short pipeline:
 *
 * 1. Known identity — looked up by (connection, upstream subject) only, never by email: its user,
 *    if that user is in this organization and active. A disabled user stays out; nothing here ever
 *    re-enables or re-creates one.
 * 2. Unknown identity with a trusted email (vouched for by the upstream, in one of the organization's
 *    domains) that names an existing user of this organization, or whose subject is the `externalId`
 *    of a user the organization provisioned over SCIM: the user set up in advance gets this identity linked — the only way an email leads to an account, and only once
 *    per connection (a user already linked to another subject of this connection is refused, so two
 *    upstream accounts never merge into one).
 * 3. Otherwise, just-in-time creation when the policy allows it, with the trusted email (or none).
 */
export async function linkIdentity(
  repos: Pick<Repositories, 'users'> & Partial<Pick<Repositories, 'scim'>>,
  input: LinkInput,
): Promise<LinkResult> {
  const { identity, organization } = input;
  if (identity.connectionId !== organization.connectionId) return { ok: false, reason: 'wrong_connection' };
  // 0. The organization's identity rule, on every sign-in (an upstream email can change).
  const refusal = checkIdentityRule(identity, organization.domains, organization.policy.acceptIdentities);
  if (refusal) return { ok: false, reason: 'identity_not_accepted', refusal };
  const upstreamRefreshToken = identity.upstreamRefreshToken;

  // 1. Known identity.
  const known = await repos.users.findIdentity(identity.connectionId, identity.subject);
  if (known) {
    const user = await repos.users.findById(known.userId);
    if (!user || user.organizationId !== organization.id) {
      return { ok: false, reason: 'wrong_organization', userId: known.userId };
    }
    if (user.status !== 'active') return { ok: false, reason: 'account_disabled', userId: user.id };
    await repos.users.updateIdentity(known.id, {
      profile: profileOf(identity),
      email: identity.email ?? null,
      // Google returns a refresh token only on the first consent: absent means "keep the one you have".
      ...(upstreamRefreshToken ? { upstreamRefreshToken } : {}),
      authenticated: true,
    });
    return { ok: true, userId: user.id, created: false, linked: false };
  }

  // 2. A user set up in advance, found by a trusted email — or provisioned by the organization's own
  //    directory over SCIM with this upstream subject as its externalId (Okta sends its user id, which
  //    is the OIDC `sub`): both the SCIM record and the identity come from this organization's IdP.
  const email = trustedEmail(identity, organization.domains);
  let existing = email ? await repos.users.findByEmail(email) : undefined;
  if (!existing && repos.scim) {
    const [provisioned] = await repos.scim.users.find(organization.id, {
      by: 'externalId',
      value: identity.subject,
    });
    if (provisioned) existing = await repos.users.findById(provisioned.id);
  }
  if (existing) {
    if (existing.organizationId !== organization.id) {
      return { ok: false, reason: 'wrong_organization', userId: existing.id };
    }
    if (existing.status !== 'active') return { ok: false, reason: 'account_disabled', userId: existing.id };
    const linked = (await repos.users.identitiesOf(existing.id)).find(
      (i) => i.connectionId === identity.connectionId,
    );
    // Linked to this very subject since step 1 looked (a concurrent first sign-in): a known identity.
    if (linked?.subject === identity.subject) return linkIdentity(repos, input);
    if (linked) return { ok: false, reason: 'email_taken', userId: existing.id };
    return link(existing.id, false);
  }

  // 3. Just-in-time provisioning.
  if (!organization.policy.jitProvisioning) return { ok: false, reason: 'not_provisioned' };
  let created: { id: string };
  try {
    created = await repos.users.create({
      organizationId: organization.id,
      email: email ?? null,
      name: identity.name ?? null,
    });
  } catch (error) {
    // A concurrent first sign-in of the same person created the user: take the path of a known user.
    if (error instanceof DuplicateError) return linkIdentity(repos, input);
    throw error;
  }
  return link(created.id, true);

  async function link(userId: string, created: boolean): Promise<LinkResult> {
    try {
      await repos.users.linkIdentity({
        userId,
        connectionId: identity.connectionId,
        subject: identity.subject,
        email: identity.email ?? null,
        profile: profileOf(identity),
        upstreamRefreshToken: upstreamRefreshToken ?? null,
      });
    } catch (error) {
      if (!(error instanceof DuplicateError)) throw error;
      // The same identity was linked concurrently (to this user, or to another one).
      const winner = await repos.users.findIdentity(identity.connectionId, identity.subject);
      if (winner?.userId === userId) return { ok: true, userId, created, linked: true };
      // A user created just now for it stays unused and is disabled: no half-created account signs in.
      if (created) await repos.users.setStatus(userId, 'disabled');
      return linkIdentity(repos, input);
    }
    return { ok: true, userId, created, linked: true };
  }
}
