import { hkdfSync } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { Configuration } from 'oidc-provider';
import type { ClientConfig, LatchkeyConfig, OrganizationPolicy, ResourceConfig } from '../config/types.js';
import { SecretBox } from '../crypto/secret-box.js';
import type { Csrf } from '../web/csrf.js';
import { createThrottle, memoryThrottleStore, type Throttle } from '../domain/throttle/throttle.js';
import type { PasswordHasher } from '../domain/passwords/password-hasher.js';
import type { LoginServices, OrganizationView, SignInState, UserView } from '../sign-in/services.js';
import { createConnectorSource, createRevalidator } from '../federation/index.js';
import type { AccountRecord, AccountSource } from '../protocol/accounts.js';
import type { KeyStore, StoredKey } from '../protocol/keys.js';
import { applyStaticConfig } from './static-config.js';
import { type AccountRow, latestIdentityProfile } from '../storage/account-row.js';
import { type Database, openDatabase } from '../storage/database.js';
import { parseJson } from '../storage/json.js';
import { migrateToLatest } from '../storage/migrate.js';
import {
  createOidcAdapter,
  param,
  prefetchedAccount,
  prepared,
  revokeAllForAccount,
} from '../storage/oidc-adapter.js';
import { createRepositories, type Repositories, verifyOperatorSecret } from '../storage/repositories.js';
import { startSweeper } from '../storage/sweeper.js';
import { asUnavailable } from '../storage/unavailable.js';

/** oidc-provider client metadata for a Latchkey client (RFC 7591 names). */
export function clientMetadata(client: ClientConfig): Record<string, unknown> {
  const grantTypes = ['authorization_code', 'refresh_token'];
  if (client.deviceFlow) grantTypes.push('urn:ietf:params:oauth:grant-type:device_code');
  return {
    client_id: client.id,
    client_name: client.name,
    application_type: client.kind === 'native' ? 'native' : 'web',
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    ...(client.secret ? { client_secret: client.secret } : {}),
    ...(client.jwks ? { jwks: client.jwks } : {}),
    redirect_uris: client.redirectUris,
    post_logout_redirect_uris: client.postLogoutRedirectUris,
    grant_types: grantTypes,
    response_types: ['code'],
    id_token_signed_response_alg: client.idTokenSignedResponseAlg,
    ...(client.downloadUrl ? { download_url: client.downloadUrl } : {}),
  };
}

export interface Backend {
  database: Database;
  repos: Repositories;
  secretBox: SecretBox;
  keyStore: KeyStore;
  accountSource: AccountSource;
  oidcAdapter: NonNullable<Configuration['adapter']>;
  resources: Map<string, ResourceConfig>;
  loginServices(deps: { provider(): Provider; csrf: Csrf }): LoginServices;
  /** A 32-byte key for one purpose, derived from the operator secret. */
  deriveKey(purpose: string): Buffer;
  revokeAllForUser(userId: string): Promise<number>;
  /** Password and 2-step verification attempts; in Redis when LATCHKEY_REDIS_URL is set. */
  throttle: Throttle;
  refreshDirectory(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

const CLIENT_CACHE_MS = 5_000;

const ADAPTER_METHODS = [
  'find',
  'findByUid',
  'findByUserCode',
  'upsert',
  'consume',
  'destroy',
  'revokeByGrantId',
];

/**
 * A database outage inside the engine becomes a 503 with `temporarily_unavailable` (a readable page
 * for people, JSON for apps) instead of a 500 (storage/unavailable.ts).
 */
// biome-ignore lint/suspicious/noExplicitAny: oidc-provider adapters are loosely typed.
function failFast(adapter: any): any {
  for (const method of ADAPTER_METHODS) {
    const original = adapter[method]?.bind(adapter);
    if (!original) continue;
    adapter[method] = async (...args: unknown[]) => {
      try {
        return await original(...args);
      } catch (error) {
        throw asUnavailable(error);
      }
    };
  }
  return adapter;
}

/**
 * The glue between storage and the rest of the server: repositories, the engine's adapter (with
 * clients read from the `clients` table), an in-memory directory of organization policies (the
 * engine's ttl functions are synchronous), and the services the sign-in pages use.
 */
export interface BackendOptions {
  /** Trouble the database reports in the background (SQLite's checkpoint thread), for the log. */
  onDatabaseError?(error: Error): void;
}

export async function createBackend(
  config: LatchkeyConfig,
  hasher: PasswordHasher,
  options: BackendOptions = {},
): Promise<Backend> {
  const database = await openDatabase(config.databaseUrl, {
    backgroundCheckpoints: { onError: (error) => options.onDatabaseError?.(error) },
  });
  try {
    await migrateToLatest(database);
    const secretBox = SecretBox.fromSecret(config.secret);
    await verifyOperatorSecret(database, secretBox);
    const repos = createRepositories(database, secretBox);
    await applyStaticConfig(repos, config, hasher);

    // ---- organizations directory (policies in memory) ----
    let orgsById = new Map<string, OrganizationView>();
    let orgsByDomain = new Map<string, OrganizationView>();
    const refreshDirectory = async () => {
      const orgs = await repos.organizations.listWithDetails();
      const byId = new Map<string, OrganizationView>();
      const byDomain = new Map<string, OrganizationView>();
      for (const org of orgs) {
        const view: OrganizationView = {
          id: org.id,
          name: org.name,
          policy: org.policy as OrganizationPolicy,
          connection: {
            id: org.connection?.id ?? `${org.id}-local`,
            type: (org.connection?.type ?? 'local') as OrganizationView['connection']['type'],
          },
          domains: org.domains,
        };
        byId.set(view.id, view);
        for (const domain of org.verifiedDomains) byDomain.set(domain, view);
      }
      orgsById = byId;
      orgsByDomain = byDomain;
    };
    await refreshDirectory();

    const resources = new Map(config.resources.map((r) => [r.id, r] as const));

    // ---- engine adapter: protocol records in oidc_records, clients from the clients table ----
    const RecordsAdapter = createOidcAdapter(database, {
      refreshReuseGraceMs: () => config.lifetimes.refreshReuseGrace * 1000,
    });
    const clientCache = new Map<string, { at: number; value: Record<string, unknown> | undefined }>();
    class ClientAdapter {
      async find(id: string) {
        const cached = clientCache.get(id);
        if (cached && Date.now() - cached.at < CLIENT_CACHE_MS) return cached.value;
        const client = await repos.clients.find(id);
        const value = client ? clientMetadata(client) : undefined;
        clientCache.set(id, { at: Date.now(), value });
        return value;
      }
      async upsert() {
        throw new Error('clients are managed by configuration and the admin CLI');
      }
      async destroy() {}
      async consume() {}
      async findByUid() {
        return undefined;
      }
      async findByUserCode() {
        return undefined;
      }
      async revokeByGrantId() {}
    }
    // biome-ignore lint/suspicious/noExplicitAny: oidc-provider's adapter constructor type is loose.
    const oidcAdapter = function Adapter(this: unknown, name: string): any {
      // biome-ignore lint/suspicious/noExplicitAny: see above
      const adapter = name === 'Client' ? new ClientAdapter() : new (RecordsAdapter as any)(name);
      return failFast(adapter);
    } as unknown as NonNullable<Configuration['adapter']>;

    // ---- accounts ----
    const accountQuery = prepared(
      database.db
        .selectFrom('users')
        .select(['id', 'organization_id', 'email', 'name', 'status'])
        .select(latestIdentityProfile('users.id').as('profile'))
        .where('id', '=', param('id')),
    );
    // Federated accounts are re-checked upstream on refresh (login/upstream/revalidate.ts): revoked
    // upstream → everything of the user revoked here; upstream unreachable → kept, bounded by the
    // organization's maxUpstreamAge.
    const revalidator = createRevalidator({
      database,
      repos,
      connectors: createConnectorSource({ issuer: config.issuer, repos }),
      policyFor: (organizationId) => orgsById.get(organizationId)?.policy,
      connectionOf: (organizationId) => orgsById.get(organizationId)?.connection,
      revokeAllForUser: (userId) => revokeAllForAccount(database, userId),
    });
    const accountSource: AccountSource = {
      async revalidateOnRefresh(record) {
        const org = orgsById.get(record.organizationId);
        if (!org || org.connection.type === 'local') return true;
        return revalidator.allowRefresh({ id: record.id, organizationId: record.organizationId });
      },
      // Every refresh grant and code exchange asks for the account: the adapter has usually read it
      // in the same statement as the token (prefetchedAccount); otherwise the user and the groups of
      // its latest upstream identity come in one compiled statement.
      async findAccountRecord(id) {
        const row =
          prefetchedAccount(id) ??
          (
            await database.db.executeQuery<AccountRow>(accountQuery({ id })).catch((error: unknown) => {
              throw asUnavailable(error);
            })
          ).rows[0];
        if (!row) return undefined;
        const groups = parseJson<{ groups?: unknown }>(row.profile ?? undefined, {}).groups;
        const record: AccountRecord = {
          id: row.id,
          organizationId: row.organization_id,
          email: row.email,
          emailVerified: Boolean(row.email),
          name: row.name,
          groups: Array.isArray(groups) ? groups.filter((g): g is string => typeof g === 'string') : [],
          status: row.status as AccountRecord['status'],
        };
        return record;
      },
      policyFor: (organizationId) => orgsById.get(organizationId)?.policy,
      longestAbsoluteLifetime: () =>
        Math.max(
          config.lifetimes.refreshAbsolute,
          ...[...orgsById.values()].map((o) => o.policy.refreshAbsoluteTtl),
        ),
    };

    const keyStore: KeyStore = {
      listKeys: () => repos.signingKeys.list() as Promise<StoredKey[]>,
      insertKeys: (keys) => repos.signingKeys.insert(keys),
      retireKeys: (kids, retiresAt, expiresAt) => repos.signingKeys.retire(kids, retiresAt, expiresAt),
      deleteExpiredKeys: (now) => repos.signingKeys.deleteExpired(now),
    };

    const toUserView = (user: Awaited<ReturnType<typeof repos.users.findById>>): UserView | undefined =>
      user
        ? {
            id: user.id,
            organizationId: user.organizationId,
            email: user.email ?? null,
            name: user.name ?? null,
            status: user.status,
          }
        : undefined;

    const sweeper = startSweeper(database, { intervalMs: 60_000, batchSize: 500 });
    // ioredis is loaded only when Redis is configured (about 3 MB a single-process server never needs).
    const throttleStore = config.redisUrl
      ? (await import('../domain/throttle/throttle-redis.js')).redisThrottleStore(config.redisUrl)
      : memoryThrottleStore();
    const throttle = createThrottle(
      throttleStore,
      {},
      {
        onEvent: (event) => {
          void repos.audit
            .append(
              event.type === 'throttled'
                ? {
                    action: 'throttled',
                    outcome: 'failure',
                    details: {
                      limitedBy: event.limitedBy,
                      retryAfterMs: event.retryAfterMs,
                      account: event.keys.account,
                      address: event.keys.address,
                    },
                  }
                : { action: 'throttle_cleared', outcome: 'info', details: { key: event.key } },
            )
            .catch(() => {});
        },
      },
    );

    const backend: Backend = {
      database,
      repos,
      secretBox,
      keyStore,
      accountSource,
      oidcAdapter,
      resources,
      deriveKey: (purpose) => Buffer.from(hkdfSync('sha256', config.secret, 'latchkey', purpose, 32)),
      revokeAllForUser: (userId) => revokeAllForAccount(database, userId),
      throttle,
      refreshDirectory,
      ping: () => database.ping(),
      loginServices: ({ provider, csrf }) => ({
        config,
        provider,
        csrf,
        organizations: {
          forDomain: async (domain) => orgsByDomain.get(domain.toLowerCase()),
          byId: async (id) => orgsById.get(id),
        },
        users: {
          byEmail: async (email) => toUserView(await repos.users.findByEmail(email)),
          byId: async (id) => toUserView(await repos.users.findById(id)),
          touchSignIn: (id) => repos.users.touchLastSignIn(id),
        },
        passwords: {
          async verify(userId, password) {
            const hash = userId ? await repos.credentials.passwordHash(userId) : undefined;
            if (!userId || !hash) {
              await hasher.verifyDummy(password);
              return false;
            }
            const result = await hasher.verify(hash, password);
            if (result.ok && result.needsRehash) {
              await repos.credentials.setPassword(userId, await hasher.hash(password));
            }
            return result.ok;
          },
        },
        states: {
          get: async (uid) => (await repos.signInStates.get(uid)) as SignInState | undefined,
          put: (uid, state) =>
            repos.signInStates.put(
              uid,
              state as Record<string, unknown>,
              Date.now() + config.lifetimes.interaction * 1000,
            ),
          delete: (uid) => repos.signInStates.delete(uid),
        },
        audit: (event) => repos.audit.append(event),
        throttle,
      }),
      async close() {
        await sweeper.stop();
        await throttleStore.close?.();
        await database.close();
      },
    };
    return backend;
  } catch (error) {
    await database.close();
    throw error;
  }
}
