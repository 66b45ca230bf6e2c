import { buildOrganizations } from '../config/build.js';
import type { ConfigIssue } from '../config/errors.js';
import { fileSchema, issueMessage } from '../config/schema.js';
import type { ConnectionConfig, OrganizationConfig, OrganizationPolicy } from '../config/types.js';
import type { AdminContext } from './context.js';
import {
  defaultTxtResolver,
  hasVerificationRecord,
  newVerificationToken,
  type TxtResolver,
  verificationRecord,
} from './domain-verification.js';
import { AdminError } from './errors.js';

export interface OrganizationSummary {
  id: string;
  name: string;
  connection: string;
  domains: { domain: string; verified: boolean }[];
  policy: OrganizationPolicy;
  source: 'config' | 'admin';
}

export interface DomainSummary {
  domain: string;
  organizationId: string;
  verified: boolean;
  /** While unverified: the TXT record to publish on the domain. */
  txtRecord: string | null;
}

/**
 * Validates an organization exactly like the configuration file does (same schema, same defaults),
 * reporting problems by the CLI flag that carries the key: `connection.client_id` → `--client-id`.
 */
function validateOrganization(ctx: AdminContext, raw: Record<string, unknown>): OrganizationConfig {
  const parsed = fileSchema.safeParse({ organizations: [raw] }, { error: (issue) => issueMessage(issue) });
  const toFlag = (path: readonly PropertyKey[]) => {
    const keys = path.slice(2).filter((p): p is string => typeof p === 'string');
    const key = keys[0] === 'connection' || keys[0] === 'policy' ? keys.slice(1) : keys;
    return `--${key.join('-').replaceAll('_', '-') || 'type'}`;
  };
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    if (issue?.code === 'unrecognized_keys') {
      throw new AdminError(
        'invalid',
        `${toFlag([...issue.path, issue.keys[0] ?? ''])}: not a setting of this type`,
      );
    }
    throw new AdminError('invalid', `${toFlag(issue?.path ?? [])}: ${issue?.message ?? 'invalid'}`);
  }
  const issues: ConfigIssue[] = [];
  const clientIds = new Set(ctx.config.clients.map((c) => c.id));
  const [org] = buildOrganizations(parsed.data.organizations, clientIds, ctx.config.lifetimes, issues);
  if (issues[0]) throw new AdminError('invalid', `${issues[0].path}: ${issues[0].message}`);
  if (!org) throw new AdminError('invalid', 'invalid organization');
  return org;
}

function isDeclared(ctx: AdminContext, organizationId: string): boolean {
  return ctx.config.organizations.some((o) => o.id === organizationId);
}

function refuseDeclared(ctx: AdminContext, organizationId: string, what: string): void {
  if (!isDeclared(ctx, organizationId)) return;
  const where = ctx.config.configFile ? ` (${ctx.config.configFile})` : '';
  throw new AdminError(
    'declared_in_config',
    `organization ${organizationId} is declared in the configuration file${where}; change ${what} there (the file is applied at every start)`,
  );
}

export async function listOrganizations(ctx: AdminContext): Promise<OrganizationSummary[]> {
  const [orgs, domains] = await Promise.all([
    ctx.repos.organizations.listWithDetails(),
    ctx.repos.organizations.listDomains(),
  ]);
  return orgs.map((org) => ({
    id: org.id,
    name: org.name,
    connection: org.connection?.type ?? 'local',
    domains: domains
      .filter((d) => d.organizationId === org.id)
      .map((d) => ({ domain: d.domain, verified: d.verifiedAt !== null })),
    policy: org.policy,
    source: isDeclared(ctx, org.id) ? 'config' : 'admin',
  }));
}

async function requireOrganization(ctx: AdminContext, id: string) {
  const org = (await ctx.repos.organizations.listWithDetails()).find((o) => o.id === id);
  if (!org) throw new AdminError('not_found', `no organization ${id}`);
  return org;
}

export interface AddOrganizationInput {
  id: string;
  name: string;
  /** Domains the operator vouches for (verified at once); use `addDomain` with DNS verification otherwise. */
  domains?: string[] | undefined;
  require2sv?: boolean | undefined;
  jitProvisioning?: boolean | undefined;
}

/** A new organization with local accounts; `setConnection` points it at an upstream IdP. */
export async function addOrganization(
  ctx: AdminContext,
  input: AddOrganizationInput,
): Promise<OrganizationSummary> {
  const org = validateOrganization(ctx, {
    id: input.id,
    name: input.name,
    domains: (input.domains ?? []).map((d) => d.toLowerCase()),
    connection: { type: 'local' },
    policy: {
      ...(input.require2sv !== undefined ? { require_2sv: input.require2sv } : {}),
      ...(input.jitProvisioning !== undefined ? { jit_provisioning: input.jitProvisioning } : {}),
    },
  });
  if ((await ctx.repos.organizations.listWithDetails()).some((o) => o.id === org.id)) {
    throw new AdminError('already_exists', `organization ${org.id} already exists`);
  }
  for (const domain of org.domains) await refuseClaimedDomain(ctx, domain);
  await ctx.repos.organizations.upsertFromConfig(org);
  await ctx.audit({
    action: 'organization_added',
    organizationId: org.id,
    details: { domains: org.domains },
  });
  return (await listOrganizations(ctx)).find((o) => o.id === org.id) as OrganizationSummary;
}

/** Removes an organization with its domains and connection; refused while it has users. */
export async function removeOrganization(ctx: AdminContext, id: string): Promise<void> {
  await requireOrganization(ctx, id);
  refuseDeclared(ctx, id, 'it');
  const users = await ctx.repos.users.list({ organizationId: id, limit: 1 });
  if (users.length > 0) {
    throw new AdminError('in_use', `organization ${id} still has users; disable them or move them first`);
  }
  await ctx.repos.organizations.remove(id);
  await ctx.audit({ action: 'organization_removed', organizationId: id });
}

/**
 * Replaces the organization's one connection. `raw` uses the configuration file's keys
 * (`client_id`, `issuer`, `scopes`, …) and is validated by the same schema.
 */
export async function setConnection(
  ctx: AdminContext,
  organizationId: string,
  raw: { type: string } & Record<string, unknown>,
): Promise<{ organizationId: string; connection: Omit<ConnectionConfig, 'clientSecret'> }> {
  const current = await requireOrganization(ctx, organizationId);
  refuseDeclared(ctx, organizationId, 'its connection');
  const org = validateOrganization(ctx, { id: current.id, name: current.name, connection: raw });
  await ctx.repos.organizations.setConnection(
    organizationId,
    org.connection as { type: string } & Record<string, unknown>,
  );
  const { clientSecret: _secret, ...visible } = org.connection as ConnectionConfig & {
    clientSecret?: string;
  };
  await ctx.audit({
    action: 'connection_set',
    organizationId,
    details: { type: org.connection.type },
  });
  return { organizationId, connection: visible };
}

const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

async function refuseClaimedDomain(ctx: AdminContext, domain: string): Promise<void> {
  const owner = await ctx.repos.organizations.findDomain(domain);
  if (owner) {
    throw new AdminError(
      'already_exists',
      `domain ${domain} already belongs to organization ${owner.organizationId}`,
    );
  }
}

function summarizeDomain(d: {
  domain: string;
  organizationId: string;
  verificationToken: string | null;
  verifiedAt: number | null;
}): DomainSummary {
  return {
    domain: d.domain,
    organizationId: d.organizationId,
    verified: d.verifiedAt !== null,
    txtRecord: d.verifiedAt === null && d.verificationToken ? verificationRecord(d.verificationToken) : null,
  };
}

/**
 * Gives a domain to an organization. With `verify`, the domain routes nobody until `verifyDomain`
 * finds the TXT record; without it, the operator vouches for the domain and it routes at once.
 */
export async function addDomain(
  ctx: AdminContext,
  input: { organizationId: string; domain: string; verify?: boolean | undefined },
): Promise<DomainSummary> {
  const domain = input.domain.trim().toLowerCase();
  if (!DOMAIN.test(domain))
    throw new AdminError('invalid', `--domain: "${input.domain}" is not a domain name`);
  await requireOrganization(ctx, input.organizationId);
  await refuseClaimedDomain(ctx, domain);
  const token = input.verify ? newVerificationToken() : null;
  await ctx.repos.organizations.addDomain(input.organizationId, domain, token);
  await ctx.audit({
    action: 'domain_added',
    organizationId: input.organizationId,
    details: { domain, verification: token ? 'dns' : 'operator' },
  });
  const stored = await ctx.repos.organizations.findDomain(domain);
  return summarizeDomain(
    stored ?? { domain, organizationId: input.organizationId, verificationToken: token, verifiedAt: null },
  );
}

export async function listDomains(ctx: AdminContext): Promise<DomainSummary[]> {
  return (await ctx.repos.organizations.listDomains()).map(summarizeDomain);
}

export async function removeDomain(ctx: AdminContext, domain: string): Promise<void> {
  const stored = await ctx.repos.organizations.findDomain(domain);
  if (!stored) throw new AdminError('not_found', `no domain ${domain}`);
  refuseDeclared(ctx, stored.organizationId, 'its domains');
  await ctx.repos.organizations.removeDomain(stored.domain);
  await ctx.audit({
    action: 'domain_removed',
    organizationId: stored.organizationId,
    details: { domain: stored.domain },
  });
}

/** Looks for the domain's `latchkey-verification=<token>` TXT record and marks it verified when found. */
export async function verifyDomain(
  ctx: AdminContext,
  domain: string,
  resolver: TxtResolver = defaultTxtResolver,
): Promise<DomainSummary> {
  const stored = await ctx.repos.organizations.findDomain(domain);
  if (!stored) throw new AdminError('not_found', `no domain ${domain}`);
  if (stored.verifiedAt !== null) return summarizeDomain(stored);
  if (!stored.verificationToken)
    throw new AdminError('conflict', `domain ${stored.domain} has no verification token`);
  const found = await hasVerificationRecord(stored.domain, stored.verificationToken, resolver);
  await ctx.audit({
    action: 'domain_verified',
    outcome: found ? 'success' : 'failure',
    organizationId: stored.organizationId,
    details: { domain: stored.domain },
  });
  if (!found) {
    throw new AdminError(
      'verification_failed',
      `no TXT record "${verificationRecord(stored.verificationToken)}" found on ${stored.domain} (DNS changes can take a while to appear)`,
    );
  }
  await ctx.repos.organizations.markDomainVerified(stored.domain);
  return summarizeDomain({ ...stored, verifiedAt: Date.now() });
}

/** One organization, as listed. */
export async function getOrganization(ctx: AdminContext, id: string): Promise<OrganizationSummary> {
  const org = (await listOrganizations(ctx)).find((o) => o.id === id);
  if (!org) throw new AdminError('not_found', `no organization ${id}`);
  return org;
}

/**
 * Replaces an organization's policy. `raw` uses the configuration file's keys (`require_2sv`,
 * `allowed_clients`, `refresh_idle_ttl: 8h`, …) and is validated by the same schema; keys left out
 * take their defaults. Servers apply it at their next poll.
 */
export async function setPolicy(
  ctx: AdminContext,
  organizationId: string,
  raw: Record<string, unknown>,
): Promise<OrganizationSummary> {
  const current = await requireOrganization(ctx, organizationId);
  refuseDeclared(ctx, organizationId, 'its policy');
  const org = validateOrganization(ctx, {
    id: current.id,
    name: current.name,
    connection: { type: 'local' },
    policy: raw,
  });
  await ctx.repos.organizations.setPolicy(organizationId, org.policy);
  await ctx.audit({ action: 'organization_policy_set', organizationId, details: { policy: raw } });
  return getOrganization(ctx, organizationId);
}

/** The connection's visible settings (secrets left out, only whether one is stored). */
export async function getConnection(
  ctx: AdminContext,
  organizationId: string,
): Promise<{
  organizationId: string;
  type: string;
  settings: Record<string, unknown>;
  hasSecret: boolean;
  samlMetadataUrl?: string;
}> {
  await requireOrganization(ctx, organizationId);
  const connection = await ctx.repos.organizations.connection(organizationId);
  if (!connection) return { organizationId, type: 'local', settings: {}, hasSecret: false };
  return {
    organizationId,
    type: connection.type,
    settings: connection.settings,
    hasSecret: Object.keys(connection.secrets).length > 0,
    ...(connection.type === 'saml'
      ? { samlMetadataUrl: `${ctx.config.issuer}/saml/${encodeURIComponent(connection.id)}/metadata` }
      : {}),
  };
}
