import { Validator } from '@seriousme/openapi-schema-validator';
import { importJWK, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpSignIn } from '../../../../bench/lib.mjs';
import { testDatabaseKinds } from '../test-support/databases.js';
import { refreshRaw } from '../test-support/oidc-client.js';
import { BASE_YAML, startTestServer, type TestServer } from '../test-support/server.js';
import { API_PREFIX, openApiPath } from './openapi.js';
import { ADMIN_ROUTES } from './routes.js';

const PASSWORD = 'a long enough password';
const LOOPBACK = 'http://127.0.0.1/callback';

/**
 * BASE_YAML (organization beta: bob, carol) plus organization gamma (dave), an instance
 * administrator alice@beta.test and an organization administrator olivia@gamma.test, both declared
 * in the file; Acme Desktop may ask for admin API tokens (scripts would use a client of their own).
 */
const YAML = `${BASE_YAML.replace(
  'users:\n',
  `  - id: gamma
    name: Gamma Inc
    domains: [gamma.test]
    connection: { type: local }
users:
  - { email: alice@beta.test, password: "${PASSWORD}", name: Alice Admin }
  - { email: olivia@gamma.test, password: "${PASSWORD}", name: Olivia Orgadmin }
  - { email: dave@gamma.test, password: "${PASSWORD}", name: Dave }
`,
)}admin:
  administrators:
    - { email: alice@beta.test }
    - { email: olivia@gamma.test, organization: gamma }
  clients: [acme-desktop]
`;

describe.each(testDatabaseKinds())('admin API on %s', (kind) => {
  let server: TestServer;
  let audience: string;
  const tokens = new Map<string, string>();

  /** A real sign-in of `email` in Acme Desktop, then a refresh naming the admin API (RFC 8707). */
  async function adminToken(email: string, password = PASSWORD): Promise<string> {
    const signedIn = await httpSignIn(server.issuer, {
      clientId: 'acme-desktop',
      redirectUri: LOOPBACK,
      email,
      password,
      scope: 'openid offline_access admin',
      resource: audience,
    });
    const refreshed = await refreshRaw(server.issuer, 'acme-desktop', signedIn.refresh_token, {
      resource: audience,
    });
    expect(refreshed.status, refreshed.text).toBe(200);
    return String(refreshed.json?.access_token);
  }

  const as = async (email: string) => {
    let token = tokens.get(email);
    if (!token) {
      token = await adminToken(email);
      tokens.set(email, token);
    }
    return token;
  };

  async function call(
    who: string | undefined,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: Record<string, unknown>; type: string }> {
    const headers: Record<string, string> = {};
    if (who) headers.authorization = `Bearer ${who.includes('@') ? await as(who) : who}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${server.issuer}${API_PREFIX}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return {
      status: response.status,
      json: text ? JSON.parse(text) : {},
      type: response.headers.get('content-type') ?? '',
    };
  }

  beforeAll(async () => {
    server = await startTestServer({ kind, yaml: YAML });
    audience = `${server.issuer}/admin/api`;
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it('serves an OpenAPI 3.1 document that a validator accepts and that lists exactly the routes the server has', async () => {
    const response = await fetch(`${server.issuer}${API_PREFIX}/openapi.json`);
    expect(response.status).toBe(200);
    const document = (await response.json()) as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
    };
    expect(document.openapi).toBe('3.1.0');
    const validator = new Validator();
    const result = await validator.validate(document as never);
    expect(result.errors ?? [], JSON.stringify(result.errors)).toEqual([]);
    expect(result.valid).toBe(true);

    const documented = Object.entries(document.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
    );
    const table = ADMIN_ROUTES.map((r) => `${r.method} ${openApiPath(r.path)}`);
    expect(documented.sort()).toEqual([...table].sort());
    // And the server answers each of them (not its not-found handler).
    for (const r of ADMIN_ROUTES) {
      expect(
        server.app.hasRoute({ method: r.method, url: `${API_PREFIX}${r.path}` }),
        `${r.method} ${r.path}`,
      ).toBe(true);
    }
  });

  it('refuses requests without a valid admin API token, as problem details', async () => {
    const none = await call(undefined, 'GET', '/users');
    expect(none.status).toBe(401);
    expect(none.type).toContain('application/problem+json');
    expect(none.json).toMatchObject({
      code: 'unauthorized',
      status: 401,
      type: 'urn:latchkey:error:unauthorized',
    });
    expect((await call('not-a-jwt', 'GET', '/users')).json.code).toBe('unauthorized');

    // A real token of Latchkey's, but for another API (the audience is checked).
    const signedIn = await httpSignIn(server.issuer, {
      clientId: 'acme-desktop',
      redirectUri: LOOPBACK,
      email: 'alice@beta.test',
      password: PASSWORD,
      scope: 'openid offline_access calls',
      resource: 'https://api.acme.test',
    });
    const apiToken = await refreshRaw(server.issuer, 'acme-desktop', signedIn.refresh_token, {
      resource: 'https://api.acme.test',
    });
    const wrongAudience = await call(String(apiToken.json?.access_token), 'GET', '/users');
    expect(wrongAudience.status).toBe(401);
    expect(String(wrongAudience.json.message)).toContain('audience');

    // Signed with the server's own key, right audience, but expired (or from another issuer).
    const jwk = (server.keys.jwks().keys as JWK[]).find((k) => k.crv === 'P-256');
    const key = await importJWK(jwk as JWK, 'ES256');
    const alice = (await server.parts.repos.users.findByEmail('alice@beta.test'))?.id as string;
    const forge = (claims: { iss: string; exp: number }) =>
      new SignJWT({ scope: 'admin', client_id: 'acme-desktop' })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: jwk?.kid as string })
        .setIssuer(claims.iss)
        .setAudience(audience)
        .setSubject(alice)
        .setIssuedAt(claims.exp - 300)
        .setExpirationTime(claims.exp)
        .sign(key);
    const valid = await call(
      await forge({ iss: server.issuer, exp: Math.floor(Date.now() / 1000) + 60 }),
      'GET',
      '/me',
    );
    expect(valid.status, JSON.stringify(valid.json)).toBe(200);
    const expired = await call(
      await forge({ iss: server.issuer, exp: Math.floor(Date.now() / 1000) - 60 }),
      'GET',
      '/me',
    );
    expect(expired.status).toBe(401);
    expect(String(expired.json.message)).toContain('expired');
    const otherIssuer = await call(
      await forge({ iss: 'https://evil.test', exp: Math.floor(Date.now() / 1000) + 60 }),
      'GET',
      '/me',
    );
    expect(otherIssuer.status).toBe(401);
  });

  it('a person who is not an administrator gets 403 with a valid token', async () => {
    const bob = await adminToken('bob@beta.test', 'correct horse battery staple');
    const response = await call(bob, 'GET', '/users');
    expect(response.status).toBe(403);
    expect(response.json.code).toBe('forbidden');
  });

  it('an instance administrator reaches every organization and the instance-wide resources', async () => {
    const me = await call('alice@beta.test', 'GET', '/me');
    expect(me.json.roles).toEqual({ instance: true, organizations: [] });
    const users = await call('alice@beta.test', 'GET', '/users?limit=2');
    expect(users.status).toBe(200);
    expect((users.json.users as unknown[]).length).toBe(2);
    const next = await call('alice@beta.test', 'GET', `/users?limit=2&cursor=${users.json.next}`);
    const all = await call('alice@beta.test', 'GET', '/users?limit=200');
    expect((all.json.users as { email: string }[]).map((u) => u.email)).toEqual([
      'alice@beta.test',
      'bob@beta.test',
      'carol@beta.test',
      'dave@gamma.test',
      'olivia@gamma.test',
    ]);
    expect((next.json.users as { email: string }[]).map((u) => u.email)).toEqual([
      'carol@beta.test',
      'dave@gamma.test',
    ]);
    const search = await call('alice@beta.test', 'GET', '/users?q=builder');
    expect((search.json.users as { email: string }[]).map((u) => u.email)).toEqual(['bob@beta.test']);
    for (const path of ['/clients', '/resources', '/keys', '/audit', '/admins', '/organizations']) {
      expect((await call('alice@beta.test', 'GET', path)).status, path).toBe(200);
    }
    const resources = await call('alice@beta.test', 'GET', '/resources');
    expect((resources.json.resources as { id: string }[]).map((r) => r.id)).toContain(audience);
  });

  it('an organization administrator reaches only their organization: other users are 404, instance resources 403', async () => {
    const who = 'olivia@gamma.test';
    const users = await call(who, 'GET', '/users');
    expect((users.json.users as { email: string }[]).map((u) => u.email)).toEqual([
      'dave@gamma.test',
      'olivia@gamma.test',
    ]);
    expect((await call(who, 'GET', '/users/bob@beta.test')).status).toBe(404);
    const bobId = (await server.parts.repos.users.findByEmail('bob@beta.test'))?.id as string;
    for (const [method, path] of [
      ['GET', `/users/${bobId}`],
      ['GET', `/users/${bobId}/sessions`],
      ['GET', `/users/${bobId}/audit`],
      ['POST', `/users/${bobId}/disable`],
      ['POST', `/users/${bobId}/revoke-all`],
      ['GET', '/users?organization=beta'],
      ['GET', '/organizations/beta'],
      ['GET', '/organizations/beta/domains'],
      ['GET', '/organizations/beta/connection'],
      ['POST', '/organizations/beta/connection/test'],
    ] as const) {
      const response = await call(who, method, path);
      expect(response.status, `${method} ${path}`).toBe(404);
    }
    for (const [method, path] of [
      ['GET', '/clients'],
      ['GET', '/resources'],
      ['GET', '/keys'],
      ['POST', '/keys/rotate'],
      ['GET', '/audit'],
      ['GET', '/admins'],
      ['PUT', '/organizations/gamma/policy'],
      ['POST', '/organizations'],
    ] as const) {
      const response = await call(who, method, path, method === 'GET' ? undefined : {});
      expect(response.status, `${method} ${path}`).toBe(403);
    }
    const orgs = await call(who, 'GET', '/organizations');
    expect((orgs.json.organizations as { id: string }[]).map((o) => o.id)).toEqual(['gamma']);
    expect((await call(who, 'GET', '/organizations/gamma/domains')).status).toBe(200);
    expect((await call(who, 'POST', '/organizations/gamma/connection/test')).json.ok).toBe(true);
    // Bob is untouched by all of the above.
    expect((await server.parts.repos.users.findByEmail('bob@beta.test'))?.status).toBe('active');
  });

  it("an organization administrator disables a user of their organization: the audit names them, the user's app is refused at its next refresh", async () => {
    const dave = await httpSignIn(server.issuer, {
      clientId: 'acme-desktop',
      redirectUri: LOOPBACK,
      email: 'dave@gamma.test',
      password: PASSWORD,
    });
    const sessions = await call('olivia@gamma.test', 'GET', '/users/dave@gamma.test/sessions');
    expect((sessions.json.apps as { app: string }[]).map((a) => a.app)).toEqual(['Acme Desktop']);
    const disabled = await call('olivia@gamma.test', 'POST', '/users/dave@gamma.test/disable');
    expect(disabled.status, JSON.stringify(disabled.json)).toBe(200);
    const again = await call('olivia@gamma.test', 'POST', '/users/dave@gamma.test/disable');
    expect(again.status).toBe(409);
    expect(String(again.json.message)).toContain('already disabled');
    const refresh = await refreshRaw(server.issuer, 'acme-desktop', dave.refresh_token);
    expect(refresh.status).toBe(400);
    expect(refresh.json?.error).toBe('invalid_grant');

    const olivia = (await server.parts.repos.users.findByEmail('olivia@gamma.test'))?.id;
    const audit = await call('alice@beta.test', 'GET', '/audit?action=user_disabled');
    const [event] = audit.json.events as { actor: string; userEmail: string; ip: string }[];
    expect(event).toMatchObject({ actor: olivia, userEmail: 'dave@gamma.test', ip: '127.0.0.1' });
    expect((await call('alice@beta.test', 'GET', '/audit?action=user_disabld')).json.message).toContain(
      'did you mean "user_disabled"',
    );
    expect((await call('olivia@gamma.test', 'POST', '/users/dave@gamma.test/enable')).status).toBe(200);
  });

  it('SCIM tokens: an organization administrator makes one (its value once), lists it without the value, revokes it; another organization is 404', async () => {
    const who = 'olivia@gamma.test';
    const created = await call(who, 'POST', '/organizations/gamma/scim-tokens', { label: 'Entra ID' });
    expect(created.status).toBe(201);
    const token = created.json.token as string;
    const url = created.json.url as string;
    expect(url).toBe(`${server.issuer}/scim/v2/gamma`);
    const tokenId = (created.json.summary as { id: string }).id;
    // The token works at the organization's SCIM endpoint…
    const scim = (bearer: string) =>
      fetch(`${url}/Users`, { headers: { authorization: `Bearer ${bearer}` } }).then((r) => r.status);
    expect(await scim(token)).toBe(200);
    const listed = await call(who, 'GET', '/organizations/gamma/scim-tokens');
    expect(listed.status).toBe(200);
    expect(JSON.stringify(listed.json)).not.toContain(token);
    expect((listed.json.tokens as { id: string; label: string }[]).map((t) => [t.id, t.label])).toEqual([
      [tokenId, 'Entra ID'],
    ]);
    expect((await call(who, 'GET', '/organizations/beta/scim-tokens')).status).toBe(404);
    expect((await call(who, 'POST', '/organizations/beta/scim-tokens', {})).status).toBe(404);
    expect((await call(who, 'DELETE', `/organizations/beta/scim-tokens/${tokenId}`)).status).toBe(404);
    expect((await call(who, 'POST', '/organizations/gamma/scim-tokens', { value: 'x' })).status).toBe(400);
    // …until it is revoked; a second revocation is a conflict.
    expect((await call(who, 'DELETE', `/organizations/gamma/scim-tokens/${tokenId}`)).status).toBe(200);
    expect(await scim(token)).toBe(401);
    expect((await call(who, 'DELETE', `/organizations/gamma/scim-tokens/${tokenId}`)).status).toBe(409);
    const audited = await server.parts.repos.audit.query({ action: 'scim_token_revoked', limit: 5 });
    expect(audited[0]?.details).toMatchObject({ tokenId });
  });

  it('grants and revokes administrators with the actor audited; a file-declared one cannot be revoked here', async () => {
    const granted = await call('alice@beta.test', 'POST', '/admins', {
      user: 'carol@beta.test',
      organization: 'beta',
    });
    expect(granted.status, JSON.stringify(granted.json)).toBe(201);
    const carol = await adminToken('carol@beta.test', "carol's long password");
    const users = await call(carol, 'GET', '/users');
    expect((users.json.users as { organizationId: string }[]).every((u) => u.organizationId === 'beta')).toBe(
      true,
    );
    const declared = await call('alice@beta.test', 'DELETE', '/admins/olivia@gamma.test?organization=gamma');
    expect(declared.status).toBe(409);
    expect(declared.json.code).toBe('declared_in_config');
    const revoked = await call('alice@beta.test', 'DELETE', '/admins/carol@beta.test?organization=beta');
    expect(revoked.status).toBe(200);
    // Roles are read at every request: Carol's still-valid token no longer works.
    expect((await call(carol, 'GET', '/users')).status).toBe(403);
    const alice = (await server.parts.repos.users.findByEmail('alice@beta.test'))?.id;
    const events = await call('alice@beta.test', 'GET', `/audit?actor=alice@beta.test&limit=10`);
    const actions = (events.json.events as { action: string; actor: string }[]).map((e) => [
      e.action,
      e.actor,
    ]);
    expect(actions).toContainEqual(['admin_granted', alice]);
    expect(actions).toContainEqual(['admin_revoked', alice]);
  });

  it('validates bodies and queries with the documented schemas, naming the field', async () => {
    const bad = await call('alice@beta.test', 'POST', '/users', { email: 'x@beta.test', nickname: 'nope' });
    expect(bad.status).toBe(400);
    expect(bad.json.code).toBe('invalid');
    expect(JSON.stringify(bad.json.details)).toContain('nickname');
    const limit = await call('alice@beta.test', 'GET', '/users?limit=lots');
    expect(limit.status).toBe(400);
    expect(String(limit.json.message)).toContain('query.limit');
    expect((await call('alice@beta.test', 'GET', '/nothing-here')).json.code).toBe('not_found');
  });

  it('tests a connection and reports exactly what is wrong; file-declared policies are refused', async () => {
    const created = await call('alice@beta.test', 'POST', '/organizations', { id: 'delta', name: 'Delta' });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    // Latchkey itself is a working OpenID Connect IdP on loopback.
    const set = await call('alice@beta.test', 'PUT', '/organizations/delta/connection', {
      type: 'oidc',
      issuer: server.issuer,
      client_id: 'acme-desktop',
    });
    expect(set.status, JSON.stringify(set.json)).toBe(200);
    const good = await call('alice@beta.test', 'POST', '/organizations/delta/connection/test');
    expect(good.json.ok, JSON.stringify(good.json)).toBe(true);
    await call('alice@beta.test', 'PUT', '/organizations/delta/connection', {
      type: 'oidc',
      issuer: `${server.issuer}/nowhere`,
      client_id: 'acme-desktop',
    });
    const bad = await call('alice@beta.test', 'POST', '/organizations/delta/connection/test');
    expect(bad.json.ok).toBe(false);
    expect((bad.json.checks as { check: string; message: string }[])[0]).toMatchObject({
      check: 'discovery',
      message: `${server.issuer}/nowhere/.well-known/openid-configuration answered HTTP 404`,
    });
    const policy = await call('alice@beta.test', 'PUT', '/organizations/delta/policy', { require_2sv: true });
    expect(policy.status, JSON.stringify(policy.json)).toBe(200);
    expect((policy.json.policy as { require2sv: boolean }).require2sv).toBe(true);
    const declared = await call('alice@beta.test', 'PUT', '/organizations/beta/policy', {
      require_2sv: true,
    });
    expect(declared.status).toBe(409);
    expect(declared.json.code).toBe('declared_in_config');
  });
});
