import type { ConnectionSecondFactor, OrganizationPolicy } from '../config/types.js';
import type { Repositories } from '../storage/repositories.js';

export type ConnectionType = 'local' | 'google' | 'oidc' | 'saml';

/** An organization as routing, sign-in and the protocol's lifetimes see it (kept in memory). */
export interface OrganizationView {
  id: string;
  name: string;
  policy: OrganizationPolicy;
  connection: {
    id: string;
    type: ConnectionType;
    /** What proves a second factor for people of an upstream connection (absent for local accounts). */
    secondFactor?: ConnectionSecondFactor | undefined;
  };
  domains: string[];
}

export interface UserView {
  id: string;
  organizationId: string;
  email: string | null;
  name: string | null;
  status: 'active' | 'disabled';
}

/**
 * Organizations by id and by verified domain, held in memory: the engine's lifetime functions are
 * synchronous, and home-realm discovery runs on every email typed. Every server process re-reads it
 * each poll interval (`refresh`), so a change made by another process or the admin CLI arrives
 * within seconds.
 */
export interface OrganizationDirectory {
  forDomain(domain: string): OrganizationView | undefined;
  byId(id: string): OrganizationView | undefined;
  all(): Iterable<OrganizationView>;
  refresh(): Promise<void>;
}

export async function createOrganizationDirectory(
  repos: Pick<Repositories, 'organizations'>,
): Promise<OrganizationDirectory> {
  let byId = new Map<string, OrganizationView>();
  let byDomain = new Map<string, OrganizationView>();
  const refresh = async () => {
    const orgs = await repos.organizations.listWithDetails();
    const ids = new Map<string, OrganizationView>();
    const domains = new Map<string, OrganizationView>();
    for (const org of orgs) {
      const settings = org.connection?.settings as { secondFactor?: ConnectionSecondFactor } | undefined;
      const view: OrganizationView = {
        id: org.id,
        name: org.name,
        policy: org.policy as OrganizationPolicy,
        connection: {
          id: org.connection?.id ?? `${org.id}-local`,
          type: (org.connection?.type ?? 'local') as ConnectionType,
          secondFactor: settings?.secondFactor,
        },
        domains: org.domains,
      };
      ids.set(view.id, view);
      for (const domain of org.verifiedDomains) domains.set(domain, view);
    }
    byId = ids;
    byDomain = domains;
  };
  await refresh();
  return {
    forDomain: (domain) => byDomain.get(domain.toLowerCase()),
    byId: (id) => byId.get(id),
    all: () => byId.values(),
    refresh,
  };
}

/** The people of every organization, as sign-in sees them. */
export interface UserDirectory {
  byEmail(email: string): Promise<UserView | undefined>;
  byId(id: string): Promise<UserView | undefined>;
  touchSignIn(id: string): Promise<void>;
  /**
   * What to call the person on "Signed in as …": the email, else the name, else the label the
   * upstream gave its account (`preferred_username`, the SAML NameID…). Never the internal user id:
   * `undefined` when there is nothing to show.
   */
  labelOf(user: UserView): Promise<string | undefined>;
}

/** See `UserDirectory.labelOf`: email, name, or the most recent upstream account's label. */
export async function labelOfUser(
  users: Pick<Repositories['users'], 'identitiesOf'>,
  user: { id: string; email?: string | null | undefined; name?: string | null | undefined },
): Promise<string | undefined> {
  if (user.email) return user.email;
  if (user.name) return user.name;
  const identities = (await users.identitiesOf(user.id)).sort(
    (a, b) => b.lastAuthenticatedAt - a.lastAuthenticatedAt,
  );
  for (const identity of identities) {
    const label =
      identity.profile.label ??
      identity.profile.preferred_username ??
      identity.profile.name ??
      identity.email;
    if (typeof label === 'string' && label) return label;
  }
  return undefined;
}

export function createUserDirectory(repos: Pick<Repositories, 'users'>): UserDirectory {
  const view = (user: Awaited<ReturnType<typeof repos.users.findById>>): UserView | undefined =>
    user
      ? {
          id: user.id,
          organizationId: user.organizationId,
          email: user.email ?? null,
          name: user.name ?? null,
          status: user.status,
        }
      : undefined;
  return {
    byEmail: async (email) => view(await repos.users.findByEmail(email)),
    byId: async (id) => view(await repos.users.findById(id)),
    touchSignIn: (id) => repos.users.touchLastSignIn(id),
    labelOf: (user) => labelOfUser(repos.users, user),
  };
}

/**
 * Latchkey's own clients: the account page (account/account-client.ts) and the admin console
 * (admin/resources.ts). `allowed_clients` lists an organization's *apps*; it never locks its people
 * out of their own account page, nor its administrators out of the console (whose access is the
 * administrator role, checked at every request).
 */
export const LATCHKEY_OWN_CLIENTS: ReadonlySet<string> = new Set([
  'latchkey-account',
  'latchkey-admin-console',
]);

/** May this organization's people sign in to this app? (`policy.allowed_clients`; empty means every app.) */
export function clientAllowed(org: Pick<OrganizationView, 'policy'>, clientId: string): boolean {
  return policyAllowsClient(org.policy, clientId);
}

export function policyAllowsClient(policy: { allowedClients: readonly string[] }, clientId: string): boolean {
  return (
    policy.allowedClients.length === 0 ||
    policy.allowedClients.includes(clientId) ||
    LATCHKEY_OWN_CLIENTS.has(clientId)
  );
}
