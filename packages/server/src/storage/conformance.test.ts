import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import type { AdapterConstructor, AdapterPayload } from 'oidc-provider';
import { errors } from 'oidc-provider';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientConfig, OrganizationConfig, OrganizationPolicy } from '../config/types.js';
import { newId, randomToken, sha256Base64url } from '../crypto/ids.js';
import { SecretBox } from '../crypto/secret-box.js';
import {
  createTestDatabase,
  createTestDatabaseUrl,
  type TestDatabaseKind,
  testDatabaseKinds,
} from '../test-support/databases.js';
import { type Database, DatabaseUrlError, openDatabase } from './database.js';
import { DuplicateError } from './errors.js';
import { migrateToLatest, migrationStatus } from './migrate.js';
import { createOidcAdapter, listAccountRecords, revokeAllForAccount } from './oidc-adapter.js';
import {
  createRepositories,
  type Repositories,
  verifyOperatorSecret,
  WrongSecretError,
} from './repositories.js';
import { startSweeper } from './sweeper.js';

/**
 * One suite, every backend (in the spirit of Dex's storage/conformance): the contracts each
 * repository and the engine adapter state in their doc comments, on SQLite and PostgreSQL.
 * `LATCHKEY_TEST_DATABASES=sqlite` narrows the run.
 */
const kinds = testDatabaseKinds();
const SECRET = 'conformance operator secret';

const policy: OrganizationPolicy = {
  require2sv: false,
  allowedClients: [],
  jitProvisioning: true,
  refreshIdleTtl: 86_400,
  refreshAbsoluteTtl: 864_000,
  maxUpstreamAge: 86_400,
  upstreamRevalidateInterval: 3_600,
};

function org(
  id: string,
  domains: string[],
  connection?: OrganizationConfig['connection'],
): OrganizationConfig {
  return { id, name: `Org ${id}`, domains, connection: connection ?? { type: 'local' }, policy };
}

function client(id: string, secret?: string): ClientConfig {
  return {
    id,
    name: `Client ${id}`,
    kind: secret ? 'web' : 'native',
    redirectUris: ['http://127.0.0.1/callback'],
    postLogoutRedirectUris: [],
    deviceFlow: false,
    tokenEndpointAuthMethod: secret ? 'client_secret_basic' : 'none',
    secret,
    idTokenSignedResponseAlg: 'ES256',
  };
}

/** Settles all and counts: exactly-one-winner assertions. */
async function race<T>(attempts: Promise<T>[]) {
  const settled = await Promise.allSettled(attempts);
  return {
    fulfilled: settled.filter((s): s is PromiseFulfilledResult<Awaited<T>> => s.status === 'fulfilled'),
    rejected: settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected'),
  };
}

describe.each(kinds)('storage conformance: %s', (kind: TestDatabaseKind) => {
  let test: Awaited<ReturnType<typeof createTestDatabase>>;
  let database: Database;
  /**
   * A second connection for races. PostgreSQL: a second pool, as if another server process.
   * SQLite: the same Database — one process serializes its statements on one connection, and two
   * synchronous connections in one thread would wait on each other's locks.
   */
  let other: Database;
  let repos: Repositories;
  const box = SecretBox.fromSecret(SECRET);

  beforeAll(async () => {
    test = await createTestDatabase(kind);
    database = test.database;
    other = kind === 'postgres' ? await openDatabase(test.url, { poolSize: 4 }) : database;
    repos = createRepositories(database, box);
  });

  afterAll(async () => {
    if (other && other !== database) await other.close();
    await test?.drop();
  });

  const raw = () => database.db;

  describe('database and migrations', () => {
    it('reports its dialect and answers ping', async () => {
      expect(database.dialect).toBe(kind);
      await expect(database.ping()).resolves.toBeUndefined();
    });

    it('migrations are idempotent and listed with their applied time', async () => {
      expect(await migrateToLatest(database)).toEqual([]);
      const status = await migrationStatus(database);
      expect(status.map((m) => m.name)).toEqual([
        '0001-initial',
        '0002-expiry-indexes',
        '0003-partial-lookup-indexes',
      ]);
      for (const m of status) expect(m.appliedAt).toBeInstanceOf(Date);
    });

    it('indexes uid and user_code only where they are set, and the lookups still use those indexes', async () => {
      const definitions =
        kind === 'sqlite'
          ? await sql<{ name: string; def: string }>`SELECT name, sql AS def FROM sqlite_master
              WHERE type = 'index' AND name IN ('oidc_records_uid', 'oidc_records_user_code')`.execute(raw())
          : await sql<{ name: string; def: string }>`SELECT indexname AS name, indexdef AS def FROM pg_indexes
              WHERE indexname IN ('oidc_records_uid', 'oidc_records_user_code')`.execute(raw());
      expect(definitions.rows).toHaveLength(2);
      for (const { name, def } of definitions.rows) {
        const column = name.replace('oidc_records_', '');
        expect(def.replace(/[()"]/g, '')).toMatch(new RegExp(`WHERE ${column} IS NOT NULL`, 'i'));
      }
      if (kind === 'sqlite') {
        for (const column of ['uid', 'user_code']) {
          const plan = await sql<{ detail: string }>`EXPLAIN QUERY PLAN SELECT payload FROM oidc_records
            WHERE model = 'Session' AND ${sql.ref(column)} = 'x'`.execute(raw());
          expect(plan.rows.map((r) => r.detail).join(' ')).toContain(`oidc_records_${column}`);
        }
      }
    });

    it('reads epoch-millisecond columns back as numbers', async () => {
      await repos.audit.append({ action: 'type_check', outcome: 'info' });
      const row = await raw()
        .selectFrom('audit_events')
        .select('at')
        .where('action', '=', 'type_check')
        .executeTakeFirstOrThrow();
      expect(typeof row.at).toBe('number');
      expect(row.at).toBeGreaterThan(1_600_000_000_000);
    });
  });

  describe('organizations', () => {
    it('applies configuration idempotently, with the connection secret encrypted', async () => {
      const acme = org('acme', ['Acme.test'], {
        type: 'google',
        clientId: 'google-client',
        clientSecret: 'google-secret-value',
        issuer: 'https://accounts.google.com',
      });
      await repos.organizations.upsertFromConfig(acme);
      await repos.organizations.upsertFromConfig(acme);
      const found = await repos.organizations.findById('acme');
      expect(found).toMatchObject({ id: 'acme', name: 'Org acme', domains: ['acme.test'], policy });
      expect(found?.connection).toEqual({
        id: 'acme-google',
        type: 'google',
        settings: { clientId: 'google-client', issuer: 'https://accounts.google.com' },
        secrets: { clientSecret: 'google-secret-value' },
      });
      const row = await raw()
        .selectFrom('connections')
        .selectAll()
        .where('organization_id', '=', 'acme')
        .executeTakeFirstOrThrow();
      expect(row.secrets).toMatch(/^v1\./);
      expect(row.secrets).not.toContain('google-secret-value');
      expect(row.settings).not.toContain('google-secret-value');
      expect((await repos.organizations.connection('acme'))?.secrets.clientSecret).toBe(
        'google-secret-value',
      );
      expect((await repos.organizations.findByDomain('ACME.test'))?.id).toBe('acme');
      expect(await repos.organizations.findByDomain('nobody.test')).toBeUndefined();
    });

    it('a domain belongs to one organization', async () => {
      await repos.organizations.upsertFromConfig(org('beta', ['beta.test']));
      await expect(repos.organizations.upsertFromConfig(org('gamma', ['beta.test']))).rejects.toBeInstanceOf(
        DuplicateError,
      );
      await repos.organizations.upsertFromConfig(org('gamma', []));
      await expect(repos.organizations.addDomain('gamma', 'BETA.test', null)).rejects.toBeInstanceOf(
        DuplicateError,
      );
      const { fulfilled, rejected } = await race([
        repos.organizations.addDomain('beta', 'contested.test', null),
        createRepositories(other, box).organizations.addDomain('gamma', 'contested.test', null),
      ]);
      expect(fulfilled).toHaveLength(1);
      expect(rejected[0]?.reason).toBeInstanceOf(DuplicateError);
    });

    it('tracks domain verification', async () => {
      await repos.organizations.addDomain('gamma', 'pending.test', 'token-1');
      expect(await repos.organizations.findDomain('pending.test')).toEqual({
        domain: 'pending.test',
        organizationId: 'gamma',
        verificationToken: 'token-1',
        verifiedAt: null,
      });
      const gamma = async () => (await repos.organizations.listWithDetails({ id: 'gamma' }))[0];
      // Claimed (no one else may take it) but not routing sign-ins until verified.
      expect((await gamma())?.domains).toContain('pending.test');
      expect((await gamma())?.verifiedDomains).not.toContain('pending.test');
      expect(await repos.organizations.markDomainVerified('pending.test')).toBe(true);
      expect((await gamma())?.verifiedDomains).toContain('pending.test');
      expect(await repos.organizations.markDomainVerified('pending.test')).toBe(false);
      expect((await repos.organizations.findDomain('pending.test'))?.verifiedAt).toEqual(expect.any(Number));
      expect((await repos.organizations.listDomains('gamma')).map((d) => d.domain)).toContain('pending.test');
      expect(await repos.organizations.removeDomain('PENDING.test')).toBe(true);
      expect(await repos.organizations.findDomain('pending.test')).toBeUndefined();
    });

    it('replaces the one connection in place', async () => {
      const id = await repos.organizations.setConnection('gamma', {
        type: 'oidc',
        issuer: 'https://idp.test',
        clientId: 'c',
        clientSecret: 's3cret',
      });
      expect(id).toBe('gamma-oidc');
      await repos.organizations.setConnection('gamma', {
        type: 'oidc',
        issuer: 'https://idp2.test',
        clientId: 'c',
      });
      const connection = await repos.organizations.connectionById('gamma-oidc');
      expect(connection).toMatchObject({ organizationId: 'gamma', secrets: {} });
      expect(connection?.settings.issuer).toBe('https://idp2.test');
      const count = await raw()
        .selectFrom('connections')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('organization_id', '=', 'gamma')
        .executeTakeFirstOrThrow();
      expect(Number(count.n)).toBe(1);
    });
  });

  describe('users and identities', () => {
    beforeAll(async () => {
      await repos.organizations.upsertFromConfig(org('people', ['people.test']));
    });

    it('creates, finds by id and normalized email, lists, sets status, touches sign-in', async () => {
      const user = await repos.users.create({
        organizationId: 'people',
        email: ' Ada@People.test ',
        name: 'Ada',
      });
      expect(user).toMatchObject({ organizationId: 'people', status: 'active', lastSignInAt: null });
      expect(await repos.users.findById(user.id)).toEqual(user);
      expect((await repos.users.findByEmail('ada@people.TEST'))?.id).toBe(user.id);
      expect(await repos.users.findByEmail('nobody@people.test')).toBeUndefined();
      expect(await repos.users.setStatus(user.id, 'disabled')).toBe(true);
      expect((await repos.users.findById(user.id))?.status).toBe('disabled');
      expect(await repos.users.setStatus('missing', 'disabled')).toBe(false);
      await repos.users.touchLastSignIn(user.id);
      expect((await repos.users.findById(user.id))?.lastSignInAt).toEqual(expect.any(Number));
      const listed = await repos.users.list({ organizationId: 'people' });
      expect(listed.map((u) => u.id)).toContain(user.id);
      expect(listed.every((u) => u.organizationId === 'people')).toBe(true);
      // Users without an email do not collide with each other.
      await repos.users.create({ organizationId: 'people' });
      await repos.users.create({ organizationId: 'people' });
    });

    it('an email belongs to one user, also under concurrency', async () => {
      await repos.users.create({ organizationId: 'people', email: 'bob@people.test' });
      await expect(
        repos.users.create({ organizationId: 'people', email: 'BOB@people.test' }),
      ).rejects.toBeInstanceOf(DuplicateError);
      const otherRepos = createRepositories(other, box);
      const { fulfilled, rejected } = await race([
        repos.users.create({ organizationId: 'people', email: 'carol@people.test' }),
        otherRepos.users.create({ organizationId: 'people', email: 'Carol@people.test' }),
        otherRepos.users.create({ organizationId: 'people', email: 'carol@PEOPLE.test' }),
      ]);
      expect(fulfilled).toHaveLength(1);
      expect(rejected).toHaveLength(2);
      for (const r of rejected) expect(r.reason).toBeInstanceOf(DuplicateError);
    });

    it('identities are unique per (connection, subject); the upstream refresh token is encrypted', async () => {
      const user = await repos.users.create({ organizationId: 'people', email: 'dan@people.test' });
      const identity = await repos.users.linkIdentity({
        userId: user.id,
        connectionId: 'people-oidc',
        subject: 'sub-1',
        email: 'dan@people.test',
        profile: { groups: ['eng'] },
        upstreamRefreshToken: 'upstream-rt-1',
      });
      expect(await repos.users.findIdentity('people-oidc', 'sub-1')).toEqual(identity);
      expect(identity.upstreamRefreshToken).toBe('upstream-rt-1');
      expect(await repos.users.findIdentity('people-oidc', 'sub-2')).toBeUndefined();
      expect(await repos.users.findIdentity('other-connection', 'sub-1')).toBeUndefined();
      await expect(
        repos.users.linkIdentity({
          userId: user.id,
          connectionId: 'people-oidc',
          subject: 'sub-1',
          profile: {},
        }),
      ).rejects.toBeInstanceOf(DuplicateError);
      // The same subject at another connection is another identity.
      await repos.users.linkIdentity({
        userId: user.id,
        connectionId: 'people-saml',
        subject: 'sub-1',
        profile: {},
      });

      const row = await raw()
        .selectFrom('identities')
        .select('upstream_refresh_token')
        .where('id', '=', identity.id)
        .executeTakeFirstOrThrow();
      expect(row.upstream_refresh_token).toMatch(/^v1\./);
      expect(row.upstream_refresh_token).not.toContain('upstream-rt-1');

      await repos.users.updateIdentity(identity.id, {
        profile: { groups: ['ops'] },
        upstreamRefreshToken: 'upstream-rt-2',
        authenticated: true,
      });
      await repos.users.updateIdentity(identity.id, {});
      const updated = await repos.users.findIdentity('people-oidc', 'sub-1');
      expect(updated?.upstreamRefreshToken).toBe('upstream-rt-2');
      expect(updated?.profile).toEqual({ groups: ['ops'] });
      expect(await repos.users.groupsOf(user.id)).toEqual(expect.any(Array));
      expect(await repos.users.identitiesOf(user.id)).toHaveLength(2);
    });
  });

  describe('credentials', () => {
    let alice: string;
    let eve: string;
    beforeAll(async () => {
      await repos.organizations.upsertFromConfig(org('creds', ['creds.test']));
      alice = (await repos.users.create({ organizationId: 'creds', email: 'alice@creds.test' })).id;
      eve = (await repos.users.create({ organizationId: 'creds', email: 'eve@creds.test' })).id;
    });

    it('keeps one password per user', async () => {
      expect(await repos.credentials.passwordHash(alice)).toBeUndefined();
      await repos.credentials.setPassword(alice, '$argon2id$first');
      await repos.credentials.setPassword(alice, '$argon2id$second');
      expect(await repos.credentials.passwordHash(alice)).toBe('$argon2id$second');
      expect((await repos.credentials.methodsOf(alice)).password).toBe(true);
    });

    it('stores the TOTP secret encrypted and accepts each step once', async () => {
      await repos.credentials.setTotp(alice, 'JBSWY3DPEHPK3PXP');
      const totp = await repos.credentials.totp(alice);
      expect(totp).toMatchObject({ secret: 'JBSWY3DPEHPK3PXP', lastStep: null });
      const row = await raw()
        .selectFrom('credentials')
        .select('secret')
        .where('user_id', '=', alice)
        .where('type', '=', 'totp')
        .executeTakeFirstOrThrow();
      expect(row.secret).toMatch(/^v1\./);
      expect(row.secret).not.toContain('JBSWY3DPEHPK3PXP');

      const id = totp?.id as string;
      const otherRepos = createRepositories(other, box);
      const { fulfilled } = await race([
        repos.credentials.acceptTotpStep(id, null, 100),
        otherRepos.credentials.acceptTotpStep(id, null, 100),
      ]);
      expect(fulfilled.map((f) => f.value).sort()).toEqual([false, true]);
      expect((await repos.credentials.totp(alice))?.lastStep).toBe(100);
      expect(await repos.credentials.acceptTotpStep(id, null, 101)).toBe(false);
      expect(await repos.credentials.acceptTotpStep(id, 100, 101)).toBe(true);
    });

    it('passkeys are unique by credential id across users', async () => {
      const id = await repos.credentials.addPasskey(alice, 'cred-AAA', { publicKey: 'pk', counter: 0 });
      await expect(repos.credentials.addPasskey(eve, 'cred-AAA', {})).rejects.toBeInstanceOf(DuplicateError);
      expect(await repos.credentials.findPasskey('cred-AAA')).toMatchObject({
        id,
        userId: alice,
        credentialId: 'cred-AAA',
        data: { publicKey: 'pk', counter: 0 },
      });
      expect(await repos.credentials.findPasskey('cred-BBB')).toBeUndefined();
      await repos.credentials.updatePasskey(id, { publicKey: 'pk', counter: 5 });
      expect((await repos.credentials.passkeys(alice))[0]?.data).toEqual({ publicKey: 'pk', counter: 5 });
      expect(await repos.credentials.removePasskey(eve, id)).toBe(false);
      expect(await repos.credentials.removePasskey(alice, id)).toBe(true);
    });

    it('recovery codes are used once, also under concurrency', async () => {
      await repos.credentials.replaceRecoveryCodes(alice, ['h1', 'h2', 'h3']);
      const codes = await repos.credentials.unusedRecoveryCodes(alice);
      expect(codes.map((c) => c.hash).sort()).toEqual(['h1', 'h2', 'h3']);
      const target = codes[0]?.id as string;
      const otherRepos = createRepositories(other, box);
      const { fulfilled } = await race([
        repos.credentials.useRecoveryCode(target),
        otherRepos.credentials.useRecoveryCode(target),
        repos.credentials.useRecoveryCode(target),
      ]);
      expect(fulfilled.map((f) => f.value).filter(Boolean)).toHaveLength(1);
      expect(await repos.credentials.unusedRecoveryCodes(alice)).toHaveLength(2);
      expect((await repos.credentials.methodsOf(alice)).recoveryCodes).toBe(2);
      await repos.credentials.replaceRecoveryCodes(alice, ['h4']);
      expect((await repos.credentials.unusedRecoveryCodes(alice)).map((c) => c.hash)).toEqual(['h4']);
      expect(await repos.credentials.removeType(alice, 'recovery_code')).toBe(1);
    });
  });

  describe('clients and resources', () => {
    it('upserts from configuration, adds uniquely, encrypts the secret', async () => {
      await repos.clients.upsertFromConfig(client('desk'));
      await repos.clients.upsertFromConfig({ ...client('desk'), name: 'Desk 2' });
      expect((await repos.clients.find('desk'))?.name).toBe('Desk 2');
      await repos.clients.add(client('web-app', 'web-secret-value'));
      await expect(repos.clients.add(client('web-app'))).rejects.toBeInstanceOf(DuplicateError);
      await expect(repos.clients.add(client('desk'))).rejects.toBeInstanceOf(DuplicateError);
      const web = await repos.clients.find('web-app');
      expect(web).toEqual(client('web-app', 'web-secret-value'));
      const row = await raw()
        .selectFrom('clients')
        .selectAll()
        .where('id', '=', 'web-app')
        .executeTakeFirstOrThrow();
      expect(row.secret).toMatch(/^v1\./);
      expect(JSON.stringify(row)).not.toContain('web-secret-value');
      expect((await repos.clients.list()).map((c) => [c.id, c.source])).toEqual(
        expect.arrayContaining([
          ['desk', 'config'],
          ['web-app', 'admin'],
        ]),
      );
      expect(await repos.clients.remove('web-app')).toBe(true);
      expect(await repos.clients.remove('web-app')).toBe(false);
      expect(await repos.clients.find('web-app')).toBeUndefined();
    });

    it('resources', async () => {
      await repos.resources.upsert({ id: 'https://api.test', name: 'API', scopes: ['a'] });
      await repos.resources.upsert({
        id: 'https://api.test',
        name: 'API',
        scopes: ['a', 'b'],
        accessTokenTtl: 600,
      });
      expect(await repos.resources.find('https://api.test')).toEqual({
        id: 'https://api.test',
        name: 'API',
        scopes: ['a', 'b'],
        accessTokenTtl: 600,
      });
      expect(await repos.resources.list()).toHaveLength(1);
      expect(await repos.resources.remove('https://api.test')).toBe(true);
    });
  });

  describe('signing keys', () => {
    it('stores material encrypted and tracks rotation', async () => {
      const now = Date.now();
      const key = (kid: string, createdAt: number) => ({
        kid,
        use: 'sig' as const,
        alg: 'ES256',
        material: `{"d":"private-${kid}"}`,
        activatesAt: createdAt,
        createdAt,
      });
      await repos.signingKeys.insert([key('k1', now - 2000), key('k2', now - 1000)]);
      await expect(repos.signingKeys.insert([key('k1', now)])).rejects.toThrow();
      const row = await raw()
        .selectFrom('signing_keys')
        .selectAll()
        .where('kid', '=', 'k1')
        .executeTakeFirstOrThrow();
      expect(row.material).not.toContain('private-k1');
      expect((await repos.signingKeys.list()).map((k) => [k.kid, k.material])).toEqual([
        ['k1', '{"d":"private-k1"}'],
        ['k2', '{"d":"private-k2"}'],
      ]);
      await repos.signingKeys.retire(['k1'], now - 500, now - 100);
      await repos.signingKeys.retire(['k1'], now + 5000, now + 9000); // already retired: unchanged
      const k1 = (await repos.signingKeys.list()).find((k) => k.kid === 'k1');
      expect(k1).toMatchObject({ retiresAt: now - 500, expiresAt: now - 100 });
      expect((await repos.signingKeys.listActive(now)).map((k) => k.kid)).toEqual(['k2']);
      expect(await repos.signingKeys.deleteExpired(now)).toBe(1);
      expect((await repos.signingKeys.list()).map((k) => k.kid)).toEqual(['k2']);
    });
  });

  describe('audit events', () => {
    it('appends and queries by user, action, since and limit, newest first', async () => {
      const user = `audit-user-${newId()}`;
      await repos.audit.append({ action: 'sign_in', outcome: 'success', userId: user, ip: '10.0.0.1' });
      const mid = Date.now();
      await new Promise((r) => setTimeout(r, 5));
      await repos.audit.append({
        action: 'sign_in',
        outcome: 'failure',
        userId: user,
        details: { reason: 'x' },
      });
      await repos.audit.append({ action: 'sign_out', outcome: 'info', userId: user });
      await repos.audit.append({ action: 'sign_in', outcome: 'success', userId: 'someone-else' });

      const all = await repos.audit.query({ userId: user });
      expect(all.map((e) => e.action)).toEqual(['sign_out', 'sign_in', 'sign_in']);
      expect(all[1]).toMatchObject({ outcome: 'failure', details: { reason: 'x' }, userId: user });
      expect(all[2]?.ip).toBe('10.0.0.1');
      expect(await repos.audit.query({ userId: user, limit: 1 })).toHaveLength(1);
      expect((await repos.audit.query({ userId: user, since: mid + 1 })).map((e) => e.action)).toEqual([
        'sign_out',
        'sign_in',
      ]);
      expect(await repos.audit.query({ userId: user, action: 'sign_in' })).toHaveLength(2);
    });
  });

  describe('short-lived state', () => {
    it('sign-in states: put, overwrite, expire, delete', async () => {
      const uid = randomToken(8);
      await repos.signInStates.put(uid, { step: 'email' }, Date.now() + 60_000);
      await repos.signInStates.put(uid, { step: 'password' }, Date.now() + 60_000);
      expect(await repos.signInStates.get(uid)).toEqual({ step: 'password' });
      await repos.signInStates.put(uid, { step: 'password' }, Date.now() - 1);
      expect(await repos.signInStates.get(uid)).toBeUndefined();
      await repos.signInStates.put(uid, { step: 'totp' }, Date.now() + 60_000);
      await repos.signInStates.delete(uid);
      expect(await repos.signInStates.get(uid)).toBeUndefined();
    });

    it('upstream requests are consumed once, also under concurrency', async () => {
      const id = randomToken(16);
      await repos.upstreamRequests.create({
        id,
        connectionId: 'c1',
        interactionUid: 'uid-1',
        data: { nonce: 'n', codeVerifier: 'v' },
        expiresAt: Date.now() + 60_000,
      });
      await expect(
        repos.upstreamRequests.create({
          id,
          connectionId: 'c1',
          interactionUid: 'uid-2',
          data: {},
          expiresAt: Date.now() + 60_000,
        }),
      ).rejects.toBeInstanceOf(DuplicateError);
      const otherRepos = createRepositories(other, box);
      const results = await Promise.all([
        repos.upstreamRequests.consume(id),
        otherRepos.upstreamRequests.consume(id),
        otherRepos.upstreamRequests.consume(id),
        repos.upstreamRequests.consume(id),
      ]);
      const winners = results.filter((r) => r !== undefined);
      expect(winners).toEqual([
        { connectionId: 'c1', interactionUid: 'uid-1', data: { nonce: 'n', codeVerifier: 'v' } },
      ]);
      expect(await repos.upstreamRequests.consume(id)).toBeUndefined();

      const expired = randomToken(16);
      await repos.upstreamRequests.create({
        id: expired,
        connectionId: 'c1',
        interactionUid: 'u',
        data: {},
        expiresAt: Date.now() - 1,
      });
      expect(await repos.upstreamRequests.consume(expired)).toBeUndefined();
    });

    it('the replay cache remembers a key once, also under concurrency; expired keys are forgotten', async () => {
      const key = `saml:test:${randomToken(8)}`;
      const otherRepos = createRepositories(other, box);
      const results = await Promise.all([
        repos.replayCache.remember(key, Date.now() + 60_000),
        otherRepos.replayCache.remember(key, Date.now() + 60_000),
        otherRepos.replayCache.remember(key, Date.now() + 60_000),
        repos.replayCache.remember(key, Date.now() + 60_000),
      ]);
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await repos.replayCache.remember(key, Date.now() + 60_000)).toBe(false);

      const stale = `stale:${randomToken(8)}`;
      expect(await repos.replayCache.remember(stale, Date.now() - 1)).toBe(true);
      expect(await repos.replayCache.remember(stale, Date.now() + 60_000)).toBe(true);
      expect(await repos.replayCache.remember(stale, Date.now() + 60_000)).toBe(false);
    });

    it('action tokens are stored hashed and consumed once', async () => {
      await repos.organizations.upsertFromConfig(org('tokens', []));
      const user = await repos.users.create({ organizationId: 'tokens', email: `t-${newId()}@tokens.test` });
      const token = randomToken();
      const tokenHash = sha256Base64url(token);
      await repos.actionTokens.create({
        tokenHash,
        kind: 'password_reset',
        userId: user.id,
        expiresAt: Date.now() + 60_000,
      });
      const row = await raw()
        .selectFrom('action_tokens')
        .selectAll()
        .where('token_hash', '=', tokenHash)
        .executeTakeFirstOrThrow();
      expect(JSON.stringify(row)).not.toContain(token);
      expect(await repos.actionTokens.peek(tokenHash, 'password_reset')).toEqual({ userId: user.id });
      expect(await repos.actionTokens.consume(tokenHash, 'other_kind')).toBeUndefined();
      const otherRepos = createRepositories(other, box);
      const results = await Promise.all([
        repos.actionTokens.consume(tokenHash, 'password_reset'),
        otherRepos.actionTokens.consume(tokenHash, 'password_reset'),
        repos.actionTokens.consume(tokenHash, 'password_reset'),
      ]);
      expect(results.filter((r) => r !== undefined)).toEqual([{ userId: user.id }]);
      expect(await repos.actionTokens.peek(tokenHash, 'password_reset')).toBeUndefined();

      const expiredHash = sha256Base64url(randomToken());
      await repos.actionTokens.create({
        tokenHash: expiredHash,
        kind: 'password_reset',
        userId: user.id,
        expiresAt: Date.now() - 1,
      });
      expect(await repos.actionTokens.consume(expiredHash, 'password_reset')).toBeUndefined();
    });
  });

  describe('operator secret check', () => {
    it('accepts the secret the database was created with and names the mismatch otherwise', async () => {
      await verifyOperatorSecret(database, box);
      await verifyOperatorSecret(database, SecretBox.fromSecret(SECRET));
      const wrongSecret = 'a-different-operator-secret';
      const attempt = verifyOperatorSecret(database, SecretBox.fromSecret(wrongSecret));
      await expect(attempt).rejects.toBeInstanceOf(WrongSecretError);
      await expect(attempt).rejects.toThrow(
        /LATCHKEY_SECRET does not match the one this database was created with/,
      );
      await attempt.catch((error: Error) => {
        expect(error.message).not.toContain(wrongSecret);
        expect(error.message).not.toContain(SECRET);
      });
      // The stored check value stays the original one.
      await verifyOperatorSecret(database, box);
    });
  });

  describe('oidc-provider adapter', () => {
    let clock = 1_700_000_000_000;
    let grace = 30_000;
    let Adapter: AdapterConstructor;
    let OtherAdapter: AdapterConstructor;
    const options = { refreshReuseGraceMs: () => grace, now: () => clock };

    beforeAll(() => {
      Adapter = createOidcAdapter(database, options);
      OtherAdapter = createOidcAdapter(other, options);
    });

    const payload = (extra: Partial<AdapterPayload> = {}): AdapterPayload => ({
      clientId: 'desk',
      accountId: 'acct-1',
      ...extra,
    });

    it('upsert / find / expiry / destroy', async () => {
      const at = new Adapter('AccessToken');
      await at.upsert('at-1', payload({ grantId: 'g-basic', scope: 'openid' }), 60);
      expect(await at.find('at-1')).toEqual(payload({ grantId: 'g-basic', scope: 'openid' }));
      // Models are separate namespaces.
      expect(await new Adapter('RefreshToken').find('at-1')).toBeUndefined();
      // Upsert replaces the payload.
      await at.upsert('at-1', payload({ grantId: 'g-basic', scope: 'openid email' }), 60);
      expect((await at.find('at-1'))?.scope).toBe('openid email');
      clock += 60_000;
      expect(await at.find('at-1')).toBeUndefined();
      clock -= 60_000;
      await at.destroy('at-1');
      expect(await at.find('at-1')).toBeUndefined();
      // No expiresIn: kept until destroyed.
      await at.upsert('at-forever', payload(), 0);
      clock += 10 ** 9;
      expect(await at.find('at-forever')).toBeDefined();
      clock -= 10 ** 9;
    });

    it('findByUid and findByUserCode', async () => {
      const sessions = new Adapter('Session');
      await sessions.upsert(
        'sess-1',
        { uid: 'uid-1', accountId: 'acct-1', kind: 'Session' } as AdapterPayload,
        600,
      );
      expect((await sessions.findByUid('uid-1'))?.accountId).toBe('acct-1');
      expect(await sessions.findByUid('uid-2')).toBeUndefined();
      expect(await new Adapter('Interaction').findByUid('uid-1')).toBeUndefined();
      const devices = new Adapter('DeviceCode');
      await devices.upsert('dc-1', payload({ userCode: 'ABCD-EFGH', grantId: 'g-device' }), 600);
      expect((await devices.findByUserCode('ABCD-EFGH'))?.userCode).toBe('ABCD-EFGH');
      expect(await devices.findByUserCode('ZZZZ-ZZZZ')).toBeUndefined();
      clock += 600_000;
      expect(await devices.findByUserCode('ABCD-EFGH')).toBeUndefined();
      expect(await sessions.findByUid('uid-1')).toBeUndefined();
      clock -= 600_000;
    });

    it('consume marks the record consumed (epoch seconds), and upsert keeps that mark', async () => {
      const codes = new Adapter('AuthorizationCode');
      await codes.upsert('code-1', payload({ grantId: 'g-code' }), 60);
      expect((await codes.find('code-1'))?.consumed).toBeUndefined();
      await codes.consume('code-1');
      expect((await codes.find('code-1'))?.consumed).toBe(Math.floor(clock / 1000));
      await codes.upsert('code-1', payload({ grantId: 'g-code' }), 60);
      expect((await codes.find('code-1'))?.consumed).toBe(Math.floor(clock / 1000));
      await expect(codes.consume('code-1')).rejects.toBeInstanceOf(errors.InvalidGrant);
      await expect(codes.consume('missing')).rejects.toBeInstanceOf(errors.InvalidGrant);
    });

    it('two simultaneous consumes of one code or refresh token: exactly one wins', async () => {
      for (const model of ['AuthorizationCode', 'RefreshToken', 'DeviceCode']) {
        for (let round = 0; round < 5; round += 1) {
          const id = `${model}-race-${round}`;
          await new Adapter(model).upsert(id, payload({ grantId: `g-race-${model}-${round}` }), 60);
          const { fulfilled, rejected } = await race([
            new Adapter(model).consume(id),
            new OtherAdapter(model).consume(id),
            new OtherAdapter(model).consume(id),
          ]);
          expect(fulfilled).toHaveLength(1);
          expect(rejected).toHaveLength(2);
          for (const r of rejected) expect(r.reason).toBeInstanceOf(errors.InvalidGrant);
        }
      }
    });

    it('revokeByGrantId removes every record of the grant, the grant included', async () => {
      await new Adapter('Grant').upsert(
        'g-revoke',
        { accountId: 'acct-1', clientId: 'desk' } as AdapterPayload,
        600,
      );
      await new Adapter('Grant').upsert(
        'g-keep',
        { accountId: 'acct-1', clientId: 'desk' } as AdapterPayload,
        600,
      );
      const models = ['AccessToken', 'RefreshToken', 'AuthorizationCode'];
      for (const model of models) {
        await new Adapter(model).upsert(`${model}-g1`, payload({ grantId: 'g-revoke' }), 600);
        await new Adapter(model).upsert(`${model}-g2`, payload({ grantId: 'g-keep' }), 600);
      }
      await new Adapter('RefreshToken').revokeByGrantId('g-revoke');
      for (const model of models) {
        expect(await new Adapter(model).find(`${model}-g1`)).toBeUndefined();
        expect(await new Adapter(model).find(`${model}-g2`)).toBeDefined();
      }
      expect(await new Adapter('Grant').find('g-revoke')).toBeUndefined();
      expect(await new Adapter('Grant').find('g-keep')).toBeDefined();
    });

    it('revokeAllForAccount removes sessions, grants, tokens and codes of one account', async () => {
      const account = `acct-${newId()}`;
      await new Adapter('Session').upsert(
        's-all',
        { uid: 'u-all', accountId: account } as AdapterPayload,
        600,
      );
      await new Adapter('Grant').upsert(
        'g-all',
        { accountId: account, clientId: 'desk' } as AdapterPayload,
        600,
      );
      await new Adapter('RefreshToken').upsert(
        'rt-all',
        payload({ accountId: account, grantId: 'g-all' }),
        600,
      );
      await new Adapter('AccessToken').upsert(
        'at-all',
        payload({ accountId: account, grantId: 'g-all' }),
        600,
      );
      await new Adapter('AuthorizationCode').upsert(
        'c-all',
        payload({ accountId: account, grantId: 'g-all' }),
        60,
      );
      await new Adapter('Interaction').upsert(
        'i-all',
        { session: { accountId: account, uid: 'u-all' } } as unknown as AdapterPayload,
        60,
      );
      await new Adapter('RefreshToken').upsert('rt-bystander', payload({ accountId: 'bystander' }), 600);

      const listed = await listAccountRecords(database, account, clock);
      expect(listed.map((r) => r.model).sort()).toEqual(['Grant', 'RefreshToken', 'Session']);

      expect(await revokeAllForAccount(database, account)).toBe(6);
      expect(await new Adapter('Session').findByUid('u-all')).toBeUndefined();
      expect(await new Adapter('Grant').find('g-all')).toBeUndefined();
      expect(await new Adapter('RefreshToken').find('rt-all')).toBeUndefined();
      expect(await new Adapter('RefreshToken').find('rt-bystander')).toBeDefined();
      expect(await revokeAllForAccount(database, account)).toBe(0);
    });

    describe('refresh-token reuse grace', () => {
      /** A grant with RT `old` rotated (consumed) at `clock`, and optionally its successor. */
      async function rotated(name: string, withSuccessor: boolean) {
        const grantId = `g-${name}`;
        const rts = new Adapter('RefreshToken');
        await new Adapter('Grant').upsert(
          grantId,
          { accountId: 'acct-1', clientId: 'desk' } as AdapterPayload,
          3600,
        );
        await new Adapter('AccessToken').upsert(`${name}-at`, payload({ grantId }), 600);
        await rts.upsert(`${name}-old`, payload({ grantId }), 3600);
        clock += 5;
        await rts.consume(`${name}-old`);
        if (withSuccessor) {
          clock += 5;
          await rts.upsert(`${name}-new`, payload({ grantId, rotations: 1 }), 3600);
        }
        return { grantId, rts };
      }

      it('within the window, with a successor: forgiven once, successor destroyed', async () => {
        grace = 30_000;
        const { rts } = await rotated('lost', true);
        clock += 1_000;
        const found = await rts.find('lost-old');
        expect(found).toBeDefined();
        expect(found?.consumed).toBeUndefined();
        await expect(rts.consume('lost-old')).resolves.toBeUndefined();
        expect(await rts.find('lost-new')).toBeUndefined();
        expect(await new Adapter('Grant').find('g-lost')).toBeDefined();
        expect(await new Adapter('AccessToken').find('lost-at')).toBeDefined();
        // The second time it is a reuse: `consumed` is back, the engine revokes the family.
        expect((await rts.find('lost-old'))?.consumed).toEqual(expect.any(Number));
        await expect(rts.consume('lost-old')).rejects.toBeInstanceOf(errors.InvalidGrant);
      });

      it('two retries racing: exactly one is forgiven', async () => {
        grace = 30_000;
        const { rts } = await rotated('twice', true);
        clock += 1_000;
        const { fulfilled, rejected } = await race([
          rts.consume('twice-old'),
          new OtherAdapter('RefreshToken').consume('twice-old'),
        ]);
        expect(fulfilled).toHaveLength(1);
        expect(rejected[0]?.reason).toBeInstanceOf(errors.InvalidGrant);
        expect(await new Adapter('Grant').find('g-twice')).toBeDefined();
      });

      it('no successor yet (a true race): InvalidGrant, nothing revoked', async () => {
        grace = 30_000;
        const { rts } = await rotated('racing', false);
        clock += 100;
        expect((await rts.find('racing-old'))?.consumed).toBeUndefined();
        await expect(rts.consume('racing-old')).rejects.toBeInstanceOf(errors.InvalidGrant);
        expect(await new Adapter('Grant').find('g-racing')).toBeDefined();
        expect(await new Adapter('AccessToken').find('racing-at')).toBeDefined();
        expect(await rts.find('racing-old')).toBeDefined();
        // The grace was not spent: the lost-response retry still works once the rotation finishes.
        await rts.upsert('racing-new', payload({ grantId: 'g-racing' }), 3600);
        await expect(rts.consume('racing-old')).resolves.toBeUndefined();
      });

      it('successor already used: a replay, the family is revoked', async () => {
        grace = 30_000;
        const { rts } = await rotated('replayed', true);
        clock += 500;
        await rts.consume('replayed-new');
        clock += 500;
        await expect(rts.consume('replayed-old')).rejects.toBeInstanceOf(errors.InvalidGrant);
        expect(await new Adapter('Grant').find('g-replayed')).toBeUndefined();
        expect(await new Adapter('AccessToken').find('replayed-at')).toBeUndefined();
        expect(await rts.find('replayed-old')).toBeUndefined();
      });

      it('outside the window, or with grace 0, or for other models: consumed', async () => {
        grace = 30_000;
        const late = await rotated('late', true);
        clock += 30_000;
        expect((await late.rts.find('late-old'))?.consumed).toEqual(expect.any(Number));
        await expect(late.rts.consume('late-old')).rejects.toBeInstanceOf(errors.InvalidGrant);
        expect(await late.rts.find('late-new')).toBeDefined();

        grace = 0;
        const off = await rotated('off', true);
        clock += 10;
        expect((await off.rts.find('off-old'))?.consumed).toEqual(expect.any(Number));
        await expect(off.rts.consume('off-old')).rejects.toBeInstanceOf(errors.InvalidGrant);
        expect(await off.rts.find('off-new')).toBeDefined();

        grace = 30_000;
        const codes = new Adapter('AuthorizationCode');
        await codes.upsert('graceless-code', payload({ grantId: 'g-graceless' }), 60);
        await codes.consume('graceless-code');
        clock += 10;
        expect((await codes.find('graceless-code'))?.consumed).toEqual(expect.any(Number));
      });
    });
  });

  describe('sweeper', () => {
    let own: Awaited<ReturnType<typeof createTestDatabase>>;
    beforeAll(async () => {
      own = await createTestDatabase(kind);
    });
    afterAll(async () => {
      await own?.drop();
    });

    it('removes expired rows only, in small batches, from every table', async () => {
      const { db } = own.database;
      const now = 2_000_000_000_000;
      const ownRepos = createRepositories(own.database, box);
      await ownRepos.organizations.upsertFromConfig(org('sweep', []));
      const user = await ownRepos.users.create({ organizationId: 'sweep' });
      const expiries = [now - 10_000, now - 1, now, now + 1, now + 10_000];
      let expected = 0;
      for (const [i, expiresAt] of expiries.entries()) {
        const expired = expiresAt <= now;
        if (expired) expected += 5;
        await db
          .insertInto('oidc_records')
          .values({
            model: i % 2 ? 'AccessToken' : 'RefreshToken',
            id: `r${i}`,
            payload: '{}',
            grant_id: null,
            account_id: null,
            uid: null,
            user_code: null,
            expires_at: expiresAt,
            consumed_at: null,
            grace_used_at: null,
            created_at: now - 20_000,
          })
          .execute();
        await db
          .insertInto('sign_in_states')
          .values({ id: `s${i}`, data: '{}', expires_at: expiresAt })
          .execute();
        await db
          .insertInto('upstream_requests')
          .values({
            id: `u${i}`,
            connection_id: 'c',
            interaction_uid: 'i',
            data: '{}',
            expires_at: expiresAt,
            consumed_at: null,
          })
          .execute();
        await db
          .insertInto('replay_cache')
          .values({ key: `k${i}`, expires_at: expiresAt })
          .execute();
        await db
          .insertInto('action_tokens')
          .values({
            token_hash: `t${i}`,
            kind: 'password_reset',
            user_id: user.id,
            expires_at: expiresAt,
            used_at: null,
            created_at: now - 20_000,
          })
          .execute();
      }
      // A record without expiry is never swept.
      await db
        .insertInto('oidc_records')
        .values({
          model: 'Grant',
          id: 'forever',
          payload: '{}',
          grant_id: null,
          account_id: null,
          uid: null,
          user_code: null,
          expires_at: null,
          consumed_at: null,
          grace_used_at: null,
          created_at: now,
        })
        .execute();

      const warnings: unknown[] = [];
      const sweeper = startSweeper(own.database, {
        intervalMs: 3_600_000,
        batchSize: 2,
        now: () => now,
        logger: { warn: (obj) => warnings.push(obj) },
      });
      try {
        expect(await sweeper.sweepOnce()).toBe(expected);
        expect(await sweeper.sweepOnce()).toBe(0);
      } finally {
        await sweeper.stop();
      }
      expect(warnings).toEqual([]);
      const left = async (table: 'sign_in_states' | 'upstream_requests' | 'replay_cache' | 'action_tokens') =>
        (await db.selectFrom(table).select('expires_at').execute()).map((r) => r.expires_at).sort();
      for (const table of ['sign_in_states', 'upstream_requests', 'replay_cache', 'action_tokens'] as const)
        expect(await left(table)).toEqual([now + 1, now + 10_000]);
      const records = await db.selectFrom('oidc_records').select('id').orderBy('id').execute();
      expect(records.map((r) => r.id)).toEqual(['forever', 'r3', 'r4']);
    });

    it('logs errors instead of throwing them', async () => {
      const broken = await createTestDatabase(kind);
      await broken.database.close();
      const warnings: unknown[] = [];
      const sweeper = startSweeper(broken.database, {
        intervalMs: 3_600_000,
        batchSize: 10,
        logger: { warn: (obj) => warnings.push(obj) },
      });
      await expect(sweeper.sweepOnce()).resolves.toBe(0);
      await sweeper.stop();
      expect(warnings.length).toBeGreaterThan(0);
      await broken.drop().catch(() => {});
    });
  });
});

describe('openDatabase', () => {
  it('refuses unsupported URLs with a clear error', async () => {
    await expect(openDatabase('mysql://root@localhost/db')).rejects.toBeInstanceOf(DatabaseUrlError);
    await expect(openDatabase('mysql://root:hunter2@localhost/db')).rejects.toThrow(
      /"mysql:".*sqlite:<path>/,
    );
    await expect(openDatabase('mysql://root:hunter2@localhost/db')).rejects.not.toThrow(/hunter2/);
    await expect(openDatabase('./data/latchkey.db')).rejects.toBeInstanceOf(DatabaseUrlError);
    await expect(openDatabase('sqlite:')).rejects.toBeInstanceOf(DatabaseUrlError);
  });

  it.runIf(testDatabaseKinds().includes('postgres'))(
    'PostgreSQL: server settings in the URL (options=-c …) reach every connection, as README documents',
    async () => {
      const target = await createTestDatabaseUrl('postgres');
      const url = new URL(target.url);
      url.searchParams.set('options', '-c synchronous_commit=off');
      const database = await openDatabase(url.href, { poolSize: 2 });
      try {
        const shown = await Promise.all(
          [1, 2].map(() => sql<{ synchronous_commit: string }>`show synchronous_commit`.execute(database.db)),
        );
        expect(shown.map((r) => r.rows[0]?.synchronous_commit)).toEqual(['off', 'off']);
      } finally {
        await database.close();
        await target.drop();
      }
    },
  );

  it.runIf(testDatabaseKinds().includes('postgres'))(
    'PostgreSQL: data statements stay prepared per connection and survive a schema change under them',
    async () => {
      const target = await createTestDatabaseUrl('postgres');
      const other = new pg.Client({ connectionString: target.url });
      const database = await openDatabase(target.url, { poolSize: 1 });
      try {
        await other.connect();
        await other.query('create table widgets (id integer primary key)');
        await other.query('insert into widgets values (1)');
        const select = () =>
          sql<Record<string, unknown>>`select * from widgets where id = ${1}`.execute(database.db);
        expect((await select()).rows).toEqual([{ id: 1 }]);
        const prepared = await sql<{
          n: number;
        }>`select count(*)::int as n from pg_prepared_statements where statement like 'select * from widgets%'`.execute(
          database.db,
        );
        expect(prepared.rows[0]?.n).toBe(1);
        // Another process migrates: the prepared plan's result type changes under this connection.
        await other.query("alter table widgets add column label text not null default 'w'");
        expect((await select()).rows).toEqual([{ id: 1, label: 'w' }]);
        expect((await select()).rows).toEqual([{ id: 1, label: 'w' }]);
        // DDL and transaction control are never kept prepared.
        await sql`create table gadgets (id integer)`.execute(database.db);
        const ddl = await sql<{
          n: number;
        }>`select count(*)::int as n from pg_prepared_statements where statement like 'create%'`.execute(
          database.db,
        );
        expect(ddl.rows[0]?.n).toBe(0);
      } finally {
        await database.close();
        await other.end();
        await target.drop();
      }
    },
  );

  it('creates the folder of a SQLite file and turns on WAL and foreign keys', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'latchkey-open-'));
    try {
      const database = await openDatabase(`sqlite:${path.join(dir, 'nested', 'deeper', 'x.db')}`);
      try {
        const { sql } = await import('kysely');
        const journal = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(database.db);
        expect(journal.rows[0]?.journal_mode).toBe('wal');
        const fk = await sql<{ foreign_keys: number }>`pragma foreign_keys`.execute(database.db);
        expect(fk.rows[0]?.foreign_keys).toBe(1);
        const busy = await sql<{ timeout: number }>`pragma busy_timeout`.execute(database.db);
        expect(busy.rows[0]?.timeout).toBe(5000);
      } finally {
        await database.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
