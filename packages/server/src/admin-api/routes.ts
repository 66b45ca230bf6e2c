import { z } from 'zod';
import { grantAdmin, listAdmins, revokeAdmin } from '../admin/admins.js';
import { searchAudit } from '../admin/audit.js';
import { addClient, listClients, removeClient } from '../admin/clients.js';
import { testConnection } from '../admin/connection-test.js';
import { AdminError } from '../admin/errors.js';
import { listKeys, rotateKeys } from '../admin/keys.js';
import {
  addDomain,
  addOrganization,
  getConnection,
  getOrganization,
  listDomains,
  listOrganizations,
  removeDomain,
  removeOrganization,
  setConnection,
  setPolicy,
  verifyDomain,
} from '../admin/organizations.js';
import { listResources } from '../admin/resources.js';
import { createScimToken, listScimTokens, revokeScimToken, scimBaseUrl } from '../admin/scim-tokens.js';
import { listSessions, revokeSession, revokeSessions } from '../admin/sessions.js';
import {
  addUser,
  clearThrottle,
  createResetLink,
  disableUser,
  enableUser,
  resetTwoStep,
  searchUsers,
  setPassword,
  userDetails,
} from '../admin/users.js';
import { parseDuration } from '../config/durations.js';
import { connectionSchema, policySchema } from '../config/schema.js';
import type { Caller } from './auth.js';
import { organizationsWithin, reachableUser, requireOrganization } from './scope.js';

/**
 * The admin API as one table: each route's method, path, request schemas, response schema and
 * handler. The Fastify registration (register.ts) validates requests with these schemas and the
 * OpenAPI document (openapi.ts) is generated from the very same objects, so the description cannot
 * drift from what the server accepts. Every handler calls the admin operation the CLI calls.
 */

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
type Shape = z.ZodObject<z.ZodRawShape>;

export interface RouteInput<P, Q, B> {
  caller: Caller;
  params: P;
  query: Q;
  body: B;
}

export interface AdminRoute {
  method: Method;
  /** Fastify syntax, below /admin/api/v1: `/users/:user`. */
  path: string;
  operationId: string;
  summary: string;
  tag: string;
  /** Who may call it at all; finer checks (which organization) are in the handler. */
  access: 'instance' | 'organization';
  params?: Shape | undefined;
  query?: Shape | undefined;
  body?: z.ZodType | undefined;
  response: z.ZodType;
  /** The success status (default 200). */
  status?: number | undefined;
  handle(input: RouteInput<unknown, unknown, unknown>): Promise<unknown>;
}

function route<
  P extends Shape | undefined,
  Q extends Shape | undefined,
  B extends z.ZodType | undefined,
>(def: {
  method: Method;
  path: string;
  operationId: string;
  summary: string;
  tag: string;
  access: 'instance' | 'organization';
  params?: P;
  query?: Q;
  body?: B;
  response: z.ZodType;
  status?: number;
  handle(
    input: RouteInput<
      P extends Shape ? z.output<P> : Record<string, never>,
      Q extends Shape ? z.output<Q> : Record<string, never>,
      B extends z.ZodType ? z.output<B> : undefined
    >,
  ): Promise<unknown>;
}): AdminRoute {
  return def as unknown as AdminRoute;
}

// ---- shared schemas ----

const id = z.string().min(1).max(320);
const orgParams = z.object({ organization: id.describe('organization id') });
const userParams = z.object({ user: id.describe('user id or email') });
const pageLimit = z
  .string()
  .regex(/^\d{1,3}$/, 'must be a whole number from 1 to 500')
  .transform(Number)
  .optional()
  .describe('page size');
const cursor = z.string().max(500).optional().describe('the `next` of the previous page');
const time = z
  .string()
  .refine(
    (v) => !Number.isNaN(Date.parse(v)) || /^\d{10,16}$/.test(v),
    'must be an ISO 8601 time or epoch milliseconds',
  )
  .transform((v) => (/^\d+$/.test(v) ? Number(v) : Date.parse(v)))
  .optional();
const duration = (description: string) =>
  z
    .union([z.string(), z.number().int().nonnegative()])
    .refine((v) => parseDuration(v) !== undefined, 'must be a duration: seconds, or e.g. "10m", "1h", "1d"')
    .transform((v) => parseDuration(v) as number)
    .optional()
    .describe(description);

const ms = z.number().int().describe('epoch milliseconds');
const user = z.object({
  id: z.string(),
  email: z.string().nullable(),
  name: z.string().nullable(),
  organizationId: z.string(),
  status: z.enum(['active', 'disabled']),
  createdAt: ms,
  lastSignInAt: ms.nullable(),
});
const organization = z.object({
  id: z.string(),
  name: z.string(),
  connection: z.string(),
  domains: z.array(z.object({ domain: z.string(), verified: z.boolean() })),
  policy: z.record(z.string(), z.unknown()),
  source: z.enum(['config', 'admin']),
});
const domain = z.object({
  domain: z.string(),
  organizationId: z.string(),
  verified: z.boolean(),
  txtRecord: z.string().nullable().describe('while unverified: the DNS TXT record to publish'),
});
const auditEvent = z.object({
  id: z.string(),
  at: ms,
  action: z.string(),
  outcome: z.enum(['success', 'failure', 'info']),
  actor: z.string().nullable(),
  userId: z.string().nullable(),
  userEmail: z.string().nullable(),
  organizationId: z.string().nullable(),
  clientId: z.string().nullable(),
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
});
const auditPage = z.object({ events: z.array(auditEvent), next: z.string().optional() });
const client = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(['native', 'web']),
  redirectUris: z.array(z.string()),
  deviceFlow: z.boolean(),
  source: z.string(),
});
const key = z.object({
  kid: z.string(),
  alg: z.string(),
  use: z.enum(['sig', 'cookie']),
  state: z.enum(['pending', 'active', 'retired']),
  activatesAt: ms,
  retiresAt: ms.nullable(),
  expiresAt: ms.nullable(),
});
const sessions = z.object({
  apps: z.array(
    z.object({
      grantId: z.string().describe('the refresh-token family; DELETE …/sessions/{grantId} ends it'),
      clientId: z.string(),
      app: z.string(),
      device: z.string(),
      ip: z.string().nullable(),
      createdAt: ms,
      lastUsedAt: ms,
      expiresAt: ms.nullable(),
    }),
  ),
  browsers: z.array(
    z.object({
      id: z.string(),
      uid: z.string().nullable(),
      device: z.string(),
      ip: z.string().nullable(),
      createdAt: ms,
      lastUsedAt: ms,
      expiresAt: ms.nullable(),
      apps: z.array(z.object({ clientId: z.string(), app: z.string() })),
    }),
  ),
});
const admin = z.object({
  userId: z.string(),
  email: z.string().nullable(),
  organizationId: z.string().nullable().describe('null: instance administrator'),
  role: z.enum(['instance_admin', 'organization_admin']),
  source: z.enum(['config', 'admin']),
  grantedBy: z.string().nullable(),
  createdAt: ms.nullable(),
});
const done = z.object({ ok: z.literal(true) });
const scimToken = z.object({
  id: z.string(),
  organizationId: z.string(),
  label: z.string().nullable(),
  createdBy: z.string().nullable(),
  createdAt: z.number(),
  lastUsedAt: z.number().nullable(),
  revokedAt: z.number().nullable(),
});

// ---- the table ----

export const ADMIN_ROUTES: AdminRoute[] = [
  route({
    method: 'GET',
    path: '/me',
    operationId: 'getMe',
    summary: 'The caller and their roles',
    tag: 'administrators',
    access: 'organization',
    response: z.object({
      user,
      roles: z.object({ instance: z.boolean(), organizations: z.array(z.string()) }),
    }),
    handle: async ({ caller }) => ({ user: summarizeCaller(caller), roles: caller.roles }),
  }),

  // organizations
  route({
    method: 'GET',
    path: '/organizations',
    operationId: 'listOrganizations',
    summary: 'Organizations (an organization administrator sees theirs)',
    tag: 'organizations',
    access: 'organization',
    response: z.object({ organizations: z.array(organization) }),
    handle: async ({ caller }) => {
      const within = organizationsWithin(caller);
      const all = await listOrganizations(caller.ctx);
      return { organizations: within ? all.filter((o) => within.includes(o.id)) : all };
    },
  }),
  route({
    method: 'POST',
    path: '/organizations',
    operationId: 'addOrganization',
    summary: 'Add an organization with local accounts',
    tag: 'organizations',
    access: 'instance',
    status: 201,
    body: z.strictObject({
      id: z.string().min(1),
      name: z.string().min(1),
      domains: z
        .array(z.string())
        .optional()
        .describe('domains the administrator vouches for (verified at once)'),
      require_2sv: z.boolean().optional(),
      jit_provisioning: z.boolean().optional(),
    }),
    response: organization,
    handle: ({ caller, body }) =>
      addOrganization(caller.ctx, {
        id: body.id,
        name: body.name,
        domains: body.domains,
        require2sv: body.require_2sv,
        jitProvisioning: body.jit_provisioning,
      }),
  }),
  route({
    method: 'GET',
    path: '/organizations/:organization',
    operationId: 'getOrganization',
    summary: 'One organization with its policy and domains',
    tag: 'organizations',
    access: 'organization',
    params: orgParams,
    response: organization,
    handle: async ({ caller, params }) => {
      requireOrganization(caller, params.organization);
      return getOrganization(caller.ctx, params.organization);
    },
  }),
  route({
    method: 'DELETE',
    path: '/organizations/:organization',
    operationId: 'removeOrganization',
    summary: 'Remove an organization (refused while it has users, or when the file declares it)',
    tag: 'organizations',
    access: 'instance',
    params: orgParams,
    response: done,
    handle: async ({ caller, params }) => {
      await removeOrganization(caller.ctx, params.organization);
      return { ok: true };
    },
  }),
  route({
    method: 'PUT',
    path: '/organizations/:organization/policy',
    operationId: 'setOrganizationPolicy',
    summary: "Replace an organization's policy (the configuration file's keys; omitted keys take defaults)",
    tag: 'organizations',
    access: 'instance',
    params: orgParams,
    body: policySchema,
    response: organization,
    handle: ({ caller, params, body }) => setPolicy(caller.ctx, params.organization, rawBodyOf(body)),
  }),

  // domains
  route({
    method: 'GET',
    path: '/organizations/:organization/domains',
    operationId: 'listDomains',
    summary: "An organization's domains with their verification state",
    tag: 'domains',
    access: 'organization',
    params: orgParams,
    response: z.object({ domains: z.array(domain) }),
    handle: async ({ caller, params }) => {
      requireOrganization(caller, params.organization);
      await getOrganization(caller.ctx, params.organization);
      const all = await listDomains(caller.ctx);
      return { domains: all.filter((d) => d.organizationId === params.organization) };
    },
  }),
  route({
    method: 'POST',
    path: '/organizations/:organization/domains',
    operationId: 'addDomain',
    summary: 'Give a domain to the organization (verify: by a DNS TXT record)',
    tag: 'domains',
    access: 'organization',
    status: 201,
    params: orgParams,
    body: z.strictObject({
      domain: z.string().min(1),
      verify: z
        .boolean()
        .optional()
        .describe(
          'true: routes nobody until its DNS TXT record is found; an organization administrator must verify',
        ),
    }),
    response: domain,
    handle: async ({ caller, params, body }) => {
      requireOrganization(caller, params.organization);
      // Only an instance administrator may vouch for a domain; an organization administrator proves it by DNS.
      const verify = caller.roles.instance ? body.verify : true;
      return addDomain(caller.ctx, { organizationId: params.organization, domain: body.domain, verify });
    },
  }),
  route({
    method: 'DELETE',
    path: '/organizations/:organization/domains/:domain',
    operationId: 'removeDomain',
    summary: 'Remove a domain',
    tag: 'domains',
    access: 'organization',
    params: orgParams.extend({ domain: id }),
    response: done,
    handle: async ({ caller, params }) => {
      requireOrganization(caller, params.organization);
      await requireDomainOf(caller, params.organization, params.domain);
      await removeDomain(caller.ctx, params.domain);
      return { ok: true };
    },
  }),
  route({
    method: 'POST',
    path: '/organizations/:organization/domains/:domain/verify',
    operationId: 'verifyDomain',
    summary: "Look for the domain's DNS TXT record and mark it verified",
    tag: 'domains',
    access: 'organization',
    params: orgParams.extend({ domain: id }),
    response: domain,
    handle: async ({ caller, params }) => {
      requireOrganization(caller, params.organization);
      await requireDomainOf(caller, params.organization, params.domain);
      return verifyDomain(caller.ctx, params.domain);
    },
  }),

  // connection
  route({
    method: 'GET',
    path: '/organizations/:organization/connection',
    operationId: 'getConnection',
    summary: "The organization's connection (secrets are never returned)",
    tag: 'connection',
    access: 'organization',
    params: orgParams,
    response: z.object({
      organizationId: z.string(),
      type: z.string(),
      settings: z.record(z.string(), z.unknown()),
      hasSecret: z.boolean(),
      samlMetadataUrl: z.string().optional().describe('SAML: the service provider metadata to give the IdP'),
    }),
    handle: async ({ caller, params }) => {
      requireOrganization(caller, params.organization);
      return getConnection(caller.ctx, params.organization);
    },
  }),
  route({
    method: 'PUT',
    path: '/organizations/:organization/connection',
    operationId: 'setConnection',
    summary: "Replace the organization's connection (the configuration file's keys)",
    tag: 'connection',
    access: 'organization',
    params: orgParams,
    body: connectionSchema,
    response: z.object({ organizationId: z.string(), connection: z.record(z.string(), z.unknown()) }),
    handle: async ({ caller, params, body }) => {
      requireOrganization(caller, params.organization);
      return setConnection(caller.ctx, params.organization, rawBodyOf(body) as { type: string });
    },
  }),
  route({
    method: 'POST',
    path: '/organizations/:organization/connection/test',
    operationId: 'testConnection',
    summary: 'Try the connection: OIDC discovery and keys, or the SAML metadata; reports what is wrong',
    tag: 'connection',
    access: 'organization',
    params: orgParams,
    response: z.object({
      organizationId: z.string(),
      type: z.string(),
      ok: z.boolean(),
      checks: z.array(z.object({ check: z.string(), ok: z.boolean(), message: z.string() })),
    }),
    handle: async ({ caller, params }) => {
      requireOrganization(caller, params.organization);
      return testConnection(caller.ctx, params.organization);
    },
  }),

  // users
  route({
    method: 'GET',
    path: '/users',
    operationId: 'searchUsers',
    summary: 'Search users by email or name and status, a page at a time',
    tag: 'users',
    access: 'organization',
    query: z.object({
      q: z.string().max(320).optional().describe('part of the email or name'),
      status: z.enum(['active', 'disabled']).optional(),
      organization: z.string().optional(),
      cursor,
      limit: pageLimit,
    }),
    response: z.object({ users: z.array(user), next: z.string().optional() }),
    handle: async ({ caller, query }) => {
      if (query.organization !== undefined) {
        requireOrganization(caller, query.organization);
        await getOrganization(caller.ctx, query.organization);
      }
      return searchUsers(caller.ctx, {
        query: query.q,
        status: query.status,
        organizationId: query.organization,
        withinOrganizations: organizationsWithin(caller),
        cursor: query.cursor,
        limit: query.limit,
      });
    },
  }),
  route({
    method: 'POST',
    path: '/users',
    operationId: 'addUser',
    summary: 'Add a user (a local-account password only for organizations with local accounts)',
    tag: 'users',
    access: 'organization',
    status: 201,
    body: z.strictObject({
      email: z.string().min(3),
      name: z.string().optional(),
      organization: z.string().optional().describe("default: the organization that owns the email's domain"),
      password: z.string().optional(),
    }),
    response: user,
    handle: async ({ caller, body }) => {
      const organizationId =
        body.organization ?? (caller.roles.instance ? undefined : singleOrganization(caller, 'organization'));
      if (organizationId !== undefined) requireOrganization(caller, organizationId);
      const added = await addUser(caller.ctx, {
        email: body.email,
        name: body.name,
        organizationId,
        password: body.password,
      });
      return added;
    },
  }),
  route({
    method: 'GET',
    path: '/users/:user',
    operationId: 'getUser',
    summary: 'A user with identities and sign-in methods (never a secret)',
    tag: 'users',
    access: 'organization',
    params: userParams,
    response: user.extend({
      identities: z.array(
        z.object({
          id: z.string(),
          connectionId: z.string(),
          subject: z.string(),
          email: z.string().nullable(),
          lastAuthenticatedAt: ms,
          lastValidatedAt: ms,
        }),
      ),
      credentials: z.object({
        password: z.boolean(),
        totp: z.boolean(),
        passkeys: z.array(z.object({ id: z.string(), createdAt: ms, lastUsedAt: ms.nullable() })),
        recoveryCodesLeft: z.number().int(),
      }),
    }),
    handle: async ({ caller, params }) =>
      userDetails(caller.ctx, (await reachableUser(caller, params.user)).id),
  }),
  route({
    method: 'POST',
    path: '/users/:user/disable',
    operationId: 'disableUser',
    summary: 'Disable a user and revoke everything they hold (their apps are refused at the next refresh)',
    tag: 'users',
    access: 'organization',
    params: userParams,
    response: z.object({ user, revoked: z.number().int() }),
    handle: async ({ caller, params }) =>
      disableUser(caller.ctx, (await reachableUser(caller, params.user)).id),
  }),
  route({
    method: 'POST',
    path: '/users/:user/enable',
    operationId: 'enableUser',
    summary: 'Enable a disabled user',
    tag: 'users',
    access: 'organization',
    params: userParams,
    response: user,
    handle: async ({ caller, params }) =>
      enableUser(caller.ctx, (await reachableUser(caller, params.user)).id),
  }),
  route({
    method: 'POST',
    path: '/users/:user/revoke-all',
    operationId: 'revokeEverything',
    summary: 'Revoke every session, grant and token of the user (the account stays usable)',
    tag: 'sessions',
    access: 'organization',
    params: userParams,
    response: z.object({ revoked: z.number().int() }),
    handle: async ({ caller, params }) =>
      revokeSessions(caller.ctx, (await reachableUser(caller, params.user)).id),
  }),
  route({
    method: 'POST',
    path: '/users/:user/reset-2sv',
    operationId: 'resetTwoStep',
    summary: "Remove the user's 2-step methods and sign them out everywhere",
    tag: 'users',
    access: 'organization',
    params: userParams,
    response: z.object({
      user,
      removed: z.object({ totp: z.number(), passkeys: z.number(), recoveryCodes: z.number() }),
    }),
    handle: async ({ caller, params }) =>
      resetTwoStep(caller.ctx, (await reachableUser(caller, params.user)).id),
  }),
  route({
    method: 'POST',
    path: '/users/:user/reset-link',
    operationId: 'createResetLink',
    summary: 'A one-time link to choose a new password (local accounts only)',
    tag: 'users',
    access: 'organization',
    status: 201,
    params: userParams,
    response: z.object({ user, url: z.string(), expiresAt: ms }),
    handle: async ({ caller, params }) =>
      createResetLink(caller.ctx, (await reachableUser(caller, params.user)).id),
  }),
  route({
    method: 'PUT',
    path: '/users/:user/password',
    operationId: 'setPassword',
    summary: "Set a local account's password (signs the user out everywhere)",
    tag: 'users',
    access: 'organization',
    params: userParams,
    body: z.strictObject({ password: z.string() }),
    response: user,
    handle: async ({ caller, params, body }) =>
      setPassword(caller.ctx, (await reachableUser(caller, params.user)).id, body.password),
  }),
  route({
    method: 'POST',
    path: '/users/:user/clear-throttle',
    operationId: 'clearThrottle',
    summary: "Clear the attempt throttle of the user's account (and optionally one address)",
    tag: 'users',
    access: 'organization',
    params: userParams,
    body: z.strictObject({ ip: z.string().optional() }).optional(),
    response: z.object({ user, cleared: z.array(z.string()), shared: z.boolean() }),
    handle: async ({ caller, params, body }) =>
      clearThrottle(caller.ctx, (await reachableUser(caller, params.user)).id, body?.ip),
  }),

  // sessions
  route({
    method: 'GET',
    path: '/users/:user/sessions',
    operationId: 'listSessions',
    summary: "The user's signed-in apps (refresh-token families) per device, and browser sessions",
    tag: 'sessions',
    access: 'organization',
    params: userParams,
    response: sessions,
    handle: async ({ caller, params }) =>
      listSessions(caller.ctx, (await reachableUser(caller, params.user)).id),
  }),
  route({
    method: 'DELETE',
    path: '/users/:user/sessions/:session',
    operationId: 'revokeSession',
    summary: "End one app's sign-in (by grant id) or one browser session (by id)",
    tag: 'sessions',
    access: 'organization',
    params: userParams.extend({ session: id }),
    response: z.object({ revoked: z.enum(['app', 'browser']), id: z.string() }),
    handle: async ({ caller, params }) =>
      revokeSession(caller.ctx, (await reachableUser(caller, params.user)).id, params.session),
  }),
  route({
    method: 'GET',
    path: '/users/:user/audit',
    operationId: 'userAudit',
    summary: "The user's audit trail, newest first",
    tag: 'audit',
    access: 'organization',
    params: userParams,
    query: z.object({ cursor, limit: pageLimit }),
    response: auditPage,
    handle: async ({ caller, params, query }) =>
      searchAudit(caller.ctx, {
        user: (await reachableUser(caller, params.user)).id,
        cursor: query.cursor,
        limit: query.limit,
      }),
  }),

  // clients, resources, keys
  route({
    method: 'GET',
    path: '/clients',
    operationId: 'listClients',
    summary: 'Registered apps (clients)',
    tag: 'clients',
    access: 'instance',
    response: z.object({ clients: z.array(client) }),
    handle: async ({ caller }) => ({ clients: await listClients(caller.ctx) }),
  }),
  route({
    method: 'POST',
    path: '/clients',
    operationId: 'addClient',
    summary: 'Register an app under the same rules as the file (RFC 8252 for native apps)',
    tag: 'clients',
    access: 'instance',
    status: 201,
    body: z.strictObject({
      id: z.string(),
      name: z.string().optional(),
      kind: z.enum(['native', 'web']).optional(),
      redirect_uris: z.array(z.string()).min(1),
      device_flow: z.boolean().optional(),
      secret: z.string().optional().describe('web clients only'),
    }),
    response: client,
    handle: ({ caller, body }) =>
      addClient(caller.ctx, {
        id: body.id,
        name: body.name,
        kind: body.kind,
        redirectUris: body.redirect_uris,
        deviceFlow: body.device_flow,
        secret: body.secret,
      }),
  }),
  route({
    method: 'DELETE',
    path: '/clients/:client',
    operationId: 'removeClient',
    summary: 'Remove an app added through the CLI or the API (a file-declared one is refused)',
    tag: 'clients',
    access: 'instance',
    params: z.object({ client: id }),
    response: done,
    handle: async ({ caller, params }) => {
      await removeClient(caller.ctx, params.client);
      return { ok: true };
    },
  }),
  route({
    method: 'GET',
    path: '/resources',
    operationId: 'listResources',
    summary: 'APIs apps get access tokens for',
    tag: 'resources',
    access: 'instance',
    response: z.object({
      resources: z.array(
        z.object({
          id: z.string(),
          name: z.string(),
          scopes: z.array(z.string()),
          accessTokenTtl: z.number().nullable(),
          clients: z.record(z.string(), z.array(z.string())).nullable(),
          source: z.enum(['config', 'built_in']),
        }),
      ),
    }),
    handle: async ({ caller }) => ({ resources: await listResources(caller.ctx) }),
  }),
  route({
    method: 'GET',
    path: '/organizations/:organization/scim-tokens',
    operationId: 'listScimTokens',
    summary: "The organization's SCIM provisioning tokens (never their values)",
    tag: 'scim',
    access: 'organization',
    params: orgParams,
    response: z.object({ url: z.string(), tokens: z.array(scimToken) }),
    handle: async ({ caller, params }) => {
      requireOrganization(caller, params.organization);
      await getOrganization(caller.ctx, params.organization);
      return {
        url: scimBaseUrl(caller.ctx.config.issuer, params.organization),
        tokens: await listScimTokens(caller.ctx, { organizationId: params.organization }),
      };
    },
  }),
  route({
    method: 'POST',
    path: '/organizations/:organization/scim-tokens',
    operationId: 'createScimToken',
    summary: 'Make a SCIM provisioning token: its value is in this answer and nowhere else',
    tag: 'scim',
    access: 'organization',
    status: 201,
    params: orgParams,
    body: z.strictObject({ label: z.string().min(1).max(100).optional() }),
    response: z.object({ token: z.string(), url: z.string(), summary: scimToken }),
    handle: async ({ caller, params, body }) => {
      requireOrganization(caller, params.organization);
      return createScimToken(caller.ctx, { organizationId: params.organization, label: body.label });
    },
  }),
  route({
    method: 'DELETE',
    path: '/organizations/:organization/scim-tokens/:token',
    operationId: 'revokeScimToken',
    summary: 'Revoke a SCIM token at once (every server process refuses it)',
    tag: 'scim',
    access: 'organization',
    params: orgParams.extend({ token: id.describe('SCIM token id') }),
    response: scimToken,
    handle: async ({ caller, params }) => {
      requireOrganization(caller, params.organization);
      return revokeScimToken(caller.ctx, { id: params.token, organizationId: params.organization });
    },
  }),
  route({
    method: 'GET',
    path: '/keys',
    operationId: 'listKeys',
    summary: 'Signing and cookie keys with their state',
    tag: 'keys',
    access: 'instance',
    response: z.object({ keys: z.array(key) }),
    handle: async ({ caller }) => ({ keys: await listKeys(caller.ctx) }),
  }),
  route({
    method: 'POST',
    path: '/keys/rotate',
    operationId: 'rotateKeys',
    summary: 'Publish new keys now, signing after the activation delay',
    tag: 'keys',
    access: 'instance',
    status: 201,
    body: z
      .strictObject({
        activate_in: duration('how long the new keys are published before they sign (default 10m)'),
        keep_old_for: duration('how long the old keys keep verifying after that (default 1d)'),
      })
      .optional(),
    response: z.object({ keys: z.array(key) }),
    handle: async ({ caller, body }) => ({
      keys: await rotateKeys(caller.ctx, {
        activateInMs: (body?.activate_in ?? 600) * 1000,
        keepOldForMs: (body?.keep_old_for ?? 86_400) * 1000,
      }),
    }),
  }),

  // audit
  route({
    method: 'GET',
    path: '/audit',
    operationId: 'searchAudit',
    summary: 'The audit log, newest first, filtered by actor, user, action and time',
    tag: 'audit',
    access: 'instance',
    query: z.object({
      actor: z.string().optional().describe('as recorded: a user id, os:<login>…; an email is looked up'),
      user: z.string().optional().describe('user id or email the events are about'),
      action: z.string().optional(),
      since: time.describe('inclusive'),
      until: time.describe('exclusive'),
      cursor,
      limit: pageLimit,
    }),
    response: auditPage,
    handle: async ({ caller, query }) => {
      let actor = query.actor;
      if (actor?.includes('@')) {
        actor = (await caller.ctx.repos.users.findByEmail(actor))?.id ?? actor;
      }
      return searchAudit(caller.ctx, {
        actor,
        user: query.user,
        action: query.action,
        since: query.since,
        until: query.until,
        cursor: query.cursor,
        limit: query.limit,
      });
    },
  }),

  // administrators
  route({
    method: 'GET',
    path: '/admins',
    operationId: 'listAdmins',
    summary: 'Administrators, from the database and the configuration file',
    tag: 'administrators',
    access: 'instance',
    query: z.object({ organization: z.string().optional() }),
    response: z.object({ admins: z.array(admin) }),
    handle: async ({ caller, query }) => ({
      admins: await listAdmins(caller.ctx, { organizationId: query.organization }),
    }),
  }),
  route({
    method: 'POST',
    path: '/admins',
    operationId: 'grantAdmin',
    summary: 'Make a user an instance administrator, or an administrator of one organization',
    tag: 'administrators',
    access: 'instance',
    status: 201,
    body: z.strictObject({ user: z.string().min(1), organization: z.string().optional() }),
    response: admin,
    handle: ({ caller, body }) =>
      grantAdmin(caller.ctx, { user: body.user, organizationId: body.organization }),
  }),
  route({
    method: 'DELETE',
    path: '/admins/:user',
    operationId: 'revokeAdmin',
    summary: 'Take a role away (a file-declared one is refused: change the file)',
    tag: 'administrators',
    access: 'instance',
    params: userParams,
    query: z.object({ organization: z.string().optional() }),
    response: z.object({ userId: z.string(), organizationId: z.string().nullable() }),
    handle: ({ caller, params, query }) =>
      revokeAdmin(caller.ctx, { user: params.user, organizationId: query.organization }),
  }),
];

function summarizeCaller(caller: Caller) {
  const u = caller.user;
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    organizationId: u.organizationId,
    status: u.status,
    createdAt: u.createdAt,
    lastSignInAt: u.lastSignInAt,
  };
}

/** The organization an organization administrator acts in when they administer exactly one. */
function singleOrganization(caller: Caller, field: string): string {
  const [only, ...more] = caller.roles.organizations;
  if (!only || more.length > 0) {
    throw new AdminError(
      'invalid',
      `${field}: name the organization (you administer ${caller.roles.organizations.join(', ')})`,
    );
  }
  return only;
}

async function requireDomainOf(caller: Caller, organizationId: string, name: string): Promise<void> {
  const stored = await caller.ctx.repos.organizations.findDomain(name);
  if (!stored || stored.organizationId !== organizationId) {
    throw new AdminError('not_found', `organization ${organizationId} has no domain ${name}`);
  }
}

/**
 * The admin operations validate connections and policies with the configuration file's schema
 * themselves, from the file's own keys: they get the body as sent (register.ts keeps it beside the
 * parsed value), not zod's output with defaults and parsed durations.
 */
const RAW = Symbol.for('latchkey.adminApi.rawBody');
export function withRawBody<T>(parsed: T, raw: unknown): T {
  if (parsed && typeof parsed === 'object') Object.defineProperty(parsed, RAW, { value: raw });
  return parsed;
}
function rawBodyOf(parsed: unknown): Record<string, unknown> {
  const raw = parsed && typeof parsed === 'object' ? (parsed as Record<symbol, unknown>)[RAW] : undefined;
  return (raw ?? parsed ?? {}) as Record<string, unknown>;
}
