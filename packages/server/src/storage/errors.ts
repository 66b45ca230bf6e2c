import { ServerError } from '../errors/server-error.js';
/** A value that must be unique already exists (an email, a domain, an identity, a passkey…). */
export class DuplicateError extends ServerError {
  override readonly name = 'DuplicateError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('duplicate', message, options);
  }
}

/**
 * True for a unique or primary-key violation on either dialect: PostgreSQL SQLSTATE 23505, SQLite
 * SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY. Repositories insert and map the violation, instead of
 * checking first, so that two racing inserts cannot both pass the check.
 */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** Runs an insert; a unique violation becomes a DuplicateError with `message`. */
export async function insertUnique<T>(insert: () => Promise<T>, message: string): Promise<T> {
  try {
    return await insert();
  } catch (error) {
    if (isUniqueViolation(error)) throw new DuplicateError(message, { cause: error });
    throw error;
  }
}
