/**
 * A command that could not be carried out for a reason the operator can act on (an unknown user,
 * a duplicate client…). The CLI prints the message without a stack trace and exits 1; mistakes in
 * the command line itself are `UsageError`s (exit 2).
 */
export class AdminError extends Error {
  override readonly name = 'AdminError';
  constructor(
    readonly code: AdminErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export type AdminErrorCode =
  | 'not_found'
  | 'already_exists'
  | 'invalid'
  | 'declared_in_config'
  | 'in_use'
  | 'verification_failed'
  | 'conflict';
