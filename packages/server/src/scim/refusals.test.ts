import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminContext } from '../admin/context.js';
import { createScimToken, listScimTokens, revokeScimToken } from '../admin/scim-tokens.js';
import { testDatabaseKinds } from '../test-support/databases.js';
import { startTestServer, type TestServer } from '../test-support/server.js';
import {
  adminFor,
  ERROR_SCHEMA,
  PATCH_OP,
  SCIM_YAML,
  ScimClient,
  type ScimResponse,
  scimClientFor,
} from './test-support/scim-client.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';

/** Every refusal: a SCIM error (RFC 7644 §3.12), logged, audited, and nothing written. */
describe.each(testDatabaseKinds())('SCIM refusals on %s', (kind) => {
  let server: TestServer;
  let admin: AdminContext;
  let scim: ScimClient;
  let userId: string;

  beforeAll(async () => {
    server = await startTestServer({ kind, yaml: SCIM_YAML });
    admin = await adminFor(server);
    scim = await scimClientFor(admin, 'contoso');
    const created = await scim.post('/Users', {
      schemas: [USER],
      userName: 'kept@contoso.test',
      active: true,
    });
    expect(created.status, created.text).toBe(201);
    userId = created.json.id as string;
  });

  afterAll(async () => {
    await admin?.close();
    await server?.dispose();
  });

  /** Row counts of everything a SCIM request can write. */
  async function snapshot() {
    const { db } = server.parts.database;
    const count = async (table: 'users' | 'scim_users' | 'scim_groups' | 'scim_group_members') =>
      Number(
        (
          await db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const kept = await scim.get(`/Users/${userId}`);
    return {
      users: await count('users'),
      scimUsers: await count('scim_users'),
      groups: await count('scim_groups'),
      members: await count('scim_group_members'),
      kept: { ...kept.json, meta: undefined },
      keptVersion: kept.headers.get('etag'),
      oidc: await server.parts.sessions.list(userId),
    };
  }

  async function expectRefusal(
    send: () => Promise<ScimResponse>,
    status: number,
    scimType: string | undefined,
    detail?: RegExp,
  ): Promise<ScimResponse> {
    const before = await snapshot();
    const refusalsBefore = (
      await server.parts.repos.audit.query({ action: 'scim_request_refused', limit: 1000 })
    ).length;
    const logsBefore = server.logLines.length;
    const response = await send();
    expect(response.status, response.text).toBe(status);
    expect(response.headers.get('content-type')).toMatch(/^application\/scim\+json/);
    expect(response.json.schemas).toEqual([ERROR_SCHEMA]);
    expect(response.json.status).toBe(String(status));
    expect(response.json.scimType).toBe(scimType);
    if (detail) expect(response.json.detail).toMatch(detail);
    // Nothing written …
    expect(await snapshot()).toEqual(before);
    // … and the refusal logged and audited.
    const refusals = await server.parts.repos.audit.query({ action: 'scim_request_refused', limit: 1000 });
    expect(refusals.length).toBe(refusalsBefore + 1);
    expect(refusals[0]?.details).toMatchObject({ status });
    expect(server.logLines.slice(logsBefore).some((l) => l.includes('scim request refused'))).toBe(true);
    return response;
  }

  it('malformed JSON → 400 invalidSyntax', async () => {
    await expectRefusal(
      () => scim.post('/Users', '{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": '),
      400,
      'invalidSyntax',
      /JSON/,
    );
    await expectRefusal(() => scim.patch(`/Users/${userId}`, '{not json'), 400, 'invalidSyntax');
    await expectRefusal(() => scim.request('POST', '/Users'), 400, 'invalidSyntax');
    // Over the 1 MB limit: refused before it is read, the same way.
    const big = JSON.stringify({
      schemas: [USER],
      userName: 'big@contoso.test',
      nickName: 'x'.repeat(1_100_000),
    });
    await expectRefusal(() => scim.post('/Users', big), 413, undefined, /larger than/);
  });

  it('unknown attributes → 400 (top level, a sub-attribute, a PATCH path, a path-less PATCH value)', async () => {
    await expectRefusal(
      () => scim.post('/Users', { schemas: [USER], userName: 'new@contoso.test', favouriteColour: 'blue' }),
      400,
      'invalidSyntax',
      /favouriteColour/,
    );
    await expectRefusal(
      () => scim.post('/Users', { schemas: [USER], userName: 'new@contoso.test', name: { shoeSize: 44 } }),
      400,
      'invalidSyntax',
      /name\.shoeSize/,
    );
    await expectRefusal(
      () =>
        scim.patch(`/Users/${userId}`, {
          schemas: [PATCH_OP],
          Operations: [{ op: 'replace', path: 'favouriteColour', value: 'red' }],
        }),
      400,
      'invalidPath',
    );
    await expectRefusal(
      () =>
        scim.patch(`/Users/${userId}`, {
          schemas: [PATCH_OP],
          Operations: [{ op: 'replace', value: { active: false, favouriteColour: 'red' } }],
        }),
      400,
      'invalidPath',
    );
  });

  it("a userName outside the organization's verified domains (or not an email) → 400 invalidValue", async () => {
    await expectRefusal(
      () => scim.post('/Users', { schemas: [USER], userName: 'mallory@elsewhere.test' }),
      400,
      'invalidValue',
      /verified domain/,
    );
    // Another organization's domain is not this one's either.
    await expectRefusal(
      () => scim.post('/Users', { schemas: [USER], userName: 'bob2@beta.test' }),
      400,
      'invalidValue',
    );
    await expectRefusal(
      () => scim.post('/Users', { schemas: [USER], userName: 'Test_User_1234' }),
      400,
      'invalidValue',
    );
    // Renaming into a foreign domain is refused the same way, and the user is left as it was.
    await expectRefusal(
      () =>
        scim.patch(`/Users/${userId}`, {
          schemas: [PATCH_OP],
          Operations: [{ op: 'replace', path: 'userName', value: 'kept@beta.test' }],
        }),
      400,
      'invalidValue',
    );
  });

  it('a filter the server does not support → 400 invalidFilter', async () => {
    for (const filter of [
      'userName sw "kept"',
      'title eq "boss"',
      'userName eq',
      'userName eq "a" or userName eq "b"',
      'emails[type eq "work"].value eq "kept@contoso.test"',
    ]) {
      await expectRefusal(
        () => scim.get(`/Users?filter=${encodeURIComponent(filter)}`),
        400,
        'invalidFilter',
      );
    }
    await expectRefusal(
      () => scim.get(`/Groups?filter=${encodeURIComponent('members eq "x"')}`),
      400,
      'invalidFilter',
    );
  });

  it("no token, a wrong token, a revoked token, another organization's token → 401", async () => {
    const base = scim.base;
    const wwwAuthenticate = async (client: ScimClient) => {
      const response = await expectRefusal(() => client.get('/Users'), 401, undefined);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
    };
    await wwwAuthenticate(new ScimClient(base, undefined));
    await wwwAuthenticate(new ScimClient(base, 'lk_scim_not-a-token-we-issued'));
    const revoked = await createScimToken(admin, { organizationId: 'contoso', label: 'to revoke' });
    expect((await new ScimClient(base, revoked.token).get('/Users')).status).toBe(200);
    await revokeScimToken(admin, { id: revoked.summary.id });
    await wwwAuthenticate(new ScimClient(base, revoked.token));
    // A valid token of okta-co, at contoso's endpoint.
    const other = await createScimToken(admin, { organizationId: 'okta-co' });
    await wwwAuthenticate(new ScimClient(base, other.token));
    // Nor does it write there.
    const write = await expectRefusal(
      () => new ScimClient(base, other.token).post('/Users', { schemas: [USER], userName: 'x@contoso.test' }),
      401,
      undefined,
    );
    expect(write.json.detail).not.toMatch(/okta/);
    const reasons = (await server.parts.repos.audit.query({ action: 'scim_request_refused', limit: 10 })).map(
      (e) => e.details.reason,
    );
    expect(reasons).toEqual(expect.arrayContaining(['other_organization', 'revoked_token', 'unknown_token']));
  });

  it('a userName or externalId that exists → 409 uniqueness; a stale If-Match → 412', async () => {
    await expectRefusal(
      () => scim.post('/Users', { schemas: [USER], userName: 'KEPT@contoso.test' }),
      409,
      'uniqueness',
    );
    // bob@beta.test exists in another organization; contoso cannot claim the address either way.
    const withExternal = await scim.post('/Users', {
      schemas: [USER],
      userName: 'ext@contoso.test',
      externalId: 'E-1',
    });
    expect(withExternal.status).toBe(201);
    await expectRefusal(
      () => scim.post('/Users', { schemas: [USER], userName: 'ext2@contoso.test', externalId: 'E-1' }),
      409,
      'uniqueness',
    );
    await expectRefusal(
      () =>
        scim.patch(
          `/Users/${userId}`,
          { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] },
          { 'if-match': 'W/"0-0"' },
        ),
      412,
      undefined,
    );
    // The current version is accepted.
    const etag = (await scim.get(`/Users/${userId}`)).headers.get('etag') as string;
    const ok = await scim.patch(
      `/Users/${userId}`,
      { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'displayName', value: 'Kept' }] },
      { 'if-match': etag },
    );
    expect(ok.status, ok.text).toBe(200);
    expect(ok.headers.get('etag')).not.toBe(etag);
  });

  it('bad PATCH messages, group members of another organization, unknown ids and endpoints', async () => {
    await expectRefusal(() => scim.patch(`/Users/${userId}`, { Operations: [] }), 400, 'invalidSyntax');
    await expectRefusal(
      () =>
        scim.patch(`/Users/${userId}`, { schemas: [PATCH_OP], Operations: [{ op: 'move', path: 'active' }] }),
      400,
      'invalidSyntax',
    );
    await expectRefusal(
      () =>
        scim.patch(`/Users/${userId}`, {
          schemas: [PATCH_OP],
          Operations: [{ op: 'replace', path: 'active', value: 'maybe' }],
        }),
      400,
      'invalidValue',
    );
    const bob = await server.parts.repos.users.findByEmail('bob@beta.test');
    await expectRefusal(
      () => scim.post('/Groups', { schemas: [GROUP], displayName: 'Mixed', members: [{ value: bob?.id }] }),
      400,
      'invalidValue',
    );
    await expectRefusal(() => scim.get(`/Users/${bob?.id}`), 404, undefined);
    await expectRefusal(() => scim.delete(`/Users/${bob?.id}`), 404, undefined);
    await expectRefusal(() => scim.get('/Bulk'), 404, undefined);
  });

  it('scim-tokens: shown once, stored as a hash, listed, revoked once, audited', async () => {
    const created = await createScimToken(admin, { organizationId: 'contoso', label: 'entra' });
    expect(created.token).toMatch(/^lk_scim_[A-Za-z0-9_-]{43}$/);
    expect(created.url).toBe(`${server.issuer}/scim/v2/contoso`);
    const rows = await server.parts.database.db.selectFrom('scim_tokens').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(created.token);
    const listed = await listScimTokens(admin, { organizationId: 'contoso' });
    expect(listed.map((t) => t.id)).toContain(created.summary.id);
    expect(JSON.stringify(listed)).not.toContain(created.token);
    await revokeScimToken(admin, { id: created.summary.id, organizationId: 'contoso' });
    await expect(revokeScimToken(admin, { id: created.summary.id })).rejects.toMatchObject({
      code: 'conflict',
    });
    await expect(createScimToken(admin, { organizationId: 'nope' })).rejects.toMatchObject({
      code: 'not_found',
    });
    const actions = (await server.parts.repos.audit.query({ limit: 200 })).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['scim_token_created', 'scim_token_revoked']));
  });
});
