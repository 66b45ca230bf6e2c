import { userInfo } from 'node:os';
import { type AdminContext, createAdminContext } from '../admin/context.js';
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
  const actor = options.actor ?? operatorActor();
  let throttleStore: ThrottleStore | undefined;
  let throttle: Throttle | undefined;
  return createAdminContext(
    {
      config,
      database,
      repos,
      hasher: getHasher,
      throttle() {
        if (!throttle) {
          throttleStore = config.redisUrl ? redisThrottleStore(config.redisUrl) : memoryThrottleStore();
          throttle = createThrottle(throttleStore);
        }
        return { throttle, shared: config.redisUrl !== undefined };
      },
      async close() {
        await throttleStore?.close();
        await database.close();
      },
    },
    actor,
  );
}

/**
 * The audit log's actor for a command run on the server: the operating-system account that ran it
 * (`os:alice`; SUDO_USER first, so `sudo latchkey admin …` names the person, not root).
 */
export function operatorActor(env: NodeJS.ProcessEnv = process.env): string {
  let login = env.SUDO_USER || env.LOGNAME || env.USER;
  if (!login) {
    try {
      login = userInfo().username;
    } catch {
      login = `uid ${process.getuid?.() ?? 'unknown'}`;
    }
  }
  return `os:${login}`;
}
