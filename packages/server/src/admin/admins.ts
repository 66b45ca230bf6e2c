import type { User } from '../storage/repositories/users.js';
import type { AdminContext } from './context.js';
import { AdminError } from './errors.js';
import { findUser } from './users.js';

/**
 * Who may use the admin API and the console. Two roles:
 * - instance administrator: everything;
 * - organization administrator of one organization: that organization's users (and their sessions
 *   and audit trail), domains and connection; nothing else.
 *
 * Grants come from two places, read together at every request: the `administrators` table
 * (`latchkey admin admins grant`, the API) and the configuration file's `admin.administrators`
 * (by email, so a person federated in later is an administrator from their first sign-in). A grant
 * the file declares cannot be revoked here (`declared_in_config`): the file would bring it back at
 * the next start, and an administrator's revoke must not be silently undone.
 */

export interface AdminGrant {
  userId: string;
  email: string | null;
  /** null: instance administrator. */
  organizationId: string | null;
  role: 'instance_admin' | 'organization_admin';
  source: 'config' | 'admin';
  grantedBy: string | null;
  createdAt: number | null;
}

export interface Roles {
  instance: boolean;
  /** Organizations the user administers (empty for an instance administrator who has no other). */
  organizations: string[];
}

function declared(ctx: AdminContext, email: string | null): { organizationId: string | null }[] {
  if (!email) return [];
  const key = email.trim().toLowerCase();
  return ctx.config.admin.administrators
    .filter((a) => a.email.toLowerCase() === key)
    .map((a) => ({ organizationId: a.organizationId ?? null }));
}

/** The roles of one user (database and file together); a disabled user has none. */
export async function rolesOf(ctx: AdminContext, user: User): Promise<Roles> {
  if (user.status !== 'active') return { instance: false, organizations: [] };
  const scopes = [
    ...(await ctx.repos.administrators.scopesOf(user.id)),
    ...declared(ctx, user.email).map((d) => d.organizationId),
  ];
  return {
    instance: scopes.includes(null),
    organizations: [...new Set(scopes.filter((s): s is string => s !== null))].sort(),
  };
}

async function requireOrganization(ctx: AdminContext, id: string): Promise<void> {
  if (!(await ctx.repos.organizations.findById(id))) {
    throw new AdminError('not_found', `--organization: no organization ${id}`);
  }
}

export async function grantAdmin(
  ctx: AdminContext,
  input: { user: string; organizationId?: string | undefined },
): Promise<AdminGrant> {
  const user = await findUser(ctx, input.user);
  const organizationId = input.organizationId ?? null;
  if (organizationId !== null) await requireOrganization(ctx, organizationId);
  const existing = await ctx.repos.administrators.exists(user.id, organizationId);
  if (existing || declared(ctx, user.email).some((d) => d.organizationId === organizationId)) {
    throw new AdminError(
      'already_exists',
      `${user.email ?? user.id} is already ${organizationId ? `an administrator of ${organizationId}` : 'an instance administrator'}`,
    );
  }
  const createdAt = Date.now();
  await ctx.repos.administrators.grant({
    userId: user.id,
    organizationId,
    grantedBy: ctx.actor,
    at: createdAt,
  });
  await ctx.audit({
    action: 'admin_granted',
    userId: user.id,
    organizationId: organizationId ?? user.organizationId,
    details: { role: organizationId ? 'organization_admin' : 'instance_admin', scope: organizationId ?? '*' },
  });
  return {
    userId: user.id,
    email: user.email,
    organizationId,
    role: organizationId ? 'organization_admin' : 'instance_admin',
    source: 'admin',
    grantedBy: ctx.actor,
    createdAt,
  };
}

export async function revokeAdmin(
  ctx: AdminContext,
  input: { user: string; organizationId?: string | undefined },
): Promise<{ userId: string; organizationId: string | null }> {
  const user = await findUser(ctx, input.user);
  const organizationId = input.organizationId ?? null;
  const what = organizationId ? `administrator of ${organizationId}` : 'instance administrator';
  if (declared(ctx, user.email).some((d) => d.organizationId === organizationId)) {
    const where = ctx.config.configFile ? ` (${ctx.config.configFile})` : '';
    throw new AdminError(
      'declared_in_config',
      `${user.email} is ${what} by the configuration file${where}, admin.administrators; remove it there (the file is read at every start)`,
    );
  }
  if (!(await ctx.repos.administrators.revoke(user.id, organizationId))) {
    throw new AdminError('not_found', `${user.email ?? user.id} is not ${what}`);
  }
  await ctx.audit({
    action: 'admin_revoked',
    userId: user.id,
    organizationId: organizationId ?? user.organizationId,
    details: { role: organizationId ? 'organization_admin' : 'instance_admin', scope: organizationId ?? '*' },
  });
  return { userId: user.id, organizationId };
}

/** Every grant, from the database and the file; `organizationId` narrows to one organization's. */
export async function listAdmins(
  ctx: AdminContext,
  filter: { organizationId?: string | undefined } = {},
): Promise<AdminGrant[]> {
  if (filter.organizationId !== undefined) await requireOrganization(ctx, filter.organizationId);
  const grants: AdminGrant[] = (await ctx.repos.administrators.list()).map((r) => ({
    ...r,
    role: r.organizationId ? 'organization_admin' : 'instance_admin',
    source: 'admin',
  }));
  for (const entry of ctx.config.admin.administrators) {
    const user = await ctx.repos.users.findByEmail(entry.email);
    grants.push({
      userId: user?.id ?? '',
      email: entry.email,
      organizationId: entry.organizationId ?? null,
      role: entry.organizationId ? 'organization_admin' : 'instance_admin',
      source: 'config',
      grantedBy: null,
      createdAt: null,
    });
  }
  return filter.organizationId === undefined
    ? grants
    : grants.filter((g) => g.organizationId === filter.organizationId);
}
