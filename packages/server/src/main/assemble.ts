import type Provider from 'oidc-provider';
import { accountClient } from '../account/account-client.js';
import { registerAccountPages } from '../account/account-routes.js';
import { createAdminContext } from '../admin/context.js';
import { adminApiResource } from '../admin/resources.js';
import { registerAdminApi } from '../admin-api/register.js';
import type { LatchkeyConfig } from '../config/types.js';
import { consoleClient, consoleEnabled, registerConsole } from '../console/index.js';
import { deriveKey } from '../crypto/derive-key.js';
import type { SecretBox } from '../crypto/secret-box.js';
import { type Audit, repositoryAudit } from '../domain/audit.js';
import {
  createOrganizationDirectory,
  createUserDirectory,
  type OrganizationDirectory,
  type UserDirectory,
} from '../domain/directory.js';
import { createLiveSessions } from '../domain/live-sessions.js';
import { createPasswordCheck, type PasswordCheck } from '../domain/passwords/password-check.js';
import { createPasswordHasher } from '../domain/passwords/password-hasher.js';
import { createSessionControl, type SessionControl } from '../domain/sessions.js';
import { createThrottle, memoryThrottleStore, type Throttle } from '../domain/throttle/throttle.js';
import { auditThrottleEvents } from '../domain/throttle/throttle-audit.js';
import { createConnectorSource } from '../federation/connector-source.js';
import { linkIdentity } from '../federation/link.js';
import { createRevalidator } from '../federation/revalidate.js';
import type { RouteSet } from '../http/app.js';
import { createServerMetrics } from '../http/metrics.js';
import { createSessionEventsRoute } from '../http/session-events.js';
import { type Brands, createBrands } from '../pages/brand-assets.js';
import {
  type AccessCheck,
  createAccessRequestCheck,
  type ProtectedRequest,
} from '../protocol/access-request.js';
import { createAccessTokenAuth } from '../protocol/access-token-auth.js';
import { createAccountSource } from '../protocol/account-source.js';
import { AccountStore } from '../protocol/accounts.js';
import { createEngineAdapter } from '../protocol/engine-adapter.js';
import { ProtocolKeys, repositoryKeyStore } from '../protocol/keys.js';
import { buildProvider } from '../protocol/provider.js';
import { createSessionRevokedSigner } from '../protocol/session-revoked-token.js';
import { USER_CODE_THROTTLE_POLICY } from '../protocol/user-code-throttle.js';
import { registerResetPages } from '../reset/reset-routes.js';
import { createScimAuthThrottle, SCIM_AUTH_THROTTLE_POLICY } from '../scim/auth-throttle.js';
import { registerScimRoutes } from '../scim/routes.js';
import type { SignInDeps } from '../sign-in/deps.js';
import { registerSignIn } from '../sign-in/flow.js';
import { signInStateStore } from '../sign-in/state.js';
import { SIGN_IN_TABLE } from '../sign-in/table.js';
import { registerUpstreamCallbacks } from '../sign-in/upstream-callbacks.js';
import { spLogoutUrl } from '../sign-in/upstream-logout.js';
import type { Database } from '../storage/database.js';
import { rehashLegacyRecords } from '../storage/record-ids.js';
import type { Repositories } from '../storage/repositories.js';
import { openSessionEndFeed } from '../storage/session-end-feed.js';
import { startSweeper } from '../storage/sweeper.js';
import { Csrf } from '../web/csrf.js';
import { openStorage } from './open-storage.js';

/** The parts of a running server that operations and tests reach for (everything else stays inside). */
export interface ServerParts {
  database: Database;
  repos: Repositories;
  secretBox: SecretBox;
  throttle: Throttle;
  organizations: OrganizationDirectory;
  users: UserDirectory;
  passwords: PasswordCheck;
  sessions: SessionControl;
  audit: Audit;
  /** Pepper of recovery code hashes. */
  recoveryCodeKey: Buffer;
  /** Checks an access token (DPoP-bound or bearer) and its proof on a request to one of our endpoints. */
  checkAccessRequest: (request: ProtectedRequest) => Promise<AccessCheck>;
}

export interface Assembly {
  parts: ServerParts;
  keys: ProtocolKeys;
  provider(): Provider;
  /** Re-reads keys now and rebuilds the engine if they changed. */
  reloadKeys(): Promise<boolean>;
  /** What every poll interval re-reads: keys and the organization directory. */
  poll(): Promise<void>;
  routes: RouteSet[];
  /** The configured brands, whose logos and stylesheets http/app.ts serves. */
  brands: Brands;
  close(): Promise<void>;
}

export interface AssembleOptions {
  /** Where the engine's and the database's background trouble is reported (the server log). */
  log: {
    error(entry: Record<string, unknown>, message: string): void;
    info(entry: Record<string, unknown>, message: string): void;
  };
}

/**
 * The composition root: the one module that knows every part. It builds storage, the domain
 * (directory, passwords, throttle, audit, sessions), federation, the protocol engine and the route
 * sets, handing each exactly the narrow dependencies it declares. Nothing imports this module but
 * the server's start (main/server.ts).
 */
export async function assemble(config: LatchkeyConfig, options: AssembleOptions): Promise<Assembly> {
  const brands = createBrands(config);
  const hasher = createPasswordHasher(config.argon2);
  const { database, repos, secretBox } = await openStorage(config, {
    hasher: () => hasher,
    database: {
      backgroundCheckpoints: {
        onError: (error) => options.log.error({ err: error }, 'database background work failed'),
      },
    },
  });
  const closers: (() => Promise<void>)[] = [() => database.close()];
  const close = async () => {
    for (const closer of closers.reverse()) await closer();
  };
  try {
    await repos.clients.upsertFromConfig(accountClient(config.issuer));
    // The web console (console/) is a client of this server too, under the id the admin API admits.
    const withConsole = consoleEnabled();
    if (withConsole) await repos.clients.upsertFromConfig(consoleClient(config.issuer));

    // ---- domain ----
    const organizations = await createOrganizationDirectory(repos);
    const users = createUserDirectory(repos);
    const passwords = createPasswordCheck({ hasher, credentials: repos.credentials });
    const sessions = createSessionControl(database);
    let provider: Provider | undefined;
    const metrics = createServerMetrics({ provider: () => provider as Provider });
    const recordAudit = repositoryAudit(repos);
    const audit: Audit = metrics
      ? (event) => {
          metrics.observeAudit(event);
          return recordAudit(event);
        }
      : recordAudit;
    // ioredis is loaded only when Redis is configured (about 3 MB a single-process server never needs).
    const throttleStore = config.redisUrl
      ? (await import('../domain/throttle/throttle-redis.js')).redisThrottleStore(config.redisUrl)
      : memoryThrottleStore();
    closers.push(async () => throttleStore.close?.());
    const throttle = createThrottle(throttleStore, {}, { onEvent: auditThrottleEvents(audit) });
    const userCodeThrottle = createThrottle(throttleStore, USER_CODE_THROTTLE_POLICY, {
      onEvent: auditThrottleEvents(audit),
    });
    // Audited by the SCIM routes themselves, once a minute per address (scim/auth-throttle.ts).
    const scimAuthFailures = createScimAuthThrottle(createThrottle(throttleStore, SCIM_AUTH_THROTTLE_POLICY));
    const sweeper = startSweeper(database, { intervalMs: 60_000, batchSize: 500 });
    closers.push(() => sweeper.stop());
    const recoveryCodeKey = deriveKey(config.secret, 'latchkey/recovery-codes');

    // ---- federation ----
    const connectors = createConnectorSource({ issuer: config.issuer, repos });
    const revalidator = createRevalidator({
      database,
      repos,
      connectors,
      policyFor: (organizationId) => organizations.byId(organizationId)?.policy,
      connectionOf: (organizationId) => organizations.byId(organizationId)?.connection,
      revokeAllForUser: (userId) => sessions.revokeAll(userId, 'upstream_revoked'),
    });

    // ---- protocol ----
    const keys = new ProtocolKeys(repositoryKeyStore(repos.signingKeys));
    await keys.init();
    // Bearer secrets are stored as keyed hashes; records from before that are rewritten once here.
    const recordIdKey = deriveKey(config.secret, 'latchkey/record-ids');
    await rehashLegacyRecords(database, recordIdKey);
    const adapter = createEngineAdapter({
      database,
      clients: repos.clients,
      lifetimes: config.lifetimes,
      recordIdKey,
      onRefreshFamilyRevoked: (event) =>
        audit({
          action: 'refresh_family_revoked',
          outcome: 'failure',
          userId: event.accountId,
          clientId: event.clientId,
          details: { reason: event.reason, grantId: event.grantId },
        }),
    });
    const accounts = new AccountStore(
      createAccountSource({ database, organizations, revalidator, lifetimes: config.lifetimes }),
      config.lifetimes,
    );
    const resources = new Map(config.resources.map((r) => [r.id, r] as const));
    const dpopNonceSecret = deriveKey(config.secret, 'latchkey/dpop-nonce');
    const signInStates = signInStateStore(repos.signInStates, config.lifetimes.interaction * 1000);
    // Latchkey's own admin API is a resource too (RFC 8707), for the console and admin.clients.
    const adminApi = adminApiResource(config);
    resources.set(adminApi.id, adminApi);
    const build = () =>
      buildProvider({
        brands,
        config,
        adapter,
        accounts,
        keys,
        findResource: (id) => resources.get(id),
        upstreamLogoutUrl: (accountId) =>
          spLogoutUrl(
            {
              users: repos.users,
              organizationDetails: async (id) => (await repos.organizations.listWithDetails({ id }))[0],
              connectors,
            },
            accountId,
          ),
        // The same on every process (derived from the operator secret): a nonce one process issued
        // is good at any other (RFC 9449 §8).
        dpopNonceSecret,
        onDpopRefused: (event) =>
          audit({
            action: 'token_dpop_refused',
            outcome: 'failure',
            userId: event.accountId,
            clientId: event.clientId,
            details: {
              reason: event.reason,
              grantType: event.grantType,
              grantId: event.grantId,
              description: event.description,
            },
          }),
        // RFC 8628 §5.1: user-code entry per address, in the same counter store as the sign-in throttle.
        userCodeThrottle,
        // RFC 8628 §3.5: each device code's last answered poll, shared by every process.
        devicePolls: repos.replayCache,
        onInteractionStarted: async (uid, origin) => {
          if (!('previousUid' in origin)) return signInStates.rememberRequest(uid, origin);
          const request = await signInStates.recallRequest(origin.previousUid);
          if (!request) return;
          // One write for the two (the new interaction's request, and where the old one went on).
          await signInStates.write([
            { kind: 'remember', uid, request: { clientId: request.clientId, query: request.query } },
            { kind: 'remember', uid: origin.previousUid, request: { ...request, next: uid } },
          ]);
        },
        onError: (ctx, error) => {
          const status = (error as { statusCode?: number }).statusCode ?? 500;
          const entry = {
            err: { name: error.name, message: error.message },
            path: ctx.path,
            status,
            // The reference the error page shows (http/provider-mount.ts sets it).
            reqId: ctx.res.getHeader('x-request-id'),
          };
          if (status >= 500) options.log.error(entry, 'protocol error');
          else options.log.info(entry, 'protocol request refused');
        },
      });
    // The key set (in signing order) the current engine was built with. Compared with what the
    // database holds now rather than trusting `refresh()`'s change flag: `keys.rotate()` in this very
    // process refreshes the key list itself, and the engine must still be rebuilt afterwards.
    const keySet = () =>
      keys
        .list()
        .map((k) => k.kid)
        .join(',');
    provider = build();
    let builtWith = keySet();
    const engine = () => provider as Provider;
    const reloadKeys = async () => {
      await keys.refresh();
      const current = keySet();
      if (current === builtWith) return false;
      provider = build();
      builtWith = current;
      options.log.info({ kids: keys.activeKids() }, 'signing keys changed; engine rebuilt');
      return true;
    };

    // For endpoints of ours that take the SDK's access tokens (live sign-out, …): RFC 9449 §7.1.
    const checkAccessRequest = createAccessRequestCheck({ engine, replay: repos.replayCache });
    // ---- live sign-out (docs/live-sign-out.md) ----
    const sessionEvents = createSessionEventsRoute({
      issuer: config.issuer,
      sessions: createLiveSessions(),
      authenticate: createAccessTokenAuth({
        issuer: config.issuer,
        engine,
        keys,
        isActiveAccount: async (id) => (await repos.users.findById(id))?.status === 'active',
        // A DPoP-bound token (the SDK's default) comes with a proof of its key (RFC 9449 §7.1).
        verifyDpopProof: async (request, token, jkt) => {
          const checked = await checkAccessRequest({
            method: request.method,
            url: request.url,
            authorization: `DPoP ${token}`,
            dpop: request.headers.dpop,
          });
          return checked.ok && checked.jkt === jkt;
        },
      }),
      sign: createSessionRevokedSigner(keys),
      heartbeatMs: config.lifetimes.sessionEventsHeartbeat * 1000,
    });
    closers.push(async () => sessionEvents.stop());
    const sessionEndFeed = openSessionEndFeed(database, {
      onEnd: (end) => {
        sessionEvents.deliver(end);
      },
      onGap: () => {
        options.log.info({}, 'session end feed resumed after a gap; live sign-out streams reopen');
        sessionEvents.closeAll();
      },
      onError: (error, message) => options.log.error({ err: error }, message),
    });
    closers.push(() => sessionEndFeed.close());
    await sessionEndFeed.ready.catch(() => {});

    // ---- pages and flows ----
    const csrf = new Csrf(deriveKey(config.secret, 'latchkey/csrf'), config.issuer.startsWith('https:'));
    const signIn: SignInDeps = {
      issuer: config.issuer,
      defaultOrganization: config.defaultOrganization,
      engine,
      csrf,
      organizations,
      users,
      passwords,
      throttle,
      audit,
      states: signInStates,
      credentials: repos.credentials,
      recoveryCodeKey,
      secretBox,
      connectors,
      upstreamRequests: repos.upstreamRequests,
      organizationDetails: async (id) => (await repos.organizations.listWithDetails({ id }))[0],
      allOrganizationDetails: () => repos.organizations.listWithDetails(),
      linkIdentity: (input) => linkIdentity(repos, input),
      brands,
    };
    // The admin API and the console act through one context (each request as its administrator).
    const adminContext = createAdminContext(
      {
        config,
        database,
        repos,
        hasher: () => hasher,
        throttle: () => ({ throttle, shared: config.redisUrl !== undefined }),
        close: async () => {},
      },
      'server',
    );
    const routes: RouteSet[] = [
      (app) => registerSignIn(app, SIGN_IN_TABLE, signIn),
      (app) => registerUpstreamCallbacks(app, signIn, { identities: repos.users, sessions }),
      (app) =>
        registerAccountPages(app, {
          brand: brands.instance,
          issuer: config.issuer,
          engine,
          csrf,
          organizations,
          users: repos.users,
          credentials: repos.credentials,
          clients: repos.clients,
          passwords,
          throttle,
          audit,
          secretBox,
          recoveryCodeKey,
          sessions,
        }),
      (app) =>
        registerResetPages(app, {
          brand: brands.instance,
          csrf,
          actionTokens: repos.actionTokens,
          users: repos.users,
          passwords,
          sessions,
          throttle,
          audit,
        }),
      (app) =>
        registerScimRoutes(app, {
          issuer: config.issuer,
          database,
          secretBox,
          repos,
          sessions,
          audit,
          authFailures: scimAuthFailures,
        }),
      ...(metrics ? [(app: Parameters<RouteSet>[0]) => metrics.register(app)] : []),
      (app) => sessionEvents.register(app),
      (app) => registerAdminApi(app, { admin: adminContext, jwks: () => keys.jwks(), log: options.log }),
      ...(withConsole
        ? [
            (app: Parameters<RouteSet>[0]) =>
              registerConsole(app, { admin: adminContext, jwks: () => keys.jwks(), secretBox }),
          ]
        : []),
    ];

    return {
      parts: {
        database,
        repos,
        secretBox,
        throttle,
        organizations,
        users,
        passwords,
        sessions,
        audit,
        recoveryCodeKey,
        checkAccessRequest,
      },
      keys,
      provider: engine,
      reloadKeys,
      poll: async () => {
        await Promise.all([reloadKeys(), organizations.refresh()]);
      },
      routes,
      brands,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
