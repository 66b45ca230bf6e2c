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

/**
 * Refuses password, reset-link and 2-step operations for a person whose organization signs in
 * through an upstream IdP: their password and second factor live there, and a local password would
 * never be asked for (or, worse, would open a second way in the IdP's policies know nothing about).
 */
async function refuseUpstreamManaged(ctx: AdminContext, organizationId: string, who: string, what: string) {
  const connection = await ctx.repos.organizations.connection(organizationId);
  if (connection && connection.type !== 'local') {
    throw new AdminError(
      'upstream_managed',
      `${who} signs in through ${connection.type === 'google' ? 'Google' : connection.type.toUpperCase()} (organization ${organizationId}): ${what} is managed at that identity provider, not by Latchkey`,
    );
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
  if (input.password !== undefined) await refuseUpstreamManaged(ctx, organizationId, email, 'the password');
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
  if (
    filter.organizationId !== undefined &&
    !(await ctx.repos.organizations.findById(filter.organizationId))
  ) {
    throw new AdminError('not_found', `--org: no organization ${filter.organizationId}`);
  }
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
  if (user.status === 'disabled') {
    throw new AdminError('conflict', `${user.email ?? user.id} is already disabled`);
  }
  const result = await disableUserEverywhere(
    { database: ctx.database, sessions: createSessionControl(ctx.database) },
    user.id,
    { actor: ctx.actor, reason: 'admin_disable', origin: ctx.origin },
  );
  if (!result) throw new AdminError('not_found', `no user ${emailOrId}`);
  return { user: summarize({ ...user, status: 'disabled' }), revoked: result.revoked };
}

export async function enableUser(ctx: AdminContext, emailOrId: string): Promise<UserSummary> {
  const user = await findUser(ctx, emailOrId);
  if (user.status === 'active')
    throw new AdminError('conflict', `${user.email ?? user.id} is already enabled`);
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
  await refuseUpstreamManaged(ctx, user.organizationId, user.email ?? user.id, 'the password');
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
  // A federated person may hold Latchkey's own second step (connection `second_factor: latchkey`,
  // or enrolled when the IdP proved none): that one can be reset here. Without any, their second
  // factor is the IdP's.
  const methods = await ctx.repos.credentials.methodsOf(user.id);
  if (!methods.totp && methods.passkeys === 0 && methods.recoveryCodes === 0) {
    await refuseUpstreamManaged(ctx, user.organizationId, user.email ?? user.id, '2-step verification');
  }
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
  await refuseUpstreamManaged(ctx, user.organizationId, user.email ?? user.id, 'the password');
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

export interface UserSearch {
  /** Part of the email or name (case-insensitive). */
  query?: string | undefined;
  status?: 'active' | 'disabled' | undefined;
  organizationId?: string | undefined;
  /** Only users of these organizations (an organization administrator's view). */
  withinOrganizations?: readonly string[] | undefined;
  /** The `next` of the previous page. */
  cursor?: string | undefined;
  limit?: number | undefined;
}

/**
 * Users matching a search, ordered by email then id, a page at a time: `next` is the cursor of the
 * following page (absent on the last). Keyset pagination, so a page stays correct while users are
 * added.
 */
export async function searchUsers(
  ctx: AdminContext,
  search: UserSearch = {},
): Promise<{ users: UserSummary[]; next?: string }> {
  const limit = Math.min(Math.max(search.limit ?? 50, 1), 200);
  let organizationIds = search.withinOrganizations;
  if (search.organizationId !== undefined) {
    organizationIds = (organizationIds ?? [search.organizationId]).filter((o) => o === search.organizationId);
  }
  const after = search.cursor ? decodeCursor(search.cursor) : undefined;
  const rows = await ctx.repos.users.search({
    query: search.query,
    status: search.status,
    organizationIds,
    after: after ? { email: after[0], id: after[1] } : undefined,
    limit: limit + 1,
  });
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  const users = page.map(summarize);
  return rows.length > limit && last
    ? { users, next: encodeCursor([last.email?.trim().toLowerCase() ?? '', last.id]) }
    : { users };
}

export function encodeCursor(parts: string[]): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

export function decodeCursor(cursor: string): [string, string] {
  try {
    const parts = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(parts) && parts.length === 2 && parts.every((p) => typeof p === 'string')) {
      return [String(parts[0]), String(parts[1])];
    }
  } catch {
    // fall through
  }
  throw new AdminError('invalid', 'cursor: not a cursor this server issued');
}

export interface UserDetails extends UserSummary {
  identities: {
    id: string;
    connectionId: string;
    subject: string;
    email: string | null;
    lastAuthenticatedAt: number;
    lastValidatedAt: number;
  }[];
  /** What the person can sign in with; never a hash, a TOTP secret or a passkey's key. */
  credentials: {
    password: boolean;
    totp: boolean;
    passkeys: { id: string; createdAt: number; lastUsedAt: number | null }[];
    recoveryCodesLeft: number;
  };
}

/** A user with their upstream identities and sign-in methods, without any secret. */
export async function userDetails(ctx: AdminContext, emailOrId: string): Promise<UserDetails> {
  const user = await findUser(ctx, emailOrId);
  const [identities, methods, passkeys] = await Promise.all([
    ctx.repos.users.identitiesOf(user.id),
    ctx.repos.credentials.methodsOf(user.id),
    ctx.repos.credentials.passkeys(user.id),
  ]);
  return {
    ...summarize(user),
    identities: identities.map((i) => ({
      id: i.id,
      connectionId: i.connectionId,
      subject: i.subject,
      email: i.email,
      lastAuthenticatedAt: i.lastAuthenticatedAt,
      lastValidatedAt: i.lastValidatedAt,
    })),
    credentials: {
      password: methods.password,
      totp: methods.totp,
      passkeys: passkeys.map((p) => ({ id: p.id, createdAt: p.createdAt, lastUsedAt: p.lastUsedAt })),
      recoveryCodesLeft: methods.recoveryCodes,
    },
  };
}
