import type { Kysely } from 'kysely';
import type { SecretBox } from '../crypto/secret-box.js';
import { disableUserEverywhere } from '../domain/offboarding.js';
import { hashScimToken } from '../domain/scim-tokens.js';
import type { SessionControl } from '../domain/sessions.js';
import type { Database } from '../storage/database.js';
import { DuplicateError } from '../storage/errors.js';
import { auditRepository } from '../storage/repositories/audit.js';
import { type ScimGroupRow, type ScimUserRow, scimRepository } from '../storage/repositories/scim.js';
import { usersRepository } from '../storage/repositories/users.js';
import type { Repositories } from '../storage/repositories.js';
import type { Schema } from '../storage/schema.js';
import { groupLookup, userLookup } from './filters.js';
import {
  type GroupInput,
  groupInput,
  groupResource,
  groupVersion,
  patchOperations,
  projectAttributes,
  refuseUnknownAttributes,
  refuseUnknownPatchTargets,
  type UserInput,
  userInput,
  userResource,
  userVersion,
} from './resources.js';
import { ScimRefusal } from './scim-error.js';
import { LIST_RESPONSE_SCHEMA, PATCH_OP_SCHEMA, scimmy } from './scimmy.js';

export interface ScimDeps {
  database: Database;
  secretBox: SecretBox;
  repos: Pick<Repositories, 'scim' | 'organizations'>;
  sessions: SessionControl;
}

/** Who is asking, established by `authenticate`: one organization, through one token. */
export interface ScimCaller {
  organizationId: string;
  verifiedDomains: string[];
  tokenId: string;
  /** The absolute base URL, `<issuer>/scim/v2/<organization>`, for `meta.location` and `$ref`. */
  base: string;
}

export interface ScimResult {
  status: number;
  body?: unknown;
  etag?: string;
  location?: string;
}

export interface ListQuery {
  filter?: string | undefined;
  startIndex?: string | undefined;
  count?: string | undefined;
  attributes?: string | undefined;
  excludedAttributes?: string | undefined;
}

/** Records a token's use at most this often (one write per minute, not per request). */
const TOUCH_INTERVAL_MS = 60_000;
const DEFAULT_COUNT = 100;
const MAX_COUNT = 1_000;

const bearer = /^Bearer\s+(\S+)\s*$/i;

/**
 * The bearer token names its organization: a token of another organization, a revoked or an
 * unknown one is refused alike (401), so the answer does not tell which. `reason` is for the log.
 */
export async function authenticate(
  deps: ScimDeps,
  issuer: string,
  organizationParam: string,
  authorization: string | undefined,
): Promise<ScimCaller> {
  const token = authorization ? bearer.exec(authorization)?.[1] : undefined;
  const refuse = (reason: string): never => {
    const refusal = new ScimRefusal(
      401,
      undefined,
      'a valid SCIM bearer token of this organization is required',
    );
    (refusal as ScimRefusal & { reason?: string }).reason = reason;
    throw refusal;
  };
  if (!token) return refuse('no_bearer_token');
  const found = await deps.repos.scim.tokens.findByHash(hashScimToken(token));
  if (!found) return refuse('unknown_token');
  if (found.revokedAt !== null) return refuse('revoked_token');
  if (found.organizationId !== organizationParam) return refuse('other_organization');
  const org = await deps.repos.organizations.findById(found.organizationId);
  if (!org) return refuse('unknown_organization');
  const now = Date.now();
  if (found.lastUsedAt === null || now - found.lastUsedAt > TOUCH_INTERVAL_MS) {
    await deps.repos.scim.tokens.touch(found.id, now);
  }
  return {
    organizationId: org.id,
    verifiedDomains: org.verifiedDomains,
    tokenId: found.id,
    base: `${issuer.replace(/\/$/, '')}/scim/v2/${encodeURIComponent(org.id)}`,
  };
}

/** The repositories on one transaction: a request's writes and audit events commit or roll back together. */
function inTransaction<T>(deps: ScimDeps, work: (t: Tx) => Promise<T>): Promise<T> {
  return deps.database.db.transaction().execute((trx) =>
    work({
      db: trx,
      scim: scimRepository({ db: trx }),
      users: usersRepository({ ...deps.database, db: trx }, deps.secretBox),
      audit: auditRepository({ db: trx }),
    }),
  );
}

interface Tx {
  db: Kysely<Schema>;
  scim: ReturnType<typeof scimRepository>;
  users: ReturnType<typeof usersRepository>;
  audit: ReturnType<typeof auditRepository>;
}

const actorOf = (caller: ScimCaller) => `scim:${caller.tokenId}`;

function duplicateAsConflict(error: unknown): never {
  if (error instanceof DuplicateError) throw new ScimRefusal(409, 'uniqueness', error.message);
  throw error;
}

/** RFC 7644 §3.14: a write with If-Match that names another version is refused (412), nothing written. */
function checkIfMatch(ifMatch: string | undefined, version: string): void {
  if (ifMatch === undefined || ifMatch.trim() === '*') return;
  const wanted = ifMatch.split(',').map((v) => v.trim());
  if (!wanted.includes(version)) {
    throw new ScimRefusal(412, undefined, `the resource has changed (its version is ${version})`);
  }
}

function pagination(query: ListQuery): { startIndex: number; count: number } {
  const integer = (name: string, value: string | undefined, fallback: number) => {
    if (value === undefined || value === '') return fallback;
    if (!/^-?\d+$/.test(value)) throw new ScimRefusal(400, 'invalidValue', `${name} must be an integer`);
    return Number(value);
  };
  // RFC 7644 §3.4.2.4: below 1 is read as 1; a negative count as 0.
  const startIndex = Math.max(1, integer('startIndex', query.startIndex, 1));
  const count = Math.min(MAX_COUNT, Math.max(0, integer('count', query.count, DEFAULT_COUNT)));
  return { startIndex, count };
}

function listResponse(resources: unknown[], total: number, startIndex: number): ScimResult {
  return {
    status: 200,
    body: {
      schemas: [LIST_RESPONSE_SCHEMA],
      totalResults: total,
      startIndex,
      itemsPerPage: resources.length,
      Resources: resources,
    },
  };
}

/** A JSON body as scimmy validates and coerces it against the resource's schema (direction "in"). */
function validated(kind: 'User' | 'Group', body: unknown): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new ScimRefusal(400, 'invalidSyntax', `a ${kind} resource (a JSON object) is expected`);
  }
  refuseUnknownAttributes(kind, body as Record<string, unknown>);
  const SCIMMY = scimmy();
  const Schema = kind === 'User' ? SCIMMY.Schemas.User : SCIMMY.Schemas.Group;
  return JSON.parse(JSON.stringify(new Schema(body as Record<string, unknown>, 'in'))) as Record<
    string,
    unknown
  >;
}

/** A PatchOp applied by scimmy to the resource as it is now; undefined when nothing changes. */
async function patched(
  kind: 'User' | 'Group',
  current: Record<string, unknown>,
  body: unknown,
): Promise<Record<string, unknown> | undefined> {
  const operations = patchOperations(body);
  refuseUnknownPatchTargets(kind, operations);
  const SCIMMY = scimmy();
  const Schema = kind === 'User' ? SCIMMY.Schemas.User : SCIMMY.Schemas.Group;
  const message = new SCIMMY.Messages.PatchOp({
    schemas: [PATCH_OP_SCHEMA],
    Operations: operations,
  } as never);
  const result = await message.apply(new Schema(current, 'out') as never);
  return result ? (JSON.parse(JSON.stringify(result)) as Record<string, unknown>) : undefined;
}

// ---- Users ----

async function findUser(scim: Tx['scim'] | ScimDeps['repos']['scim'], caller: ScimCaller, id: string) {
  const [row] = await scim.users.find(caller.organizationId, { by: 'id', value: id });
  if (!row) throw new ScimRefusal(404, undefined, `no User ${id}`);
  return row;
}

async function userOut(
  scim: Tx['scim'] | ScimDeps['repos']['scim'],
  caller: ScimCaller,
  row: ScimUserRow,
): Promise<Record<string, unknown>> {
  return userResource(row, await scim.users.groupsOf(row.id), caller.base);
}

export async function getUser(
  deps: ScimDeps,
  caller: ScimCaller,
  id: string,
  query: ListQuery,
): Promise<ScimResult> {
  const row = await findUser(deps.repos.scim, caller, id);
  const body = projectAttributes(await userOut(deps.repos.scim, caller, row), query);
  return { status: 200, body, etag: userVersion(row), location: `${caller.base}/Users/${row.id}` };
}

export async function listUsers(deps: ScimDeps, caller: ScimCaller, query: ListQuery): Promise<ScimResult> {
  const lookup = userLookup(query.filter);
  const { startIndex, count } = pagination(query);
  const rows = await deps.repos.scim.users.find(caller.organizationId, lookup);
  const page = rows.slice(startIndex - 1, startIndex - 1 + count);
  const resources = [];
  for (const row of page)
    resources.push(projectAttributes(await userOut(deps.repos.scim, caller, row), query));
  return listResponse(resources, rows.length, startIndex);
}

export async function createUser(deps: ScimDeps, caller: ScimCaller, body: unknown): Promise<ScimResult> {
  const input = userInput(validated('User', body), caller.verifiedDomains);
  const id = await inTransaction(deps, async (t) => {
    const existing = await t.scim.users.findAnyByEmail(input.email);
    // A user a SCIM DELETE hid is provisioned again: the same account, its history kept.
    const revived = existing?.organizationId === caller.organizationId && existing.deletedAt !== null;
    if (existing && !revived)
      throw new ScimRefusal(409, 'uniqueness', `a User with userName ${input.email} exists`);
    let userId: string;
    if (existing) {
      userId = existing.id;
      await t.scim.users.setIdentity(userId, input.email, input.displayName).catch(duplicateAsConflict);
    } else {
      const user = await t.users
        .create({ organizationId: caller.organizationId, email: input.email, name: input.displayName })
        .catch(duplicateAsConflict);
      userId = user.id;
    }
    await t.scim.users
      .save({
        userId,
        organizationId: caller.organizationId,
        externalId: input.externalId,
        attributes: input.attributes,
      })
      .catch(duplicateAsConflict);
    // A revived user is disabled (its DELETE disabled it); a new one starts active.
    const status = input.active ? 'active' : 'disabled';
    if (revived ? input.active : !input.active) await t.users.setStatus(userId, status);
    await t.audit.append({
      action: 'scim_user_created',
      outcome: 'success',
      actor: actorOf(caller),
      userId,
      organizationId: caller.organizationId,
      details: { tokenId: caller.tokenId, externalId: input.externalId, active: input.active, revived },
    });
    return userId;
  });
  const result = await getUser(deps, caller, id, {});
  return { ...result, status: 201 };
}

/** The change a PUT or PATCH makes, inside the request's transaction; `active: false` is offboarding. */
async function applyUser(
  deps: ScimDeps,
  t: Tx,
  caller: ScimCaller,
  current: ScimUserRow,
  input: UserInput,
  how: 'put' | 'patch',
): Promise<void> {
  await t.scim.users
    .setIdentity(current.id, input.email, input.displayName ?? current.name)
    .catch(duplicateAsConflict);
  await t.scim.users
    .save({
      userId: current.id,
      organizationId: caller.organizationId,
      externalId: input.externalId,
      attributes: input.attributes,
    })
    .catch(duplicateAsConflict);
  if (current.status === 'active' && !input.active) {
    await disableUserEverywhere({ database: { db: t.db }, sessions: deps.sessions }, current.id, {
      actor: actorOf(caller),
      reason: 'scim_active_false',
      details: { tokenId: caller.tokenId },
    });
  } else if (current.status !== 'active' && input.active) {
    await t.users.setStatus(current.id, 'active');
    await t.audit.append({
      action: 'user_enabled',
      outcome: 'success',
      actor: actorOf(caller),
      userId: current.id,
      organizationId: caller.organizationId,
      details: { reason: 'scim_active_true', tokenId: caller.tokenId },
    });
  }
  const changed = [
    ...(current.email?.toLowerCase() !== input.email.toLowerCase() ? ['userName'] : []),
    ...(current.externalId !== input.externalId ? ['externalId'] : []),
    ...((current.status === 'active') !== input.active ? ['active'] : []),
    ...(JSON.stringify(current.attributes) !== JSON.stringify(input.attributes) ? ['attributes'] : []),
  ];
  await t.audit.append({
    action: 'scim_user_updated',
    outcome: 'success',
    actor: actorOf(caller),
    userId: current.id,
    organizationId: caller.organizationId,
    details: { tokenId: caller.tokenId, method: how, changed },
  });
}

export async function replaceUser(
  deps: ScimDeps,
  caller: ScimCaller,
  id: string,
  body: unknown,
  ifMatch: string | undefined,
): Promise<ScimResult> {
  const input = userInput(validated('User', body), caller.verifiedDomains);
  await inTransaction(deps, async (t) => {
    const current = await findUser(t.scim, caller, id);
    checkIfMatch(ifMatch, userVersion(current));
    await applyUser(deps, t, caller, current, input, 'put');
  });
  return getUser(deps, caller, id, {});
}

export async function patchUser(
  deps: ScimDeps,
  caller: ScimCaller,
  id: string,
  body: unknown,
  ifMatch: string | undefined,
): Promise<ScimResult> {
  await inTransaction(deps, async (t) => {
    const current = await findUser(t.scim, caller, id);
    checkIfMatch(ifMatch, userVersion(current));
    const next = await patched('User', await userOut(t.scim, caller, current), body);
    if (!next) return;
    await applyUser(deps, t, caller, current, userInput(next, caller.verifiedDomains), 'patch');
  });
  return getUser(deps, caller, id, {});
}

/**
 * DELETE disables instead of deleting (docs/scim.md): the user is offboarded like `active: false`
 * (one transaction: disabled, everything revoked, audited), leaves every group and disappears from
 * the SCIM view (404 from then on), while the account row and its audit history stay. A later POST
 * with the same userName provisions the same account again.
 */
export async function deleteUser(
  deps: ScimDeps,
  caller: ScimCaller,
  id: string,
  ifMatch: string | undefined,
): Promise<ScimResult> {
  await inTransaction(deps, async (t) => {
    const current = await findUser(t.scim, caller, id);
    checkIfMatch(ifMatch, userVersion(current));
    await t.scim.users.save({
      userId: current.id,
      organizationId: caller.organizationId,
      externalId: current.externalId,
      attributes: current.attributes,
    });
    await disableUserEverywhere({ database: { db: t.db }, sessions: deps.sessions }, current.id, {
      actor: actorOf(caller),
      reason: 'scim_delete',
      details: { tokenId: caller.tokenId },
    });
    await t.scim.users.markDeleted(current.id);
    await t.audit.append({
      action: 'scim_user_deleted',
      outcome: 'success',
      actor: actorOf(caller),
      userId: current.id,
      organizationId: caller.organizationId,
      details: { tokenId: caller.tokenId, externalId: current.externalId },
    });
  });
  return { status: 204 };
}

// ---- Groups ----

async function findGroup(scim: Tx['scim'] | ScimDeps['repos']['scim'], caller: ScimCaller, id: string) {
  const [row] = await scim.groups.find(caller.organizationId, { by: 'id', value: id });
  if (!row) throw new ScimRefusal(404, undefined, `no Group ${id}`);
  return row;
}

const wantsMembers = (query: ListQuery) => {
  const list = (s: string | undefined) => (s ?? '').split(',').map((a) => a.trim().toLowerCase());
  if (query.attributes)
    return list(query.attributes).some((a) => a === 'members' || a.startsWith('members.'));
  return !list(query.excludedAttributes).includes('members');
};

async function groupOut(
  scim: Tx['scim'] | ScimDeps['repos']['scim'],
  caller: ScimCaller,
  row: ScimGroupRow,
  withMembers: boolean,
) {
  return groupResource(row, withMembers ? await scim.groups.members(row.id) : undefined, caller.base);
}

export async function getGroup(
  deps: ScimDeps,
  caller: ScimCaller,
  id: string,
  query: ListQuery,
): Promise<ScimResult> {
  const row = await findGroup(deps.repos.scim, caller, id);
  const body = projectAttributes(await groupOut(deps.repos.scim, caller, row, wantsMembers(query)), query);
  return { status: 200, body, etag: groupVersion(row), location: `${caller.base}/Groups/${row.id}` };
}

export async function listGroups(deps: ScimDeps, caller: ScimCaller, query: ListQuery): Promise<ScimResult> {
  const lookup = groupLookup(query.filter);
  const { startIndex, count } = pagination(query);
  const rows = await deps.repos.scim.groups.find(caller.organizationId, lookup);
  const page = rows.slice(startIndex - 1, startIndex - 1 + count);
  const resources = [];
  for (const row of page) {
    resources.push(
      projectAttributes(await groupOut(deps.repos.scim, caller, row, wantsMembers(query)), query),
    );
  }
  return listResponse(resources, rows.length, startIndex);
}

/** Members must be users of the group's organization that the SCIM view shows. */
async function checkMembers(t: Tx, caller: ScimCaller, input: GroupInput): Promise<void> {
  for (const memberId of input.memberIds) {
    const [user] = await t.scim.users.find(caller.organizationId, { by: 'id', value: memberId });
    if (!user) {
      throw new ScimRefusal(400, 'invalidValue', `member ${memberId} is not a User of this organization`);
    }
  }
}

export async function createGroup(deps: ScimDeps, caller: ScimCaller, body: unknown): Promise<ScimResult> {
  const input = groupInput(validated('Group', body));
  const id = await inTransaction(deps, async (t) => {
    await checkMembers(t, caller, input);
    const group = await t.scim.groups
      .create({
        organizationId: caller.organizationId,
        displayName: input.displayName,
        externalId: input.externalId,
      })
      .catch(duplicateAsConflict);
    await t.scim.groups.setMembers(group.id, input.memberIds);
    await t.audit.append({
      action: 'scim_group_created',
      outcome: 'success',
      actor: actorOf(caller),
      organizationId: caller.organizationId,
      details: {
        tokenId: caller.tokenId,
        groupId: group.id,
        displayName: input.displayName,
        members: input.memberIds.length,
      },
    });
    return group.id;
  });
  const result = await getGroup(deps, caller, id, {});
  return { ...result, status: 201 };
}

async function applyGroup(
  t: Tx,
  caller: ScimCaller,
  current: ScimGroupRow,
  input: GroupInput,
  how: 'put' | 'patch',
) {
  await checkMembers(t, caller, input);
  await t.scim.groups
    .update(current.id, { displayName: input.displayName, externalId: input.externalId })
    .catch(duplicateAsConflict);
  const { added, removed } = await t.scim.groups.setMembers(current.id, input.memberIds);
  await t.audit.append({
    action: 'scim_group_updated',
    outcome: 'success',
    actor: actorOf(caller),
    organizationId: caller.organizationId,
    details: {
      tokenId: caller.tokenId,
      groupId: current.id,
      method: how,
      displayName: input.displayName,
      membersAdded: added,
      membersRemoved: removed,
    },
  });
}

export async function replaceGroup(
  deps: ScimDeps,
  caller: ScimCaller,
  id: string,
  body: unknown,
  ifMatch: string | undefined,
): Promise<ScimResult> {
  const input = groupInput(validated('Group', body));
  await inTransaction(deps, async (t) => {
    const current = await findGroup(t.scim, caller, id);
    checkIfMatch(ifMatch, groupVersion(current));
    await applyGroup(t, caller, current, input, 'put');
  });
  return getGroup(deps, caller, id, {});
}

/**
 * PATCH of a group: the members added or removed (Entra ID and Okta send one operation per change,
 * by value or by `members[value eq "…"]`), a rename. Answers 204 as Entra ID and Okta expect for a
 * group (a big group's member list is not echoed back).
 */
export async function patchGroup(
  deps: ScimDeps,
  caller: ScimCaller,
  id: string,
  body: unknown,
  ifMatch: string | undefined,
): Promise<ScimResult> {
  await inTransaction(deps, async (t) => {
    const current = await findGroup(t.scim, caller, id);
    checkIfMatch(ifMatch, groupVersion(current));
    const next = await patched('Group', await groupOut(t.scim, caller, current, true), body);
    if (!next) return;
    await applyGroup(t, caller, current, groupInput(next), 'patch');
  });
  return { status: 204 };
}

export async function deleteGroup(
  deps: ScimDeps,
  caller: ScimCaller,
  id: string,
  ifMatch: string | undefined,
): Promise<ScimResult> {
  await inTransaction(deps, async (t) => {
    const current = await findGroup(t.scim, caller, id);
    checkIfMatch(ifMatch, groupVersion(current));
    await t.scim.groups.remove(current.id);
    await t.audit.append({
      action: 'scim_group_deleted',
      outcome: 'success',
      actor: actorOf(caller),
      organizationId: caller.organizationId,
      details: { tokenId: caller.tokenId, groupId: current.id, displayName: current.displayName },
    });
  });
  return { status: 204 };
}

// ---- discovery (RFC 7644 §4) ----

function relocate(resource: Record<string, unknown>, location: string): Record<string, unknown> {
  const meta = (resource.meta ?? {}) as Record<string, unknown>;
  return { ...resource, meta: { ...meta, location } };
}

export async function discovery(
  caller: ScimCaller,
  endpoint: 'ServiceProviderConfig' | 'ResourceTypes' | 'Schemas',
  id: string | undefined,
): Promise<ScimResult> {
  const SCIMMY = scimmy();
  const plain = (value: unknown) => JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
  if (endpoint === 'ServiceProviderConfig') {
    const config = plain(await new SCIMMY.Resources.ServiceProviderConfig().read());
    return { status: 200, body: relocate(config, `${caller.base}/ServiceProviderConfig`) };
  }
  const Resource = endpoint === 'ResourceTypes' ? SCIMMY.Resources.ResourceType : SCIMMY.Resources.Schema;
  const locate = (r: Record<string, unknown>) => relocate(r, `${caller.base}/${endpoint}/${String(r.id)}`);
  if (id !== undefined) {
    const one = await new Resource(id).read().catch(() => {
      throw new ScimRefusal(404, undefined, `no ${endpoint} ${id}`);
    });
    const body = plain(one);
    if (endpoint === 'ResourceTypes' && !('endpoint' in body))
      throw new ScimRefusal(404, undefined, `no ${endpoint} ${id}`);
    return { status: 200, body: locate(body) };
  }
  const list = plain(await new Resource().read()) as { Resources?: Record<string, unknown>[] };
  const resources = (list.Resources ?? []).map(locate);
  return listResponse(resources, resources.length, 1);
}
