import { errors } from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrganizationConfig } from '../config/types.js';
import { SecretBox } from '../crypto/secret-box.js';
import { createTestDatabase, testDatabaseKinds } from '../test-support/databases.js';
import type { Database } from './database.js';
import { migrateToLatest, migrationStatus } from './migrate.js';
import { createOidcAdapter, revokeAllForAccount } from './oidc-adapter.js';
import { createRepositories, type Repositories, verifyOperatorSecret } from './repositories.js';
import { startSweeper } from './sweeper.js';

const SECRET = 'conformance-secret-0123456789-abcdefghijklmnop';

const policy = {
  require2sv: false,
  allowedClients: [],
  jitProvisioning: true,
  refreshIdleTtl: 100,
  refreshAbsoluteTtl: 1000,
  maxUpstreamAge: 1000,
  upstreamRevalidateInterval: 10,
};

const org = (id: string, domains: string[]): OrganizationConfig => ({
  id,
  name: id.toUpperCase(),
  domains,
  connection: {
    type: 'google',
    clientId: 'cid',
    clientSecret: 'google-secret-value',
    issuer: 'https://accounts.google.com',
  },
  policy,
});

/**
 * One suite, every backend (STYLE.md: Dex's storage conformance): the same cases run against SQLite
 * and PostgreSQL. `LATCHKEY_TEST_DATABASES=sqlite` narrows.
 */
describe.each(testDatabaseKinds())('storage conformance on %s', (kind) => {
  let database: Database;
  let drop: () => Promise<void>;
  let repos: Repositories;
  const box = SecretBox.fromSecret(SECRET);

  beforeAll(async () => {
    const created = await createTestDatabase(kind);
    database = created.database;
    drop = created.drop;
    repos = createRepositories(database, box);
  });
  afterAll(async () => {
    await drop?.();
  });

  it('migrations are idempotent and report their status', async () => {
    expect(await migrateToLatest(database)).toEqual([]);
    const status = await migrationStatus(database);
    expect(status.map((s) => s.name)).toContain('0001-initial');
    expect(status.every((s) => s.appliedAt instanceof Date)).toBe(true);
  });

  it('a wrong operator secret is a clear error, not garbage', async () => {
    await verifyOperatorSecret(database, box);
    await verifyOperatorSecret(database, box);
    await expect(
      verifyOperatorSecret(database, SecretBox.fromSecret('another-secret-0123456789-abcdefghijklm')),
    ).rejects.toThrow(/LATCHKEY_SECRET does not match/);
  });

  it('organizations: a domain belongs to one organization; connection secrets are encrypted at rest', async () => {
    await repos.organizations.upsertFromConfig(org('acme', ['acme.test', 'ACME.example']));
    await repos.organizations.upsertFromConfig(org('acme', ['acme.test', 'acme.example'])); // idempotent
    await expect(repos.organizations.upsertFromConfig(org('other', ['acme.test']))).rejects.toThrow(
      /already belongs/,
    );
    const [acme] = await repos.organizations.listWithDetails();
    expect(acme?.domains.sort()).toEqual(['acme.example', 'acme.test']);
    expect(acme?.connection?.secrets.clientSecret).toBe('google-secret-value');
    const row = await database.db
      .selectFrom('connections')
      .selectAll()
      .where('organization_id', '=', 'acme')
      .executeTakeFirstOrThrow();
    expect(row.secrets).not.toContain('google-secret-value');
    expect(row.settings).not.toContain('google-secret-value');
  });

  it('users: emails are unique case-insensitively; identities are keyed by (connection, subject)', async () => {
    const alice = await repos.users.create({
      organizationId: 'acme',
      email: 'Alice@Acme.test',
      name: 'Alice',
    });
    await expect(repos.users.create({ organizationId: 'acme', email: 'alice@acme.test' })).rejects.toThrow(
      /already exists/,
    );
    expect((await repos.users.findByEmail('ALICE@acme.test'))?.id).toBe(alice.id);
    await repos.users.linkIdentity({
      userId: alice.id,
      connectionId: 'acme-google',
      subject: 'g-1',
      email: 'alice@acme.test',
      profile: { groups: ['eng'] },
    });
    await expect(
      repos.users.linkIdentity({
        userId: alice.id,
        connectionId: 'acme-google',
        subject: 'g-1',
        profile: {},
      }),
    ).rejects.toThrow();
    expect((await repos.users.findIdentity('acme-google', 'g-1'))?.userId).toBe(alice.id);
    expect(await repos.users.findIdentity('acme-google', 'alice@acme.test')).toBeUndefined();
    expect(await repos.users.groupsOf(alice.id)).toEqual(['eng']);
    expect(await repos.users.setStatus(alice.id, 'disabled')).toBe(true);
    expect((await repos.users.findById(alice.id))?.status).toBe('disabled');
  });

  it('credentials: TOTP secrets are encrypted and a time step is accepted once, even concurrently', async () => {
    const user = await repos.users.create({ organizationId: 'acme', email: 'totp@acme.test' });
    await repos.credentials.setTotp(user.id, 'JBSWY3DPEHPK3PXP');
    const row = await database.db
      .selectFrom('credentials')
      .selectAll()
      .where('user_id', '=', user.id)
      .executeTakeFirstOrThrow();
    expect(row.secret).not.toContain('JBSWY3DPEHPK3PXP');
    const totp = await repos.credentials.totp(user.id);
    expect(totp?.secret).toBe('JBSWY3DPEHPK3PXP');
    const results = await Promise.all([
      repos.credentials.acceptTotpStep(totp!.id, null, 100),
      repos.credentials.acceptTotpStep(totp!.id, null, 100),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await repos.credentials.totp(user.id))?.lastStep).toBe(100);
  });

  it('credentials: passkeys are unique by credential id; recovery codes are single use', async () => {
    const user = await repos.users.create({ organizationId: 'acme', email: 'keys@acme.test' });
    await repos.credentials.addPasskey(user.id, 'cred-1', { counter: 0 });
    await expect(repos.credentials.addPasskey(user.id, 'cred-1', { counter: 0 })).rejects.toThrow();
    expect((await repos.credentials.findPasskey('cred-1'))?.userId).toBe(user.id);
    await repos.credentials.replaceRecoveryCodes(user.id, ['h1', 'h2']);
    const [code] = await repos.credentials.unusedRecoveryCodes(user.id);
    const uses = await Promise.all([
      repos.credentials.useRecoveryCode(code!.id),
      repos.credentials.useRecoveryCode(code!.id),
    ]);
    expect(uses.filter(Boolean)).toHaveLength(1);
    expect((await repos.credentials.methodsOf(user.id)).recoveryCodes).toBe(1);
  });

  it('clients: secrets are encrypted at rest and read back', async () => {
    await repos.clients.upsertFromConfig({
      id: 'web-app',
      name: 'Web',
      kind: 'web',
      redirectUris: ['https://app.acme.test/cb'],
      postLogoutRedirectUris: [],
      deviceFlow: false,
      tokenEndpointAuthMethod: 'client_secret_basic',
      secret: 'super-secret-client-value',
      idTokenSignedResponseAlg: 'ES256',
    });
    const row = await database.db
      .selectFrom('clients')
      .selectAll()
      .where('id', '=', 'web-app')
      .executeTakeFirstOrThrow();
    expect(`${row.secret}${row.metadata}`).not.toContain('super-secret-client-value');
    expect((await repos.clients.find('web-app'))?.secret).toBe('super-secret-client-value');
    expect(await repos.clients.remove('web-app')).toBe(true);
    expect(await repos.clients.find('web-app')).toBeUndefined();
  });

  it('audit events are appended and filtered by user and time', async () => {
    const start = Date.now();
    await repos.audit.append({ action: 'sign_in', outcome: 'success', userId: 'u-1', ip: '127.0.0.1' });
    await repos.audit.append({ action: 'password', outcome: 'failure', userId: 'u-2' });
    expect((await repos.audit.query({ userId: 'u-1' })).map((e) => e.action)).toEqual(['sign_in']);
    expect((await repos.audit.query({ since: start })).length).toBe(2);
    expect((await repos.audit.query({ since: Date.now() + 60_000 })).length).toBe(0);
  });

  it('upstream requests and the replay cache are consumed once under concurrency', async () => {
    await repos.upstreamRequests.create({
      id: 'state-1',
      connectionId: 'c',
      interactionUid: 'uid',
      data: { nonce: 'n' },
      expiresAt: Date.now() + 60_000,
    });
    const consumed = await Promise.all([
      repos.upstreamRequests.consume('state-1'),
      repos.upstreamRequests.consume('state-1'),
    ]);
    expect(consumed.filter(Boolean)).toHaveLength(1);
    expect(consumed.find(Boolean)?.data).toEqual({ nonce: 'n' });
    const remembered = await Promise.all([
      repos.replayCache.remember('assertion-1', Date.now() + 60_000),
      repos.replayCache.remember('assertion-1', Date.now() + 60_000),
    ]);
    expect(remembered.filter(Boolean)).toHaveLength(1);
  });

  describe('engine adapter', () => {
    let now = Date.now();
    let grace = 30_000;
    const Adapter = () => createOidcAdapter(database, { refreshReuseGraceMs: () => grace, now: () => now });

    it('stores, finds, expires, and finds by uid and user code', async () => {
      const A = Adapter();
      const sessions = new A('Session');
      await sessions.upsert('s1', { uid: 'u-1', accountId: 'acct-1' }, 60);
      expect(await sessions.find('s1')).toEqual({ uid: 'u-1', accountId: 'acct-1' });
      expect(await sessions.findByUid('u-1')).toEqual({ uid: 'u-1', accountId: 'acct-1' });
      const device = new A('DeviceCode');
      await device.upsert('d1', { userCode: 'ABCD-EFGH' }, 60);
      expect(await device.findByUserCode('ABCD-EFGH')).toEqual({ userCode: 'ABCD-EFGH' });
      await sessions.upsert('s-old', { accountId: 'acct-1' }, 1);
      now += 2_000;
      expect(await sessions.find('s-old')).toBeUndefined();
      await sessions.destroy('s1');
      expect(await sessions.find('s1')).toBeUndefined();
    });

    it('two simultaneous consumes of one code: exactly one wins, the other gets InvalidGrant', async () => {
      const codes = new (Adapter())('AuthorizationCode');
      await codes.upsert('c1', { grantId: 'g1', accountId: 'acct-2' }, 60);
      const results = await Promise.allSettled([codes.consume('c1'), codes.consume('c1')]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(rejected.reason).toBeInstanceOf(errors.InvalidGrant);
      expect((await codes.find('c1'))?.consumed).toBeTypeOf('number');
    });

    it('refresh reuse grace: forgiven once after the rotation completed, never during a race', async () => {
      const tokens = new (Adapter())('RefreshToken');
      await tokens.upsert('rt1', { grantId: 'g2', accountId: 'acct-3' }, 600);
      await tokens.consume('rt1');
      // A true race: the first rotation has not stored its successor yet.
      await expect(tokens.consume('rt1')).rejects.toBeInstanceOf(errors.InvalidGrant);
      expect((await tokens.find('rt1'))?.consumed).toBeUndefined(); // still forgivable, nothing revoked
      now += 5;
      await tokens.upsert('rt2', { grantId: 'g2', accountId: 'acct-3' }, 600); // the successor
      now += 5;
      await tokens.consume('rt1'); // the client that lost the response retries: forgiven
      expect(await tokens.find('rt2')).toBeUndefined(); // the lost successor is dead
      expect((await tokens.find('rt1'))?.consumed).toBeTypeOf('number'); // grace used: next time it is reuse
      await expect(tokens.consume('rt1')).rejects.toBeInstanceOf(errors.InvalidGrant);
    });

    it('refresh reuse outside the window (or with grace 0) shows `consumed`, so the engine revokes the family', async () => {
      const tokens = new (Adapter())('RefreshToken');
      await tokens.upsert('rt3', { grantId: 'g3' }, 600);
      await tokens.consume('rt3');
      now += 31_000;
      expect((await tokens.find('rt3'))?.consumed).toBeTypeOf('number');
      grace = 0;
      await tokens.upsert('rt4', { grantId: 'g4' }, 600);
      await tokens.consume('rt4');
      expect((await tokens.find('rt4'))?.consumed).toBeTypeOf('number');
      grace = 30_000;
    });

    it('revokeByGrantId and revoke-everything-for-a-user are one statement each', async () => {
      const A = Adapter();
      await new A('Grant').upsert('g9', { accountId: 'acct-9' }, 600);
      await new A('RefreshToken').upsert('rt9', { grantId: 'g9', accountId: 'acct-9' }, 600);
      await new A('Session').upsert('s9', { accountId: 'acct-9' }, 600);
      await new A('AccessToken').upsert('at9', { grantId: 'g8', accountId: 'acct-9' }, 600);
      await new A('RefreshToken').revokeByGrantId('g9');
      expect(await new A('RefreshToken').find('rt9')).toBeUndefined();
      expect(await new A('Grant').find('g9')).toBeUndefined();
      expect(await new A('Session').find('s9')).toBeDefined();
      expect(await revokeAllForAccount(database, 'acct-9')).toBe(2);
      expect(await new A('Session').find('s9')).toBeUndefined();
    });
  });

  it('the sweeper removes expired rows only', async () => {
    const A = createOidcAdapter(database, { refreshReuseGraceMs: () => 0, now: () => Date.now() - 10_000 });
    await new A('Interaction').upsert('expired-1', {}, 1);
    await new A('Interaction').upsert('live-1', {}, 3600);
    await repos.signInStates.put('st-old', {}, Date.now() - 1);
    await repos.signInStates.put('st-new', {}, Date.now() + 60_000);
    const sweeper = startSweeper(database, { intervalMs: 3_600_000, batchSize: 1 });
    const removed = await sweeper.sweepOnce();
    await sweeper.stop();
    expect(removed).toBeGreaterThanOrEqual(2);
    const left = await database.db
      .selectFrom('oidc_records')
      .select('id')
      .where('model', '=', 'Interaction')
      .execute();
    expect(left.map((r) => r.id)).toEqual(['live-1']);
    expect(await repos.signInStates.get('st-new')).toEqual({});
  });
});
