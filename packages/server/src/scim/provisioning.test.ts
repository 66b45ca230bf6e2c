import { decodeJwt } from 'jose';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminContext } from '../admin/context.js';
import { setPassword } from '../admin/users.js';
import { launchBrowser } from '../test-support/browser.js';
import { testDatabaseKinds } from '../test-support/databases.js';
import { BrowserTokenSource, discover, refreshRaw } from '../test-support/oidc-client.js';
import { startTestServer, type TestServer } from '../test-support/server.js';
import { adminFor, PATCH_OP, SCIM_YAML, type ScimClient, scimClientFor } from './test-support/scim-client.js';

const CLIENT = 'acme-desktop';
const SCIM_JSON = /^application\/scim\+json/;
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';

/**
 * The request sequences Microsoft Entra ID's and Okta's provisioning services send, as their
 * published developer documentation shows them (Microsoft: "Tutorial: Develop and plan provisioning
 * for a SCIM endpoint", request/response examples; Okta: "SCIM 2.0 protocol reference" and its
 * Runscope test sequence), over real HTTP against a started server, on both databases.
 */
describe.each(testDatabaseKinds())('SCIM provisioning on %s', (kind) => {
  let server: TestServer;
  let browser: Browser;
  let admin: AdminContext;
  let entra: ScimClient;
  let okta: ScimClient;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer({ kind, yaml: SCIM_YAML }), launchBrowser()]);
    admin = await adminFor(server);
    entra = await scimClientFor(admin, 'contoso');
    okta = await scimClientFor(admin, 'okta-co');
  });

  afterAll(async () => {
    await admin?.close();
    await browser?.close();
    await server?.dispose();
  });

  const refresh = (token: string) => refreshRaw(server.issuer, CLIENT, token);

  describe('Microsoft Entra ID', () => {
    const userName = 'ellen.reckert@contoso.test';
    const externalId = '0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef';
    let id: string;

    it('the connection test: a filter on a userName nobody has answers an empty list', async () => {
      const response = await entra.get(
        `/Users?filter=${encodeURIComponent('userName eq "a3d4f1e0-0000-4000-8000-000000000000@contoso.test"')}`,
      );
      expect(response.status, response.text).toBe(200);
      expect(response.headers.get('content-type')).toMatch(SCIM_JSON);
      expect(response.json).toMatchObject({
        schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
        totalResults: 0,
        Resources: [],
      });
    });

    it('create user (POST /Users) → 201 with id, Location and ETag', async () => {
      const response = await entra.post('/Users', {
        schemas: [USER, ENTERPRISE],
        externalId,
        userName,
        active: true,
        emails: [{ primary: true, type: 'work', value: userName }],
        meta: { resourceType: 'User' },
        name: { formatted: 'Ellen Reckert', familyName: 'Reckert', givenName: 'Ellen' },
        roles: [],
        [ENTERPRISE]: { department: 'Human Resources US', employeeNumber: '100009' },
      });
      expect(response.status, response.text).toBe(201);
      expect(response.headers.get('content-type')).toMatch(SCIM_JSON);
      id = response.json.id as string;
      expect(response.headers.get('location')).toBe(`${entra.base}/Users/${id}`);
      expect(response.headers.get('etag')).toMatch(/^W\/"/);
      expect(response.json).toMatchObject({
        userName,
        externalId,
        active: true,
        name: { familyName: 'Reckert', givenName: 'Ellen' },
        emails: [{ value: userName, type: 'work', primary: true }],
        [ENTERPRISE]: { department: 'Human Resources US' },
        meta: { resourceType: 'User', location: `${entra.base}/Users/${id}` },
      });
      // A Latchkey account of the organization, with the email sign-in will link by.
      const user = await server.parts.repos.users.findByEmail(userName);
      expect(user).toMatchObject({ id, organizationId: 'contoso', status: 'active', name: 'Ellen Reckert' });
    });

    it('get user by query: userName eq, externalId eq, emails.value eq; and by id', async () => {
      for (const filter of [
        `userName eq "${userName.toUpperCase()}"`,
        `externalId eq "${externalId}"`,
        `emails.value eq "${userName}"`,
      ]) {
        const response = await entra.get(`/Users?filter=${encodeURIComponent(filter)}`);
        expect(response.status, response.text).toBe(200);
        expect(response.json.totalResults, filter).toBe(1);
        expect(response.json.Resources?.[0]?.id).toBe(id);
      }
      const one = await entra.get(`/Users/${id}`);
      expect(one.status).toBe(200);
      expect(one.json.userName).toBe(userName);
    });

    it('update user [multi-valued properties] and [single-valued properties] (PATCH)', async () => {
      const response = await entra.patch(`/Users/${id}`, {
        schemas: [PATCH_OP],
        Operations: [
          { op: 'Replace', path: 'emails[type eq "work"].value', value: 'ellen.r@contoso.test' },
          { op: 'Replace', path: 'name.familyName', value: 'Reckert-Smith' },
        ],
      });
      expect(response.status, response.text).toBe(200);
      expect(response.json).toMatchObject({
        emails: [{ value: 'ellen.r@contoso.test', type: 'work' }],
        name: { familyName: 'Reckert-Smith' },
      });
      const byEmail = await entra.get(
        `/Users?filter=${encodeURIComponent('emails.value eq "ellen.r@contoso.test"')}`,
      );
      expect(byEmail.json.totalResults).toBe(1);
      const path = await entra.patch(`/Users/${id}`, {
        schemas: [PATCH_OP],
        Operations: [{ op: 'Replace', path: 'displayName', value: 'Ellen R.' }],
      });
      expect(path.status, path.text).toBe(200);
      expect((await server.parts.repos.users.findById(id))?.name).toBe('Ellen R.');
    });

    it('PATCH active "False" (the string Entra ID sends) offboards: the refresh token is refused, and stays dead when re-enabled', async () => {
      // The person signs in (an administrator set a password for this local organization).
      await setPassword(admin, userName, 'ellen has a long password');
      const source = new BrowserTokenSource(
        await browser.newContext(),
        await discover(server.issuer, CLIENT),
        {
          email: userName,
          password: 'ellen has a long password',
        },
      );
      const token = (await source.tokens()).refresh_token as string;
      const ok = await refresh(token);
      expect(ok.status, ok.text).toBe(200);
      const current = ok.json?.refresh_token as string;

      const disabled = await entra.patch(`/Users/${id}`, {
        schemas: [PATCH_OP],
        Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
      });
      expect(disabled.status, disabled.text).toBe(200);
      expect(disabled.json.active).toBe(false);
      const refused = await refresh(current);
      expect(refused.status, refused.text).toBe(400);
      expect(refused.json?.error).toBe('invalid_grant');
      expect((await server.parts.repos.users.findById(id))?.status).toBe('disabled');
      expect(await server.parts.sessions.list(id)).toEqual([]);
      const [event] = await server.parts.repos.audit.query({ userId: id, action: 'user_disabled' });
      expect(event).toMatchObject({
        actor: expect.stringMatching(/^scim:/),
        details: { reason: 'scim_active_false' },
      });

      const enabled = await entra.patch(`/Users/${id}`, {
        schemas: [PATCH_OP],
        Operations: [{ op: 'Replace', path: 'active', value: 'True' }],
      });
      expect(enabled.status, enabled.text).toBe(200);
      expect(enabled.json.active).toBe(true);
      expect((await refresh(current)).json?.error).toBe('invalid_grant');
      await source.context.close();
    });

    let groupId: string;

    it("create group (POST /Groups, with Entra ID's extra schema URN) and get it by displayName without members", async () => {
      const created = await entra.post('/Groups', {
        schemas: [GROUP, 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group'],
        externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159',
        displayName: 'Engineering',
        meta: { resourceType: 'Group' },
      });
      expect(created.status, created.text).toBe(201);
      groupId = created.json.id as string;
      const found = await entra.get(
        `/Groups?excludedAttributes=members&filter=${encodeURIComponent('displayName eq "Engineering"')}`,
      );
      expect(found.status).toBe(200);
      expect(found.json.totalResults).toBe(1);
      expect(found.json.Resources?.[0]).toMatchObject({ id: groupId, displayName: 'Engineering' });
      expect(found.json.Resources?.[0]?.members).toBeUndefined();
      const one = await entra.get(`/Groups/${groupId}?excludedAttributes=members`);
      expect(one.status).toBe(200);
      expect(one.json.members).toBeUndefined();
    });

    it('update group [add members] / [remove members] ($ref null, as Entra ID sends) → 204; the groups claim follows', async () => {
      const added = await entra.patch(`/Groups/${groupId}`, {
        schemas: [PATCH_OP],
        Operations: [{ op: 'Add', path: 'members', value: [{ $ref: null, value: id }] }],
      });
      expect(added.status, added.text).toBe(204);
      const group = await entra.get(`/Groups/${groupId}`);
      expect(group.json.members).toEqual([expect.objectContaining({ value: id })]);
      const user = await entra.get(`/Users/${id}`);
      expect(user.json.groups).toEqual([expect.objectContaining({ value: groupId, display: 'Engineering' })]);

      // The groups claim (scope `groups`) carries the SCIM group at the next token.
      const source = new BrowserTokenSource(
        await browser.newContext(),
        await discover(server.issuer, CLIENT),
        {
          email: userName,
          password: 'ellen has a long password',
        },
      );
      const tokens = await source.tokens({ scope: 'openid email profile offline_access groups' });
      expect(decodeJwt(tokens.id_token as string).groups).toEqual(['Engineering']);

      const removed = await entra.patch(`/Groups/${groupId}`, {
        schemas: [PATCH_OP],
        Operations: [{ op: 'Remove', path: 'members', value: [{ $ref: null, value: id }] }],
      });
      expect(removed.status, removed.text).toBe(204);
      expect((await entra.get(`/Groups/${groupId}`)).json.members ?? []).toEqual([]);
      const next = await refresh(tokens.refresh_token as string);
      expect(next.status, next.text).toBe(200);
      expect(decodeJwt(next.json?.id_token as string).groups).toEqual([]);
      await source.context.close();
    });

    it('update group [non-member attributes] and delete group', async () => {
      const renamed = await entra.patch(`/Groups/${groupId}`, {
        schemas: [PATCH_OP],
        Operations: [{ op: 'Replace', path: 'displayName', value: 'Engineering (all)' }],
      });
      expect(renamed.status, renamed.text).toBe(204);
      expect((await entra.get(`/Groups/${groupId}`)).json.displayName).toBe('Engineering (all)');
      expect((await entra.delete(`/Groups/${groupId}`)).status).toBe(204);
      const gone = await entra.get(`/Groups/${groupId}`);
      expect(gone.status).toBe(404);
      expect(gone.json.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
    });

    it('delete user → 204: disabled and out of the SCIM view, the account and its audit kept; a new POST provisions it again', async () => {
      const deleted = await entra.delete(`/Users/${id}`);
      expect(deleted.status, deleted.text).toBe(204);
      expect((await entra.get(`/Users/${id}`)).status).toBe(404);
      expect(
        (await entra.get(`/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`)).json
          .totalResults,
      ).toBe(0);
      expect((await server.parts.repos.users.findById(id))?.status).toBe('disabled');
      const history = (await server.parts.repos.audit.query({ userId: id, limit: 100 })).map((e) => e.action);
      expect(history).toEqual(
        expect.arrayContaining(['scim_user_deleted', 'user_disabled', 'scim_user_created']),
      );

      const again = await entra.post('/Users', {
        schemas: [USER],
        externalId,
        userName,
        active: true,
        emails: [{ primary: true, type: 'work', value: userName }],
      });
      expect(again.status, again.text).toBe(201);
      expect(again.json.id).toBe(id);
      expect((await server.parts.repos.users.findById(id))?.status).toBe('active');
    });

    it('discovery: ServiceProviderConfig, ResourceTypes, Schemas', async () => {
      const config = await entra.get('/ServiceProviderConfig');
      expect(config.status).toBe(200);
      expect(config.json).toMatchObject({
        patch: { supported: true },
        filter: { supported: true },
        etag: { supported: true },
      });
      const types = await entra.get('/ResourceTypes');
      expect(types.json.Resources?.map((r) => r.id)).toEqual(['User', 'Group']);
      expect((await entra.get('/ResourceTypes/User')).json.endpoint).toBe('/Users');
      const schemas = await entra.get('/Schemas');
      expect(schemas.json.Resources?.map((r) => r.id)).toEqual(
        expect.arrayContaining([USER, GROUP, ENTERPRISE]),
      );
      expect((await entra.get(`/Schemas/${USER}`)).json.id).toBe(USER);
    });
  });

  describe('Okta', () => {
    const userName = 'test.user@okta-co.test';
    let id: string;

    it('the Runscope sequence: list with count, filter, create, get, PUT, PATCH deactivate, unknown id', async () => {
      const first = await okta.get('/Users?count=1&startIndex=1');
      expect(first.status, first.text).toBe(200);
      expect(first.json).toMatchObject({ startIndex: 1 });
      const none = await okta.get(
        `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}&startIndex=1&count=100`,
      );
      expect(none.json.totalResults).toBe(0);

      const created = await okta.post('/Users', {
        schemas: [USER],
        userName,
        name: { givenName: 'Test', familyName: 'User' },
        emails: [{ primary: true, value: userName, type: 'work' }],
        displayName: 'Test User',
        locale: 'en-US',
        externalId: '00ujl29u0le5T6Aj10h7',
        groups: [],
        password: '1mz050nq',
        active: true,
      });
      expect(created.status, created.text).toBe(201);
      id = created.json.id as string;
      expect(created.json.password).toBeUndefined();
      // The password Okta sends is not kept: people of a federated organization sign in upstream.
      expect(await server.parts.repos.credentials.passwordHash(id)).toBeUndefined();

      const got = await okta.get(`/Users/${id}`);
      expect(got.json).toMatchObject({ userName, displayName: 'Test User', locale: 'en-US', active: true });
      const found = await okta.get(
        `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}&startIndex=1&count=100`,
      );
      expect(found.json.totalResults).toBe(1);

      const put = await okta.put(`/Users/${id}`, {
        schemas: [USER],
        id,
        userName,
        name: { givenName: 'Another', familyName: 'User' },
        emails: [{ primary: true, value: userName, type: 'work' }],
        displayName: 'Another User',
        externalId: '00ujl29u0le5T6Aj10h7',
        active: true,
      });
      expect(put.status, put.text).toBe(200);
      expect(put.json).toMatchObject({ name: { givenName: 'Another' }, displayName: 'Another User' });
      expect(put.json.locale).toBeUndefined();

      const deactivated = await okta.patch(`/Users/${id}`, {
        schemas: [PATCH_OP],
        Operations: [{ op: 'replace', value: { active: false } }],
      });
      expect(deactivated.status, deactivated.text).toBe(200);
      expect(deactivated.json.active).toBe(false);
      expect((await server.parts.repos.users.findById(id))?.status).toBe('disabled');

      const unknown = await okta.get('/Users/010101010101010101010101');
      expect(unknown.status).toBe(404);
      expect(unknown.headers.get('content-type')).toMatch(SCIM_JSON);
      expect(unknown.json).toMatchObject({
        schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
        status: '404',
      });
    });

    it('groups: create with no members, rename by a path-less replace, add and remove members by filter, delete', async () => {
      const created = await okta.post('/Groups', {
        schemas: [GROUP],
        displayName: 'Test SCIMv2',
        members: [],
      });
      expect(created.status, created.text).toBe(201);
      const groupId = created.json.id as string;
      const renamed = await okta.patch(`/Groups/${groupId}`, {
        schemas: [PATCH_OP],
        Operations: [{ op: 'replace', value: { id: groupId, displayName: 'Test SCIMv2 updated' } }],
      });
      expect(renamed.status, renamed.text).toBe(204);
      const add = await okta.patch(`/Groups/${groupId}`, {
        schemas: [PATCH_OP],
        Operations: [{ op: 'add', path: 'members', value: [{ value: id, display: userName }] }],
      });
      expect(add.status, add.text).toBe(204);
      expect((await okta.get(`/Groups/${groupId}`)).json).toMatchObject({
        displayName: 'Test SCIMv2 updated',
        members: [{ value: id }],
      });
      const remove = await okta.patch(`/Groups/${groupId}`, {
        schemas: [PATCH_OP],
        Operations: [{ op: 'remove', path: `members[value eq "${id}"]` }],
      });
      expect(remove.status, remove.text).toBe(204);
      expect((await okta.get(`/Groups/${groupId}`)).json.members ?? []).toEqual([]);
      expect((await okta.delete(`/Groups/${groupId}`)).status).toBe(204);
    });

    it('pagination: startIndex and count slice the list, totalResults counts all', async () => {
      for (const n of [1, 2, 3]) {
        const r = await okta.post('/Users', {
          schemas: [USER],
          userName: `page${n}@okta-co.test`,
          active: true,
        });
        expect(r.status, r.text).toBe(201);
      }
      const all = await okta.get('/Users');
      const total = all.json.totalResults as number;
      expect(total).toBeGreaterThanOrEqual(4);
      const page = await okta.get('/Users?startIndex=2&count=2');
      expect(page.json).toMatchObject({ totalResults: total, startIndex: 2, itemsPerPage: 2 });
      expect(page.json.Resources?.map((r) => r.id)).toEqual(all.json.Resources?.slice(1, 3).map((r) => r.id));
      // Another organization's users never appear.
      expect(all.json.Resources?.every((r) => String(r.userName).endsWith('@okta-co.test'))).toBe(true);
    });
  });
});
