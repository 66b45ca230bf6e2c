import { ServerError } from '../errors/server-error.js';
/**
 * The database cannot be reached (stopped, restarting, network gone, pool exhausted). Requests that
 * need it fail fast with 503 and a retry hint instead of a 500: people get a readable "temporarily
 * unavailable" page, OAuth clients `{"error":"temporarily_unavailable"}`, and the process stays up —
 * the pool reconnects by itself when the database returns.
 *
 * Shaped for both HTTP stacks: `statusCode`/`expose`/`message` as the engine's error handler reads
 * them (its JSON body is `{ error: message, error_description }` for exposed errors), and `code` as
 * the Fastify error handler reads it (http/app.ts).
 */
export class DatabaseUnavailableError extends ServerError {
  override readonly name = 'DatabaseUnavailableError';
  readonly error = 'temporarily_unavailable';
  readonly error_description = 'The service is temporarily unavailable; try again in a few seconds.';

  constructor(cause: unknown) {
    super('database_unavailable', 'temporarily_unavailable', { cause, expose: true });
  }
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
// SQLSTATE: class 08 (connection exception), 57P01-57P03 (shutdown, crash, cannot connect now),
// 53300 (too many connections).
const SQLSTATE = /^(08...|57P0[123]|53300)$/;
const MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection closed|database system is (starting up|shutting down|in recovery mode)|SQLITE_BUSY|database is locked/i;

export function isDatabaseUnavailable(error: unknown): boolean {
  if (error instanceof DatabaseUnavailableError) return true;
  if (!error || typeof error !== 'object') return false;
  const { code, message, errors } = error as { code?: unknown; message?: unknown; errors?: unknown };
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || SQLSTATE.test(code))) return true;
  if (typeof message === 'string' && MESSAGES.test(message)) return true;
  // AggregateError from a connect to several addresses (127.0.0.1 and ::1).
  return Array.isArray(errors) && errors.some(isDatabaseUnavailable);
}

/** Rethrows database outages as DatabaseUnavailableError; anything else unchanged. */
export function asUnavailable(error: unknown): unknown {
  return isDatabaseUnavailable(error) && !(error instanceof DatabaseUnavailableError)
    ? new DatabaseUnavailableError(error)
    : error;
}
