import { ServerError } from '../errors/server-error.js';

/** RFC 7644 §3.12, Table 9: the detail keywords of a 400 (and 409 `uniqueness`). */
export type ScimType =
  | 'invalidFilter'
  | 'tooMany'
  | 'uniqueness'
  | 'mutability'
  | 'invalidSyntax'
  | 'invalidPath'
  | 'noTarget'
  | 'invalidValue'
  | 'invalidVers'
  | 'sensitive';

export const SCIM_ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

/**
 * A SCIM request Latchkey refuses: answered as a SCIM error (RFC 7644 §3.12) with its status and,
 * where the RFC defines one, a `scimType`. Raised before anything is written, or inside the
 * request's transaction so that it rolls back.
 */
export class ScimRefusal extends ServerError {
  override readonly name = 'ScimRefusal';
  constructor(
    status: number,
    readonly scimType: ScimType | undefined,
    detail: string,
  ) {
    super('scim_request_refused', detail, { status, expose: true });
  }
}

export interface ScimErrorBody {
  schemas: [typeof SCIM_ERROR_SCHEMA];
  status: string;
  scimType?: ScimType;
  detail: string;
}

export function scimErrorBody(status: number, scimType: ScimType | undefined, detail: string): ScimErrorBody {
  // RFC 7644 §3.12: `status` is a string.
  return {
    schemas: [SCIM_ERROR_SCHEMA],
    status: String(status),
    ...(scimType ? { scimType } : {}),
    detail,
  };
}

/**
 * scimmy reports refusals as its own SCIMError (status, scimType) or, when a value does not fit the
 * schema, as a plain TypeError: both become ScimRefusals. Anything else is a fault of ours.
 */
export function asScimRefusal(error: unknown): ScimRefusal | undefined {
  if (error instanceof ScimRefusal) return error;
  if (error && typeof error === 'object' && (error as { name?: unknown }).name === 'SCIMError') {
    const e = error as { status?: unknown; scimType?: unknown; message?: unknown };
    const status = Number(e.status) || 400;
    return new ScimRefusal(status, (e.scimType ?? undefined) as ScimType | undefined, String(e.message));
  }
  if (error instanceof TypeError) return new ScimRefusal(400, 'invalidValue', error.message);
  return undefined;
}
