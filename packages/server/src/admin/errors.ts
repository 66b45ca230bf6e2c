import { ServerError } from '../errors/server-error.js';
/**
 * A command that could not be carried out for a reason the operator can act on (an unknown user,
 * a duplicate client…). The CLI prints the message without a stack trace and exits 1; mistakes in
 * the command line itself are `UsageError`s (exit 2).
 */
export class AdminError extends ServerError {
  override readonly name = 'AdminError';
  declare readonly code: AdminErrorCode;
  constructor(code: AdminErrorCode, message: string) {
    super(code, message);
  }
}

export type AdminErrorCode =
  | 'not_found'
  | 'already_exists'
  | 'invalid'
  | 'declared_in_config'
  | 'in_use'
  | 'verification_failed'
  | 'conflict'
  | 'unauthorized'
  | 'forbidden'
  | 'upstream_managed';
