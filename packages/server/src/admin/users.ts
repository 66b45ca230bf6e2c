import { disableUserEverywhere } from '../domain/offboarding.js';
import { MAX_PASSWORD_LENGTH } from '../domain/passwords/password-hasher.js';
import { createPasswordResetLink, RESET_LINK_TTL_MS } from '../domain/reset-links.js';
import { createSessionControl } from '../domain/sessions.js';
import { twoStepKeys } from '../domain/throttle/attempt-keys.js';
import { accountKey, addressKey } from '../domain/throttle/throttle.js';
import type { User } from '../storage/repositories/users.js';
import type { AdminContext } from './context.js';
import { AdminError } from './errors.js';

export interface UserSummary {
  id: string;
  email: string | null;
  name: string | null;
  organizationId: string;
  status: 'active' | 'disabled';
  createdAt: number;
  lastSignInAt: number | null;
}

/** NIST SP 800-63B §5.1.1.2: at least 8 characters, no composition rules (as the account page). */
export const MIN_PASSWORD_LENGTH = 8;

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function summarize(user: User): UserSummary {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    organizationId: user.organizationId,
    status: user.status,
    createdAt: user.createdAt,
    lastSignInAt: user.lastSignInAt,
  };
}

function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new AdminError('invalid', `password (stdin): must have at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new AdminError('invalid', `password (stdin): must have at most ${MAX_PASSWORD_LENGTH} characters`);
  }
}

/** A user by email (or id); an unknown one is an `AdminError('not_found')`. */
export async function findUser(ctx: AdminContext, emailOrId: string): Promise<User> {
  const user = emailOrId.includes('@')
    ? await ctx.repos.users.findByEmail(emailOrId)
    : await ctx.repos.users.findById(emailOrId);
  if (!user) throw new AdminError('not_found', `no user ${emailOrId}`);
  return user;
}

export interface AddUserInput {
  email: string;
  name?: string | undefined;
  /** Defaults to the organization that owns the email's (verified) domain. */
  organizationId?: string | undefined;
  /** A local-account password; absent for users who sign in through an upstream IdP. */
  password?: string | undefined;
}

export async function addUser(ctx: AdminContext, input: AddUserInput): Promise<UserSummary> {
  const email = input.email.trim();
  if (!EMAIL.test(email)) throw new AdminError('invalid', `--email: "${email}" is not an email address`);
  if (input.password !== undefined) checkPassword(input.password);
  const organizations = await ctx.repos.organizations.listWithDetails();
  let organizationId = input.organizationId;
  if (organizationId !== undefined) {
    if (!organizations.some((o) => o.id === organizationId)) {
      throw new AdminError('not_found', `--org: no organization ${organizationId}`);
    }
  } else {
    const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase();
    organizationId = organizations.find((o) => o.domains.includes(domain))?.id;
    if (!organizationId) {
      throw new AdminError(
        'not_found',
        `no organization owns the domain ${domain}; add the domain (admin domains add) or give --org`,
      );
    }
  }
  if (await ctx.repos.users.findByEmail(email)) {
    throw new AdminError('already_exists', `a user with email ${email} already exists`);
  }
  const user = await ctx.repos.users.create({ organizationId, email, name: input.name });
  if (input.password !== undefined) {
    await ctx.repos.credentials.setPassword(user.id, await ctx.hasher().hash(input.password));
  }
  await ctx.audit({
    action: 'user_added',
    userId: user.id,
    organizationId,
    details: { password: input.password !== undefined },
  });
  return summarize(user);
}

export async function listUsers(
  ctx: AdminContext,
  filter: { organizationId?: string | undefined } = {},
): Promise<UserSummary[]> {
  const users = await ctx.repos.users.list(
    filter.organizationId ? { organizationId: filter.organizationId } : {},
  );
  return users.map(summarize);
}

/**
 * Disables a user and revokes everything they hold — sessions, grants, codes, refresh tokens — with
 * the audit event, in one transaction (domain/offboarding.ts, shared with SCIM deprovisioning), so
 * the desktop apps' next refresh fails and sends them back to sign-in. A disabled user cannot sign
 * in again, and an upstream sign-in does not re-enable them.
 */
export async function disableUser(
  ctx: AdminContext,
  emailOrId: string,
): Promise<{ user: UserSummary; revoked: number }> {
  const user = await findUser(ctx, emailOrId);
  const result = await disableUserEverywhere(
    { database: ctx.database, sessions: createSessionControl(ctx.database) },
    user.id,
    { actor: ctx.actor, reason: 'admin_disable' },
  );
  if (!result) throw new AdminError('not_found', `no user ${emailOrId}`);
  return { user: summarize({ ...user, status: 'disabled' }), revoked: result.revoked };
}

export async function enableUser(ctx: AdminContext, emailOrId: string): Promise<UserSummary> {
  const user = await findUser(ctx, emailOrId);
  await ctx.repos.users.setStatus(user.id, 'active');
  await ctx.audit({ action: 'user_enabled', userId: user.id, organizationId: user.organizationId });
  return summarize({ ...user, status: 'active' });
}

export async function setPassword(
  ctx: AdminContext,
  emailOrId: string,
  password: string,
): Promise<UserSummary> {
  const user = await findUser(ctx, emailOrId);
  checkPassword(password);
  await ctx.repos.credentials.setPassword(user.id, await ctx.hasher().hash(password));
  // Setting a password is the standard remedy for a compromised account: whoever knew the old one
  // (a thief's browser session, a desktop refresh token taken with it) is signed out everywhere.
  const revoked = await createSessionControl(ctx.database).revokeAll(user.id, 'password_changed');
  await ctx.audit({
    action: 'password_set',
    userId: user.id,
    organizationId: user.organizationId,
    details: { revokedRecords: revoked },
  });
  return summarize(user);
}

/**
 * Removes every second factor (TOTP, passkeys, recovery codes), for a user who lost their device,
 * and signs them out everywhere. Under a `require_2sv` policy they enroll again at their next sign-in.
 */
export async function resetTwoStep(
  ctx: AdminContext,
  emailOrId: string,
): Promise<{ user: UserSummary; removed: { totp: number; passkeys: number; recoveryCodes: number } }> {
  const user = await findUser(ctx, emailOrId);
  const removed = {
    totp: await ctx.repos.credentials.removeType(user.id, 'totp'),
    passkeys: await ctx.repos.credentials.removeType(user.id, 'webauthn'),
    recoveryCodes: await ctx.repos.credentials.removeType(user.id, 'recovery_code'),
  };
  // A lost or stolen device: its sessions and desktop refresh tokens end with its second factor.
  const revokedRecords = await createSessionControl(ctx.database).revokeAll(user.id, 'two_step_reset');
  await ctx.audit({
    action: '2sv_reset',
    userId: user.id,
    organizationId: user.organizationId,
    details: { ...removed, revokedRecords },
  });
  return { user: summarize(user), removed };
}

/**
 * Clears the attempt throttle for a user's account (by id and by email, the two keys the sign-in
 * pages use) and optionally for one client address.
 */
export async function clearThrottle(
  ctx: AdminContext,
  emailOrId: string,
  address?: string,
): Promise<{ user: UserSummary; cleared: string[]; shared: boolean }> {
  const user = await findUser(ctx, emailOrId);
  const keys = [accountKey(user.id)];
  if (user.email) keys.push(accountKey(user.email));
  // 2-step guesses count under keys of their own (domain/throttle/attempt-keys.ts).
  keys.push(twoStepKeys(user.id, '0.0.0.0').account);
  if (address !== undefined) keys.push(addressKey(address));
  if (address !== undefined) keys.push(twoStepKeys(user.id, address).address);
  const { throttle, shared } = ctx.throttle();
  for (const key of keys) await throttle.clear(key);
  await ctx.audit({
    action: 'throttle_cleared',
    outcome: 'info',
    userId: user.id,
    organizationId: user.organizationId,
    details: { keys, shared },
  });
  return { user: summarize(user), cleared: keys, shared };
}

/**
 * A one-time link that lets the user choose a new password (no mail server needed: the operator
 * hands it over), made by the same domain function as the reset page reads (domain/reset-links.ts),
 * so the link and the page agree on hashing and lifetime; its audit event names the operator.
 */
export async function createResetLink(
  ctx: AdminContext,
  emailOrId: string,
): Promise<{ user: UserSummary; url: string; expiresAt: number }> {
  const user = await findUser(ctx, emailOrId);
  if (user.status !== 'active') throw new AdminError('conflict', `user ${user.email ?? user.id} is disabled`);
  const expiresAt = Date.now() + RESET_LINK_TTL_MS;
  const url = await createPasswordResetLink(
    {
      actionTokens: ctx.repos.actionTokens,
      audit: (event) => ctx.repos.audit.append({ ...event, organizationId: user.organizationId }),
      issuer: ctx.config.issuer,
    },
    user.id,
    ctx.actor,
  );
  return { user: summarize(user), url, expiresAt };
}
