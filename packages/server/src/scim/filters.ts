import type { ScimGroupLookup, ScimUserLookup } from '../storage/repositories/scim.js';
import { ScimRefusal } from './scim-error.js';
import { scimmy } from './scimmy.js';

/**
 * The `filter` query parameter (RFC 7644 §3.4.2.2), parsed by scimmy and narrowed to the lookups the
 * database answers with an index: what Entra ID's and Okta's provisioning send (`userName eq`,
 * `externalId eq`, `emails.value eq`, `id eq`; for groups `displayName eq`, `externalId eq`, `id eq`).
 * Any other filter is refused with `invalidFilter` rather than answered wrongly.
 */
const USER_FILTERS = 'userName eq, externalId eq, emails.value eq, id eq';
const GROUP_FILTERS = 'displayName eq, externalId eq, id eq';

type Expression = Record<string, unknown>;

function parse(filter: string): Expression {
  let parsed: unknown;
  try {
    parsed = new (scimmy().Types.Filter)(filter);
  } catch (error) {
    throw new ScimRefusal(400, 'invalidFilter', `filter "${filter}": ${(error as Error).message}`);
  }
  const expressions = Array.isArray(parsed) ? (parsed as Expression[]) : [];
  if (expressions.length !== 1 || Object.keys(expressions[0] as Expression).length !== 1) {
    throw new ScimRefusal(400, 'invalidFilter', `filter "${filter}": only a single comparison is supported`);
  }
  return expressions[0] as Expression;
}

/** `["eq", "value"]` → "value"; anything else (another operator, a missing or non-string value) → undefined. */
function eqString(comparison: unknown): string | undefined {
  if (!Array.isArray(comparison) || comparison.length !== 2) return undefined;
  const [operator, value] = comparison as unknown[];
  return String(operator).toLowerCase() === 'eq' && typeof value === 'string' ? value : undefined;
}

function unsupported(filter: string, supported: string): never {
  throw new ScimRefusal(400, 'invalidFilter', `filter "${filter}" is not supported; supported: ${supported}`);
}

export function userLookup(filter: string | undefined): ScimUserLookup {
  if (filter === undefined) return { by: 'all' };
  const [[attribute, comparison]] = Object.entries(parse(filter)) as [[string, unknown]];
  const name = attribute.toLowerCase();
  if (name === 'emails' && comparison && typeof comparison === 'object' && !Array.isArray(comparison)) {
    const entries = Object.entries(comparison);
    const [sub, inner] = entries[0] ?? [];
    const value = entries.length === 1 && sub?.toLowerCase() === 'value' ? eqString(inner) : undefined;
    if (value !== undefined) return { by: 'email', value };
    return unsupported(filter, USER_FILTERS);
  }
  const value = eqString(comparison);
  if (value === undefined) return unsupported(filter, USER_FILTERS);
  if (name === 'username') return { by: 'userName', value };
  if (name === 'externalid') return { by: 'externalId', value };
  if (name === 'id') return { by: 'id', value };
  return unsupported(filter, USER_FILTERS);
}

export function groupLookup(filter: string | undefined): ScimGroupLookup {
  if (filter === undefined) return { by: 'all' };
  const [[attribute, comparison]] = Object.entries(parse(filter)) as [[string, unknown]];
  const value = eqString(comparison);
  if (value === undefined) return unsupported(filter, GROUP_FILTERS);
  const name = attribute.toLowerCase();
  if (name === 'displayname') return { by: 'displayName', value };
  if (name === 'externalid') return { by: 'externalId', value };
  if (name === 'id') return { by: 'id', value };
  return unsupported(filter, GROUP_FILTERS);
}
