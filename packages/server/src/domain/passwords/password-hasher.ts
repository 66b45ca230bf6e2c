import { randomBytes } from 'node:crypto';
import type { Algorithm, Options as Argon2Options, Version } from '@node-rs/argon2';
import { hash as argon2Hash, verify as argon2Verify, parseOptions } from '@node-rs/argon2';
import { ServerError } from '../../errors/server-error.js';

/**
 * Argon2id cost parameters. The defaults are OWASP's first recommended configuration
 * (m=19 MiB, t=2, p=1), which costs 15–18 ms per hash on this project's reference machine.
 * @see https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html#argon2id
 */
export interface PasswordHashParams {
  /** Memory in KiB (`m=` in the PHC string). */
  memoryCost: number;
  /** Passes over memory (`t=`). */
  timeCost: number;
  /** Lanes (`p=`). */
  parallelism: number;
}

export const DEFAULT_PASSWORD_HASH_PARAMS: Readonly<PasswordHashParams> = Object.freeze({
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
});

/**
 * Longest password accepted, in UTF-16 code units. NIST SP 800-63B asks for at least 64; the cap
 * exists so that a request body of megabytes is refused before anything expensive happens
 * (Argon2's cost barely depends on input length, but normalization and copying do).
 */
export const MAX_PASSWORD_LENGTH = 1024;

export interface PasswordVerification {
  ok: boolean;
  /** The password was right but the stored hash uses other parameters (or algorithm): store a new hash. */
  needsRehash: boolean;
}

export interface PasswordHasher {
  /** Hashes a password into a PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`). */
  hash(password: string): Promise<string>;
  verify(storedHash: string, password: string): Promise<PasswordVerification>;
  /**
   * Spends the time of one verification against a fixed hash made with the configured parameters,
   * then answers `false`. Call it when the account does not exist (or has no password), so the
   * response time does not tell an attacker which accounts exist.
   */
  verifyDummy(password: string): Promise<false>;
  readonly params: Readonly<PasswordHashParams>;
}

export type PasswordHasherErrorCode = 'password_too_long' | 'invalid_password_hash' | 'invalid_hash_params';

export class PasswordHasherError extends ServerError {
  override readonly name = 'PasswordHasherError';
  declare readonly code: PasswordHasherErrorCode;
  constructor(code: PasswordHasherErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

// `Algorithm` and `Version` are ambient const enums, which `verbatimModuleSyntax` cannot inline;
// these are their documented values.
const ARGON2ID = 2 as Algorithm;
const VERSION_0x13 = 1 as Version;

/**
 * Unicode has several encodings of the "same" password (a precomposed "é" or "e" + combining
 * accent); keyboards and operating systems differ in which one they send. NIST SP 800-63B §5.1.1.2
 * recommends NFKC or NFKD before hashing so the user can sign in from any device.
 */
function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

function tooLong(password: string): boolean {
  return password.length > MAX_PASSWORD_LENGTH;
}

function validateParams(params: PasswordHashParams): Readonly<PasswordHashParams> {
  const { memoryCost, timeCost, parallelism } = params;
  const isPositiveInt = (n: number) => Number.isSafeInteger(n) && n > 0;
  if (!isPositiveInt(memoryCost) || !isPositiveInt(timeCost) || !isPositiveInt(parallelism)) {
    throw new PasswordHasherError('invalid_hash_params', 'Argon2 parameters must be positive integers');
  }
  if (parallelism > 255) {
    throw new PasswordHasherError('invalid_hash_params', 'Argon2 parallelism must be at most 255');
  }
  // RFC 9106 §3.1: memory must be at least 8 KiB per lane.
  if (memoryCost < 8 * parallelism) {
    throw new PasswordHasherError(
      'invalid_hash_params',
      'Argon2 memoryCost must be at least 8 × parallelism KiB',
    );
  }
  return Object.freeze({ memoryCost, timeCost, parallelism });
}

export function createPasswordHasher(params: Partial<PasswordHashParams> = {}): PasswordHasher {
  const configured = validateParams({ ...DEFAULT_PASSWORD_HASH_PARAMS, ...params });
  const options: Argon2Options = { ...configured, algorithm: ARGON2ID, version: VERSION_0x13 };

  // Made once per hasher with the configured parameters, so a dummy verification costs exactly
  // what a real one costs; the password behind it is random and forgotten.
  let dummyHash: Promise<string> | undefined;
  const getDummyHash = () => {
    dummyHash ??= argon2Hash(randomBytes(32).toString('base64url'), options);
    return dummyHash;
  };

  function needsRehash(storedHash: string): boolean {
    const stored = parseOptions(storedHash);
    return (
      stored.algorithm !== ARGON2ID ||
      stored.version !== VERSION_0x13 ||
      stored.memoryCost !== configured.memoryCost ||
      stored.timeCost !== configured.timeCost ||
      stored.parallelism !== configured.parallelism
    );
  }

  return Object.freeze({
    params: configured,

    async hash(password: string): Promise<string> {
      if (tooLong(password)) {
        throw new PasswordHasherError(
          'password_too_long',
          `Passwords are limited to ${MAX_PASSWORD_LENGTH} characters`,
        );
      }
      return argon2Hash(normalizePassword(password), options);
    },

    async verify(storedHash: string, password: string): Promise<PasswordVerification> {
      // Refusing an over-long password early reveals nothing about the account: `verifyDummy`
      // refuses it just as early.
      if (tooLong(password)) return { ok: false, needsRehash: false };
      let ok: boolean;
      try {
        // The stored string carries its own parameters; argon2 verifies with those.
        ok = await argon2Verify(storedHash, normalizePassword(password));
      } catch (cause) {
        throw new PasswordHasherError('invalid_password_hash', 'The stored password hash cannot be read', {
          cause,
        });
      }
      return ok ? { ok: true, needsRehash: needsRehash(storedHash) } : { ok: false, needsRehash: false };
    },

    async verifyDummy(password: string): Promise<false> {
      if (tooLong(password)) return false;
      await argon2Verify(await getDummyHash(), normalizePassword(password));
      return false;
    },
  });
}
