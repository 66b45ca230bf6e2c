import { AdminError } from '../admin/errors.js';
import { findUser } from '../admin/users.js';
import type { User } from '../storage/repositories/users.js';
import type { Caller } from './auth.js';

/**
 * What each role may reach. An instance administrator reaches everything. An organization
 * administrator reaches their organizations' users (with their sessions and audit trail), domains
 * and connection. Outside that, objects of another organization answer 404 as if they did not
 * exist (an organization administrator cannot learn who works elsewhere), and instance-wide
 * resources (clients, keys, the whole audit log, administrators, policies) answer 403.
 */
export function mayReachOrganization(caller: Caller, organizationId: string): boolean {
  return caller.roles.instance || caller.roles.organizations.includes(organizationId);
}

export function requireOrganization(caller: Caller, organizationId: string): void {
  if (!mayReachOrganization(caller, organizationId)) {
    throw new AdminError('not_found', `no organization ${organizationId}`);
  }
}

/** The user named in the path, if the caller may reach their organization (else 404). */
export async function reachableUser(caller: Caller, emailOrId: string): Promise<User> {
  let user: User;
  try {
    user = await findUser(caller.ctx, emailOrId);
  } catch (error) {
    if (error instanceof AdminError) throw new AdminError('not_found', `no user ${emailOrId}`);
    throw error;
  }
  if (!mayReachOrganization(caller, user.organizationId)) {
    throw new AdminError('not_found', `no user ${emailOrId}`);
  }
  return user;
}

/** Undefined for an instance administrator (everything), else the organizations they administer. */
export function organizationsWithin(caller: Caller): readonly string[] | undefined {
  return caller.roles.instance ? undefined : caller.roles.organizations;
}
