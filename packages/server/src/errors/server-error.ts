/**
 * Latchkey's own errors, one family (the OAuth errors stay the engine's, `oidc-provider`'s
 * `errors.*`, with their RFC codes). Every error carries a stable snake_case `code` from
 * {@link ERROR_CODES}, the HTTP status it answers with when it reaches a request, whether its
 * message may be shown to the person or client (`expose`), and its `cause`.
 *
 * Callers tell errors apart by `code` (or `instanceof`), never by `name` or message text.
 * docs/errors.md documents every code; `server-error.test.ts` fails when one is missing there.
 */

/** Every code, with the status it answers with. The table is the contract: add a code here and in docs/errors.md. */
export const ERROR_CODES = {
  // configuration and start-up
  config_invalid: 500,
  database_url_invalid: 500,
  migration_failed: 500,
  wrong_operator_secret: 500,
  // storage and secrets at rest
  database_unavailable: 503,
  duplicate: 409,
  decryption_failed: 500,
  // passwords and 2-step methods
  password_too_long: 400,
  invalid_password_hash: 500,
  invalid_hash_params: 500,
  webauthn_registration_failed: 400,
  webauthn_invalid_user_id: 400,
  // upstream identity providers
  upstream_unreachable: 502,
  upstream_timeout: 502,
  access_denied: 403,
  invalid_response: 400,
  invalid_signature: 400,
  state_mismatch: 400,
  wrong_hosted_domain: 400,
  wrong_tenant: 400,
  email_unverified: 400,
  replayed: 400,
  expired: 400,
  wrong_audience: 400,
  subject_mismatch: 400,
  client_authentication_failed: 502,
  xml_refused: 400,
  invalid_metadata: 500,
  // sign-in pages
  sign_in_expired: 400,
  sign_in_step_refused: 409,
  // administration
  not_found: 404,
  already_exists: 409,
  invalid: 400,
  declared_in_config: 409,
  in_use: 409,
  verification_failed: 400,
  conflict: 409,
  usage: 400,
  // SCIM provisioning (RFC 7644 §3.12: the SCIM error carries the status and scimType)
  scim_request_refused: 400,
  unauthorized: 401,
  forbidden: 403,
  upstream_managed: 409,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ServerErrorOptions {
  cause?: unknown;
  /** May the message reach the person or client? Default: only for statuses below 500. */
  expose?: boolean;
  /** Overrides the code's usual status (rarely needed). */
  status?: number;
}

export class ServerError extends Error {
  override name = 'ServerError';
  readonly code: ErrorCode;
  readonly status: number;
  /** The same status, under the name Fastify's and the engine's error handlers read. */
  readonly statusCode: number;
  readonly expose: boolean;

  constructor(code: ErrorCode, message: string, options: ServerErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status ?? ERROR_CODES[code];
    this.statusCode = this.status;
    this.expose = options.expose ?? this.status < 500;
  }
}

export function isServerError(error: unknown, code?: ErrorCode): error is ServerError {
  return error instanceof ServerError && (code === undefined || error.code === code);
}
