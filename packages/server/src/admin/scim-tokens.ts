import { newScimToken } from '../domain/scim-tokens.js';
import type { ScimToken } from '../storage/repositories/scim.js';
import type { AdminContext } from './context.js';
import { AdminError } from './errors.js';

/**
 * SCIM provisioning tokens of an organization (docs/scim.md): the bearer token an administrator
 * pastes into Entra ID's or Okta's provisioning settings. Kept as their own operations so the admin
 * API can expose them beside the CLI.
 */

export interface ScimTokenSummary {
  id: string;
  organizationId: string;
  label: string | null;
  createdBy: string | null;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

const summarize = (t: ScimToken): ScimTokenSummary => ({ ...t });

/** The SCIM base URL of an organization: what the IdP calls the "Tenant URL" / "SCIM connector base URL". */
export function scimBaseUrl(issuer: string, organizationId: string): string {
  return `${issuer.replace(/\/$/, '')}/scim/v2/${encodeURIComponent(organizationId)}`;
}

/** Creates a token; the returned `token` is the only time its value exists outside the IdP. */
export async function createScimToken(
  ctx: AdminContext,
  input: { organizationId: string; label?: string | undefined },
): Promise<{ token: string; url: string; summary: ScimTokenSummary }> {
  const org = await ctx.repos.organizations.findById(input.organizationId);
  if (!org) throw new AdminError('not_found', `--org: no organization ${input.organizationId}`);
  const { token, hash } = newScimToken();
  const created = await ctx.repos.scim.tokens.create({
    organizationId: org.id,
    tokenHash: hash,
    label: input.label,
    createdBy: ctx.actor,
  });
  await ctx.audit({
    action: 'scim_token_created',
    organizationId: org.id,
    details: { tokenId: created.id, label: created.label },
  });
  return { token, url: scimBaseUrl(ctx.config.issuer, org.id), summary: summarize(created) };
}

export async function listScimTokens(
  ctx: AdminContext,
  filter: { organizationId?: string | undefined } = {},
): Promise<ScimTokenSummary[]> {
  return (await ctx.repos.scim.tokens.list(filter.organizationId)).map(summarize);
}

/** Revokes a token at once: the next SCIM request with it is refused on every server process. */
export async function revokeScimToken(
  ctx: AdminContext,
  input: { id: string; organizationId?: string | undefined },
): Promise<ScimTokenSummary> {
  const token = await ctx.repos.scim.tokens.find(input.id);
  if (!token || (input.organizationId !== undefined && token.organizationId !== input.organizationId)) {
    throw new AdminError(
      'not_found',
      `no SCIM token ${input.id}${input.organizationId ? ` in ${input.organizationId}` : ''}`,
    );
  }
  if (token.revokedAt !== null) throw new AdminError('conflict', `SCIM token ${input.id} is already revoked`);
  await ctx.repos.scim.tokens.revoke(token.id);
  await ctx.audit({
    action: 'scim_token_revoked',
    organizationId: token.organizationId,
    details: { tokenId: token.id, label: token.label },
  });
  return summarize({ ...token, revokedAt: Date.now() });
}
