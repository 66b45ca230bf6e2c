import type { Repositories } from '../../storage/repositories.js';
import type { PasswordHasher } from './password-hasher.js';

/** The shortest password a person may choose (NIST SP 800-63B §5.1.1.2: at least 8 characters). */
export const MIN_PASSWORD_LENGTH = 8;

export interface PasswordCheck {
  /**
   * Verifies the password of a user, or spends the same time on a dummy hash when `userId` is
   * absent or has no password, so the answer's timing does not reveal which accounts exist. A hash
   * made with older parameters is replaced on success.
   */
  verify(userId: string | undefined, password: string): Promise<boolean>;
  /** Hashes and stores a new password. */
  set(userId: string, password: string): Promise<void>;
}

export function createPasswordCheck(deps: {
  hasher: PasswordHasher;
  credentials: Pick<Repositories['credentials'], 'passwordHash' | 'setPassword'>;
}): PasswordCheck {
  const { hasher, credentials } = deps;
  return {
    async verify(userId, password) {
      const hash = userId ? await credentials.passwordHash(userId) : undefined;
      if (!userId || !hash) {
        await hasher.verifyDummy(password);
        return false;
      }
      const result = await hasher.verify(hash, password);
      if (result.ok && result.needsRehash) await credentials.setPassword(userId, await hasher.hash(password));
      return result.ok;
    },
    async set(userId, password) {
      await credentials.setPassword(userId, await hasher.hash(password));
    },
  };
}
