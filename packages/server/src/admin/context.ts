import type { LatchkeyConfig } from '../config/types.js';
import { SecretBox } from '../crypto/secret-box.js';
import { createPasswordHasher, type PasswordHasher } from '../domain/passwords/password-hasher.js';
import {
  createThrottle,
  memoryThrottleStore,
  type Throttle,
  type ThrottleStore,
} from '../domain/throttle/throttle.js';
import { redisThrottleStore } from '../domain/throttle/throttle-redis.js';
import { applyStaticConfig } from '../main/static-config.js';
import { type Database, openDatabase } from '../storage/database.js';
import { migrateToLatest } from '../storage/migrate.js';
import { createRepositories, type Repositories, verifyOperatorSecret } from '../storage/repositories.js';

/** What an admin action records in the audit log, beside its name and outcome. */
export interface AdminAuditEvent {
  action: string;
  outcome?: 'success' | 'failure' | 'info';
  userId?: string | undefined;
  organizationId?: string | undefined;
  clientId?: string | undefined;
  details?: Record<string, unknown> | undefined;
}

/**
 * Everything an admin command needs, opened straight from the configuration: no running server is
 * involved, because every server process reads what these commands change from the same database
 * (clients within seconds, keys and organizations at their next poll, revocations at once).
 */
export interface AdminContext {
  config: LatchkeyConfig;
  database: Database;
  repos: Repositories;
  /** Who the audit log names as the actor. */
  actor: string;
  hasher(): PasswordHasher;
  /**
   * The attempt throttle. Shared with the servers only through Redis (LATCHKEY_REDIS_URL); without
   * it the counters live in each server's memory, out of reach of this process (`shared` false).
   */
  throttle(): { throttle: Throttle; shared: boolean };
  audit(event: AdminAuditEvent): Promise<void>;
  close(): Promise<void>;
}

export interface OpenAdminOptions {
  actor?: string;
  /** Apply the configuration file's clients, organizations and development users first (default true). */
  applyConfig?: boolean;
}

/**
 * Opens the database of `config`, applies pending migrations, checks the operator secret and —
 * like `serve` — applies the configuration file, so that `admin` sees what a server would see.
 */
export async function openAdmin(
  config: LatchkeyConfig,
  options: OpenAdminOptions = {},
): Promise<AdminContext> {
  const database = await openDatabase(config.databaseUrl, { poolSize: 2 });
  let throttleStore: ThrottleStore | undefined;
  try {
    await migrateToLatest(database);
    const box = SecretBox.fromSecret(config.secret);
    await verifyOperatorSecret(database, box);
    const repos = createRepositories(database, box);
    let hasher: PasswordHasher | undefined;
    const getHasher = () => {
      hasher ??= createPasswordHasher(config.argon2);
      return hasher;
    };
    if (options.applyConfig !== false) await applyStaticConfig(repos, config, getHasher());
    const actor = options.actor ?? 'cli';
    let throttle: Throttle | undefined;
    return {
      config,
      database,
      repos,
      actor,
      hasher: getHasher,
      throttle() {
        if (!throttle) {
          throttleStore = config.redisUrl ? redisThrottleStore(config.redisUrl) : memoryThrottleStore();
          throttle = createThrottle(throttleStore);
        }
        return { throttle, shared: config.redisUrl !== undefined };
      },
      audit: (event) =>
        repos.audit.append({
          action: event.action,
          outcome: event.outcome ?? 'success',
          actor,
          userId: event.userId,
          organizationId: event.organizationId,
          clientId: event.clientId,
          details: event.details,
        }),
      async close() {
        await throttleStore?.close();
        await database.close();
      },
    };
  } catch (error) {
    await database.close();
    throw error;
  }
}
