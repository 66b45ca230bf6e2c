import type { ScimGroupRow, ScimMember, ScimUserRow } from '../storage/repositories/scim.js';
import { ScimRefusal } from './scim-error.js';
import { ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, scimmy, USER_SCHEMA } from './scimmy.js';

/** Attributes Latchkey owns or derives: never stored from a client's body. */
const OWNED_USER_ATTRIBUTES = new Set([
  'schemas',
  'id',
  'meta',
  'username',
  'active',
  'externalid',
  'password',
  'groups',
]);

const iso = (ms: number) => new Date(ms).toISOString();

/** The weak ETag of a resource (RFC 7644 §3.14): its write counter and last change. */
export function userVersion(row: Pick<ScimUserRow, 'version' | 'updatedAt'>): string {
  return `W/"${row.version}-${row.updatedAt.toString(36)}"`;
}

export function groupVersion(row: Pick<ScimGroupRow, 'version' | 'updatedAt'>): string {
  return `W/"${row.version}-${row.updatedAt.toString(36)}"`;
}

/** A user as a SCIM User resource (before scimmy shapes it for output). */
export function userResource(
  row: ScimUserRow,
  groups: { id: string; displayName: string }[],
  base: string,
): Record<string, unknown> {
  const stored = { ...row.attributes };
  const emails =
    Array.isArray(stored.emails) && stored.emails.length > 0
      ? stored.emails
      : row.email
        ? [{ value: row.email, type: 'work', primary: true }]
        : undefined;
  const schemas = [USER_SCHEMA, ...(stored[ENTERPRISE_USER_SCHEMA] ? [ENTERPRISE_USER_SCHEMA] : [])];
  return {
    ...stored,
    schemas,
    id: row.id,
    ...(row.externalId !== null ? { externalId: row.externalId } : {}),
    userName: row.email ?? row.id,
    ...(stored.displayName === undefined && row.name ? { displayName: row.name } : {}),
    active: row.status === 'active',
    ...(emails ? { emails } : {}),
    groups: groups.map((g) => ({ value: g.id, display: g.displayName, $ref: `${base}/Groups/${g.id}` })),
    meta: {
      resourceType: 'User',
      created: iso(row.createdAt),
      lastModified: iso(row.updatedAt),
      version: userVersion(row),
      location: `${base}/Users/${row.id}`,
    },
  };
}

export function groupResource(
  row: ScimGroupRow,
  members: ScimMember[] | undefined,
  base: string,
): Record<string, unknown> {
  return {
    schemas: [GROUP_SCHEMA],
    id: row.id,
    ...(row.externalId !== null ? { externalId: row.externalId } : {}),
    displayName: row.displayName,
    ...(members
      ? {
          members: members.map((m) => ({
            value: m.userId,
            ...(m.email ? { display: m.email } : {}),
            $ref: `${base}/Users/${m.userId}`,
          })),
        }
      : {}),
    meta: {
      resourceType: 'Group',
      created: iso(row.createdAt),
      lastModified: iso(row.updatedAt),
      version: groupVersion(row),
      location: `${base}/Groups/${row.id}`,
    },
  };
}

/** RFC 7644 §3.4.2.5 `attributes` / `excludedAttributes`, on top-level attributes. */
export function projectAttributes(
  resource: Record<string, unknown>,
  query: { attributes?: string | undefined; excludedAttributes?: string | undefined },
): Record<string, unknown> {
  const names = (list: string | undefined) =>
    (list ?? '')
      .split(',')
      .map((a) => a.trim().split('.')[0]?.toLowerCase() ?? '')
      .filter(Boolean);
  const always = new Set(['schemas', 'id', 'meta']);
  const keep = names(query.attributes);
  const drop = new Set(names(query.excludedAttributes));
  return Object.fromEntries(
    Object.entries(resource).filter(([key]) => {
      const name = key.toLowerCase();
      if (always.has(name)) return true;
      if (keep.length > 0) return keep.includes(name);
      return !drop.has(name);
    }),
  );
}

// ---- input ----

interface AttributeDefinition {
  name: string;
  type: string;
  subAttributes?: AttributeDefinition[];
}

function definitionOf(schema: 'User' | 'Group'): {
  attributes: AttributeDefinition[];
  extensions: Map<string, AttributeDefinition[]>;
} {
  const SCIMMY = scimmy();
  const definition = (schema === 'User' ? SCIMMY.Schemas.User : SCIMMY.Schemas.Group)
    .definition as unknown as {
    attributes: (AttributeDefinition & { config?: unknown })[];
  };
  const extensions = new Map<string, AttributeDefinition[]>();
  if (schema === 'User') {
    const enterprise = SCIMMY.Schemas.EnterpriseUser.definition as unknown as {
      attributes: AttributeDefinition[];
    };
    extensions.set(ENTERPRISE_USER_SCHEMA.toLowerCase(), enterprise.attributes);
  }
  return {
    attributes: definition.attributes.filter((a) => a.name !== 'EnterpriseUser'),
    extensions,
  };
}

/**
 * Unknown attributes are refused instead of dropped in silence (scimmy drops them): a client that
 * maps a custom attribute Latchkey does not keep learns so at once. Checks the top level, the
 * sub-attributes of complex ones, and the extension objects; names compare case-insensitively.
 */
export function refuseUnknownAttributes(schema: 'User' | 'Group', body: Record<string, unknown>): void {
  const { attributes, extensions } = definitionOf(schema);
  const check = (value: unknown, defs: AttributeDefinition[], where: string) => {
    if (!value || typeof value !== 'object') return;
    const items = Array.isArray(value) ? value : [value];
    for (const item of items) {
      if (!item || typeof item !== 'object' || Array.isArray(item)) continue;
      for (const [key, inner] of Object.entries(item as Record<string, unknown>)) {
        const def = defs.find((d) => d.name.toLowerCase() === key.toLowerCase());
        if (!def) throw new ScimRefusal(400, 'invalidSyntax', `unknown attribute "${where}${key}"`);
        if (def.type === 'complex' && def.subAttributes) check(inner, def.subAttributes, `${where}${key}.`);
      }
    }
  };
  for (const [key, value] of Object.entries(body)) {
    const extension = extensions.get(key.toLowerCase());
    if (extension) {
      check(value, extension, `${key}:`);
      continue;
    }
    const def = attributes.find((d) => d.name.toLowerCase() === key.toLowerCase());
    if (!def) throw new ScimRefusal(400, 'invalidSyntax', `unknown attribute "${key}"`);
    if (def.type === 'complex' && def.subAttributes) check(value, def.subAttributes, `${key}.`);
  }
}

/** Path-less PATCH values and paths name attributes too: the same check, on their first segment. */
export function refuseUnknownPatchTargets(schema: 'User' | 'Group', operations: PatchOperation[]): void {
  const { attributes, extensions } = definitionOf(schema);
  const known = (path: string) => {
    const lower = path.toLowerCase();
    for (const urn of [...extensions.keys(), USER_SCHEMA.toLowerCase(), GROUP_SCHEMA.toLowerCase()]) {
      if (lower === urn) return true;
      if (lower.startsWith(`${urn}:`)) {
        const rest = lower.slice(urn.length + 1).split(/[.[]/)[0] ?? '';
        const defs = extensions.get(urn) ?? attributes;
        return defs.some((d) => d.name.toLowerCase() === rest);
      }
    }
    const first = lower.split(/[.[]/)[0] ?? '';
    return attributes.some((d) => d.name.toLowerCase() === first);
  };
  for (const [index, operation] of operations.entries()) {
    if (typeof operation.path === 'string') {
      if (!known(operation.path)) {
        throw new ScimRefusal(
          400,
          'invalidPath',
          `unknown attribute "${operation.path}" in operation ${index + 1}`,
        );
      }
    } else if (operation.value && typeof operation.value === 'object' && !Array.isArray(operation.value)) {
      for (const key of Object.keys(operation.value)) {
        if (!known(key)) {
          throw new ScimRefusal(400, 'invalidPath', `unknown attribute "${key}" in operation ${index + 1}`);
        }
      }
    }
  }
}

export interface PatchOperation {
  op: string;
  path?: string;
  value?: unknown;
}

/** Entra ID sends booleans as the strings "True" / "False" (its documented pre-2020 behaviour). */
function coerceBoolean(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const lower = value.toLowerCase();
  return lower === 'true' ? true : lower === 'false' ? false : value;
}

/**
 * Reads a PatchOp request (RFC 7644 §3.5.2) and evens out what Entra ID and Okta actually send:
 * `active` as a string, `op` in any case. Refuses anything that is not a PatchOp.
 */
export function patchOperations(body: unknown): PatchOperation[] {
  const message = body as { schemas?: unknown; Operations?: unknown } | null;
  if (!message || typeof message !== 'object' || Array.isArray(message)) {
    throw new ScimRefusal(400, 'invalidSyntax', 'a PatchOp message (an object) is expected');
  }
  if (
    !Array.isArray(message.schemas) ||
    !message.schemas.includes('urn:ietf:params:scim:api:messages:2.0:PatchOp')
  ) {
    throw new ScimRefusal(
      400,
      'invalidSyntax',
      'schemas must be ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]',
    );
  }
  if (!Array.isArray(message.Operations) || message.Operations.length === 0) {
    throw new ScimRefusal(400, 'invalidSyntax', 'Operations must be a non-empty array');
  }
  return message.Operations.map((raw, index) => {
    const operation = raw as { op?: unknown; path?: unknown; value?: unknown } | null;
    if (!operation || typeof operation !== 'object' || typeof operation.op !== 'string') {
      throw new ScimRefusal(400, 'invalidSyntax', `operation ${index + 1} has no "op"`);
    }
    if (operation.path !== undefined && typeof operation.path !== 'string') {
      throw new ScimRefusal(400, 'invalidPath', `operation ${index + 1}: "path" must be a string`);
    }
    const path = operation.path as string | undefined;
    let value = operation.value;
    if (path?.toLowerCase() === 'active') value = coerceBoolean(value);
    if (path === undefined && value && typeof value === 'object' && !Array.isArray(value)) {
      value = Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, k.toLowerCase() === 'active' ? coerceBoolean(v) : v]),
      );
    }
    // Entra ID sends `{"$ref": null, "value": "…"}` members; a null sub-attribute means "not given"
    // (RFC 7643 §2.5) and would otherwise keep a remove from matching the stored member.
    if (Array.isArray(value)) value = value.map(withoutNulls);
    return {
      op: operation.op.toLowerCase(),
      ...(path !== undefined ? { path } : {}),
      ...(value !== undefined ? { value } : {}),
    };
  });
}

function withoutNulls(item: unknown): unknown {
  if (!item || typeof item !== 'object' || Array.isArray(item)) return item;
  return Object.fromEntries(Object.entries(item).filter(([, v]) => v !== null));
}

/** What a User body (POST, PUT, or a PATCH's result) asks for, checked against the organization. */
export interface UserInput {
  email: string;
  externalId: string | null;
  active: boolean;
  displayName: string | null;
  attributes: Record<string, unknown>;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * userName is the sign-in email: it must be an address in one of the organization's verified
 * domains (the rule sign-in applies to upstream emails, federation/link.ts `trustedEmail`), so a
 * provisioning token can never create an account for somebody else's domain.
 */
export function userInput(resource: Record<string, unknown>, verifiedDomains: readonly string[]): UserInput {
  const userName = resource.userName;
  if (typeof userName !== 'string' || !EMAIL.test(userName.trim())) {
    throw new ScimRefusal(400, 'invalidValue', "userName must be the person's email address");
  }
  const email = userName.trim();
  const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase();
  if (!verifiedDomains.some((d) => d.toLowerCase() === domain)) {
    throw new ScimRefusal(
      400,
      'invalidValue',
      `userName ${email} is not in a verified domain of this organization (${verifiedDomains.join(', ') || 'none'})`,
    );
  }
  const externalId = resource.externalId;
  if (externalId !== undefined && externalId !== null && typeof externalId !== 'string') {
    throw new ScimRefusal(400, 'invalidValue', 'externalId must be a string');
  }
  const attributes = Object.fromEntries(
    Object.entries(resource).filter(([key]) => !OWNED_USER_ATTRIBUTES.has(key.toLowerCase())),
  );
  const name = attributes.name as
    | { formatted?: unknown; givenName?: unknown; familyName?: unknown }
    | undefined;
  const displayName =
    (typeof attributes.displayName === 'string' && attributes.displayName) ||
    (typeof name?.formatted === 'string' && name.formatted) ||
    [name?.givenName, name?.familyName].filter((p) => typeof p === 'string' && p).join(' ') ||
    null;
  return {
    email,
    externalId: typeof externalId === 'string' && externalId !== '' ? externalId : null,
    active: resource.active !== false,
    displayName,
    attributes: JSON.parse(JSON.stringify(attributes)) as Record<string, unknown>,
  };
}

export interface GroupInput {
  displayName: string;
  externalId: string | null;
  memberIds: string[];
}

export function groupInput(resource: Record<string, unknown>): GroupInput {
  const displayName = typeof resource.displayName === 'string' ? resource.displayName.trim() : '';
  if (!displayName) throw new ScimRefusal(400, 'invalidValue', 'displayName is required');
  // The groups claim joins names with newlines (storage/account-row.ts).
  if (/[\r\n]/.test(displayName)) throw new ScimRefusal(400, 'invalidValue', 'displayName must be one line');
  const externalId = resource.externalId;
  if (externalId !== undefined && externalId !== null && typeof externalId !== 'string') {
    throw new ScimRefusal(400, 'invalidValue', 'externalId must be a string');
  }
  const members = Array.isArray(resource.members) ? resource.members : [];
  const memberIds = members.map((m, i) => {
    const value = (m as { value?: unknown } | null)?.value;
    if (typeof value !== 'string' || !value) {
      throw new ScimRefusal(400, 'invalidValue', `members[${i}].value must be a user id`);
    }
    return value;
  });
  return {
    displayName,
    externalId: typeof externalId === 'string' && externalId !== '' ? externalId : null,
    memberIds: [...new Set(memberIds)],
  };
}
