import type { AdminContext } from '../admin/context.js';
import type { LatchkeyConfig } from '../config/types.js';
import { createPasswordHasher, type PasswordHasher } from '../domain/passwords/password-hasher.js';
import {
  createThrottle,
  memoryThrottleStore,
  type Throttle,
  type ThrottleStore,
} from '../domain/throttle/throttle.js';
import { redisThrottleStore } from '../domain/throttle/throttle-redis.js';
import { openStorage } from './open-storage.js';

export interface OpenAdminOptions {
  actor?: string;
  /** Apply the configuration file's clients, organizations and development users first (default true). */
  applyConfig?: boolean;
}

/**
 * The admin commands' context, opened straight from the configuration by the same start-up
 * sequence as `serve` (main/open-storage.ts): no running server is involved, because every server
 * process reads what these commands change from the same database (clients within seconds, keys and
 * organizations at their next poll, revocations at once).
 */
export async function openAdmin(
  config: LatchkeyConfig,
  options: OpenAdminOptions = {},
): Promise<AdminContext> {
  let hasher: PasswordHasher | undefined;
  const getHasher = () => {
    hasher ??= createPasswordHasher(config.argon2);
    return hasher;
  };
  const { database, repos } = await openStorage(config, {
    hasher: getHasher,
    database: { poolSize: 2 },
    applyConfig: options.applyConfig,
  });
  const actor = options.actor ?? 'cli';
  let throttleStore: ThrottleStore | undefined;
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
}
