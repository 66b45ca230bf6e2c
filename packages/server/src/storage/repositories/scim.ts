import { sql } from 'kysely';
import { newId } from '../../crypto/ids.js';
import type { Database } from '../database.js';
import { insertUnique } from '../errors.js';
import { parseJson } from '../json.js';
import { emailLookupKey } from './users.js';

export interface ScimToken {
  id: string;
  organizationId: string;
  label: string | null;
  createdBy: string | null;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

/** A user of an organization as the SCIM view shows it: the user row plus its SCIM record (if any). */
export interface ScimUserRow {
  id: string;
  organizationId: string;
  email: string | null;
  name: string | null;
  status: 'active' | 'disabled';
  createdAt: number;
  updatedAt: number;
  externalId: string | null;
  attributes: Record<string, unknown>;
  /** 0 for a user no SCIM client has written yet. */
  version: number;
  deletedAt: number | null;
}

export interface ScimGroupRow {
  id: string;
  organizationId: string;
  displayName: string;
  externalId: string | null;
  version: number;
  createdAt: number;
  updatedAt: number;
}

export interface ScimMember {
  userId: string;
  email: string | null;
}

/** What a SCIM list may be narrowed by: the filters scim/filters.ts accepts, already parsed. */
export type ScimUserLookup =
  | { by: 'all' }
  | { by: 'id'; value: string }
  | { by: 'userName'; value: string }
  | { by: 'externalId'; value: string }
  | { by: 'email'; value: string };

export type ScimGroupLookup =
  | { by: 'all' }
  | { by: 'id'; value: string }
  | { by: 'displayName'; value: string }
  | { by: 'externalId'; value: string };

/** The longest list one SCIM query reads; pagination (startIndex/count) slices within it. */
export const SCIM_LIST_LIMIT = 10_000;

/**
 * SCIM provisioning records (scim/ service, migration 0006).
 * Contract:
 * - a token is found only by its hash and only while not revoked; revoking is permanent;
 * - an organization's users, by userName (the email, case-insensitive), externalId (exact), id, or
 *   any email the SCIM client sent (`emails.value`, case-insensitive) — never another organization's;
 * - `externalId` is unique within an organization, for users and for groups (DuplicateError);
 * - every write bumps the record's `version` (the ETag);
 * - group membership is replaced as a set; members are users of the group's organization.
 * Runs on a transaction's connection as well (`scimRepository({ db: trx })`).
 */
export function scimRepository(database: Pick<Database, 'db'>) {
  const { db } = database;

  const userColumns = [
    'u.id',
    'u.organization_id',
    'u.email',
    'u.name',
    'u.status',
    'u.created_at',
    'u.updated_at',
    's.external_id',
    's.attributes',
    's.version',
    's.created_at as scim_created_at',
    's.updated_at as scim_updated_at',
    's.deleted_at',
  ] as const;

  const usersOf = (organizationId: string) =>
    db
      .selectFrom('users as u')
      .leftJoin('scim_users as s', 's.user_id', 'u.id')
      .select(userColumns)
      .where('u.organization_id', '=', organizationId);

  type Row = Awaited<ReturnType<ReturnType<typeof usersOf>['executeTakeFirstOrThrow']>>;
  const toUser = (r: Row): ScimUserRow => ({
    id: r.id,
    organizationId: r.organization_id,
    email: r.email,
    name: r.name,
    status: r.status,
    createdAt: r.scim_created_at ?? r.created_at,
    updatedAt: Math.max(r.updated_at, r.scim_updated_at ?? 0),
    externalId: r.external_id,
    attributes: parseJson<Record<string, unknown>>(r.attributes ?? undefined, {}),
    version: r.version ?? 0,
    deletedAt: r.deleted_at,
  });

  const toGroup = (r: {
    id: string;
    organization_id: string;
    display_name: string;
    external_id: string | null;
    version: number;
    created_at: number;
    updated_at: number;
  }): ScimGroupRow => ({
    id: r.id,
    organizationId: r.organization_id,
    displayName: r.display_name,
    externalId: r.external_id,
    version: r.version,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  });

  return {
    tokens: {
      async create(input: {
        organizationId: string;
        tokenHash: string;
        label?: string | null | undefined;
        createdBy?: string | null | undefined;
      }): Promise<ScimToken> {
        const now = Date.now();
        const row = {
          id: newId(now),
          organization_id: input.organizationId,
          token_hash: input.tokenHash,
          label: input.label ?? null,
          created_by: input.createdBy ?? null,
          created_at: now,
          last_used_at: null,
          revoked_at: null,
        };
        await db.insertInto('scim_tokens').values(row).execute();
        return {
          id: row.id,
          organizationId: row.organization_id,
          label: row.label,
          createdBy: row.created_by,
          createdAt: now,
          lastUsedAt: null,
          revokedAt: null,
        };
      },
      async list(organizationId?: string): Promise<ScimToken[]> {
        let q = db.selectFrom('scim_tokens').selectAll().orderBy('created_at');
        if (organizationId !== undefined) q = q.where('organization_id', '=', organizationId);
        return (await q.execute()).map((r) => ({
          id: r.id,
          organizationId: r.organization_id,
          label: r.label,
          createdBy: r.created_by,
          createdAt: r.created_at,
          lastUsedAt: r.last_used_at,
          revokedAt: r.revoked_at,
        }));
      },
      async find(id: string): Promise<ScimToken | undefined> {
        return (await this.list()).find((t) => t.id === id);
      },
      /** Revokes a live token; false when unknown or already revoked. */
      async revoke(id: string): Promise<boolean> {
        const result = await db
          .updateTable('scim_tokens')
          .set({ revoked_at: Date.now() })
          .where('id', '=', id)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        return Number(result.numUpdatedRows) > 0;
      },
      /** The token a bearer value's hash names, revoked or not (the caller tells the two apart). */
      async findByHash(tokenHash: string) {
        const r = await db
          .selectFrom('scim_tokens')
          .select(['id', 'organization_id', 'revoked_at', 'last_used_at'])
          .where('token_hash', '=', tokenHash)
          .executeTakeFirst();
        return r
          ? {
              id: r.id,
              organizationId: r.organization_id,
              revokedAt: r.revoked_at,
              lastUsedAt: r.last_used_at,
            }
          : undefined;
      },
      async touch(id: string, at: number): Promise<void> {
        await db.updateTable('scim_tokens').set({ last_used_at: at }).where('id', '=', id).execute();
      },
    },

    users: {
      async find(organizationId: string, lookup: ScimUserLookup): Promise<ScimUserRow[]> {
        let q = usersOf(organizationId);
        switch (lookup.by) {
          case 'id':
            q = q.where('u.id', '=', lookup.value);
            break;
          case 'userName':
            q = q.where('u.email_normalized', '=', emailLookupKey(lookup.value));
            break;
          case 'externalId':
            q = q.where('s.external_id', '=', lookup.value);
            break;
          case 'email': {
            // The sign-in email, or any address the SCIM client listed under `emails`: the
            // attributes are JSON text, so the candidates are narrowed in SQL and checked here.
            const key = emailLookupKey(lookup.value);
            const rows = await q
              .where((eb) =>
                eb.or([
                  eb('u.email_normalized', '=', key),
                  // Only narrows: `_` or `%` in an address widen the match, the exact check follows.
                  eb(sql<string>`lower(${sql.ref('s.attributes')})`, 'like', `%${key}%`),
                ]),
              )
              .orderBy('u.email_normalized')
              .limit(SCIM_LIST_LIMIT)
              .execute();
            return rows
              .map(toUser)
              .filter((u) => u.deletedAt === null)
              .filter(
                (u) =>
                  (u.email !== null && emailLookupKey(u.email) === key) ||
                  emailsOf(u.attributes).some((e) => emailLookupKey(e) === key),
              );
          }
          case 'all':
            break;
        }
        const rows = await q.orderBy('u.email_normalized').orderBy('u.id').limit(SCIM_LIST_LIMIT).execute();
        return rows.map(toUser).filter((u) => u.deletedAt === null);
      },

      /** Including users a SCIM DELETE hid (for re-provisioning by userName). */
      async findAnyByEmail(email: string): Promise<ScimUserRow | undefined> {
        const row = await db
          .selectFrom('users as u')
          .leftJoin('scim_users as s', 's.user_id', 'u.id')
          .select(userColumns)
          .where('u.email_normalized', '=', emailLookupKey(email))
          .executeTakeFirst();
        return row ? toUser(row) : undefined;
      },

      /** Writes the SCIM record of a user (insert or update), bumping its version; clears a deletion. */
      async save(input: {
        userId: string;
        organizationId: string;
        externalId: string | null;
        attributes: Record<string, unknown>;
      }): Promise<number> {
        const now = Date.now();
        const existing = await db
          .selectFrom('scim_users')
          .select('version')
          .where('user_id', '=', input.userId)
          .executeTakeFirst();
        const attributes = JSON.stringify(input.attributes);
        const duplicate = `externalId ${input.externalId} is already used in organization ${input.organizationId}`;
        if (!existing) {
          await insertUnique(
            () =>
              db
                .insertInto('scim_users')
                .values({
                  user_id: input.userId,
                  organization_id: input.organizationId,
                  external_id: input.externalId,
                  attributes,
                  version: 1,
                  created_at: now,
                  updated_at: now,
                  deleted_at: null,
                })
                .execute(),
            duplicate,
          );
          return 1;
        }
        await insertUnique(
          () =>
            db
              .updateTable('scim_users')
              .set({
                external_id: input.externalId,
                attributes,
                version: existing.version + 1,
                updated_at: now,
                deleted_at: null,
              })
              .where('user_id', '=', input.userId)
              .execute(),
          duplicate,
        );
        return existing.version + 1;
      },

      /** The user's sign-in email and display name, as SCIM's userName and displayName set them. */
      async setIdentity(userId: string, email: string, name: string | null): Promise<void> {
        await insertUnique(
          () =>
            db
              .updateTable('users')
              .set({ email, email_normalized: emailLookupKey(email), name, updated_at: Date.now() })
              .where('id', '=', userId)
              .execute(),
          `a user with email ${emailLookupKey(email)} already exists`,
        );
      },

      /** A SCIM DELETE: hidden from the SCIM view and out of every group (the user row stays). */
      async markDeleted(userId: string): Promise<void> {
        const now = Date.now();
        await db
          .updateTable('scim_users')
          .set((eb) => ({ deleted_at: now, updated_at: now, version: eb('version', '+', 1) }))
          .where('user_id', '=', userId)
          .execute();
        await db.deleteFrom('scim_group_members').where('user_id', '=', userId).execute();
      },

      async groupsOf(userId: string): Promise<{ id: string; displayName: string }[]> {
        const rows = await db
          .selectFrom('scim_group_members as m')
          .innerJoin('scim_groups as g', 'g.id', 'm.group_id')
          .select(['g.id', 'g.display_name'])
          .where('m.user_id', '=', userId)
          .orderBy('g.display_name')
          .execute();
        return rows.map((r) => ({ id: r.id, displayName: r.display_name }));
      },
    },

    groups: {
      async find(organizationId: string, lookup: ScimGroupLookup): Promise<ScimGroupRow[]> {
        let q = db.selectFrom('scim_groups').selectAll().where('organization_id', '=', organizationId);
        if (lookup.by === 'id') q = q.where('id', '=', lookup.value);
        if (lookup.by === 'displayName') q = q.where('display_name', '=', lookup.value);
        if (lookup.by === 'externalId') q = q.where('external_id', '=', lookup.value);
        return (await q.orderBy('display_name').orderBy('id').limit(SCIM_LIST_LIMIT).execute()).map(toGroup);
      },

      async create(input: {
        organizationId: string;
        displayName: string;
        externalId: string | null;
      }): Promise<ScimGroupRow> {
        const now = Date.now();
        const row = {
          id: newId(now),
          organization_id: input.organizationId,
          display_name: input.displayName,
          external_id: input.externalId,
          version: 1,
          created_at: now,
          updated_at: now,
        };
        await insertUnique(
          () => db.insertInto('scim_groups').values(row).execute(),
          `externalId ${input.externalId} is already used in organization ${input.organizationId}`,
        );
        return toGroup(row);
      },

      async update(id: string, input: { displayName: string; externalId: string | null }): Promise<void> {
        await insertUnique(
          () =>
            db
              .updateTable('scim_groups')
              .set((eb) => ({
                display_name: input.displayName,
                external_id: input.externalId,
                updated_at: Date.now(),
                version: eb('version', '+', 1),
              }))
              .where('id', '=', id)
              .execute(),
          `externalId ${input.externalId} is already used`,
        );
      },

      async remove(id: string): Promise<boolean> {
        await db.deleteFrom('scim_group_members').where('group_id', '=', id).execute();
        const result = await db.deleteFrom('scim_groups').where('id', '=', id).executeTakeFirst();
        return Number(result.numDeletedRows) > 0;
      },

      async members(groupId: string): Promise<ScimMember[]> {
        const rows = await db
          .selectFrom('scim_group_members as m')
          .innerJoin('users as u', 'u.id', 'm.user_id')
          .select(['u.id', 'u.email'])
          .where('m.group_id', '=', groupId)
          .orderBy('u.email_normalized')
          .execute();
        return rows.map((r) => ({ userId: r.id, email: r.email }));
      },

      /** Replaces the member set with `userIds` (users of the group's organization: checked by the caller). */
      async setMembers(
        groupId: string,
        userIds: readonly string[],
      ): Promise<{ added: number; removed: number }> {
        const current = new Set((await this.members(groupId)).map((m) => m.userId));
        const wanted = new Set(userIds);
        const toAdd = [...wanted].filter((id) => !current.has(id));
        const toRemove = [...current].filter((id) => !wanted.has(id));
        const now = Date.now();
        if (toAdd.length > 0) {
          await db
            .insertInto('scim_group_members')
            .values(toAdd.map((userId) => ({ group_id: groupId, user_id: userId, created_at: now })))
            .execute();
        }
        if (toRemove.length > 0) {
          await db
            .deleteFrom('scim_group_members')
            .where('group_id', '=', groupId)
            .where('user_id', 'in', toRemove)
            .execute();
        }
        return { added: toAdd.length, removed: toRemove.length };
      },
    },
  };
}

export type ScimRepository = ReturnType<typeof scimRepository>;

/** The addresses under a SCIM user's `emails` attribute. */
export function emailsOf(attributes: Record<string, unknown>): string[] {
  const emails = attributes.emails;
  if (!Array.isArray(emails)) return [];
  return emails
    .map((e) => (e && typeof e === 'object' ? (e as { value?: unknown }).value : undefined))
    .filter((v): v is string => typeof v === 'string');
}
