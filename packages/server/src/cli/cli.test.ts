import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabaseUrl, testDatabaseKinds } from '../test-support/databases.js';
import { freePort, startTestServer, TEST_SECRET, type TestServer } from '../test-support/server.js';
import { baseEnv, buildServer, latchkey, startLatchkey } from './test-support/run-latchkey.js';

const directories: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'latchkey-cli-'));
  directories.push(dir);
  return dir;
}

const NO_STACK = /^\s+at /m;

beforeAll(async () => {
  await buildServer();
}, 240_000);

afterAll(async () => {
  for (const dir of directories) await rm(dir, { recursive: true, force: true });
});

describe('latchkey serve', () => {
  it('starts with zero configuration in an empty folder, answers /healthz and /readyz, stops on SIGTERM', async () => {
    const cwd = await tempDir();
    const port = await freePort();
    const server = startLatchkey(['serve'], { cwd, env: baseEnv({ LATCHKEY_PORT: String(port) }) });
    try {
      await server.waitFor(/Latchkey is listening on http:\/\/127\.0\.0\.1:\d+/);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(200);
      // The default database and the generated development key file sit in ./data.
      expect(existsSync(path.join(cwd, 'data', 'latchkey.db'))).toBe(true);
    } finally {
      server.child.kill('SIGTERM');
    }
    expect(await server.exited).toBe(0);
    expect(server.output()).toMatch(/stopping: finishing in-flight requests/);
  });

  it('refuses a bad configuration with exit code 2 and a message naming the key, without a stack trace', async () => {
    const cwd = await tempDir();
    await writeFile(
      path.join(cwd, 'latchkey.yaml'),
      'clients:\n  - id: app\n    redirect_uris: [http://localhost/callback]\n',
    );
    const result = await latchkey(['serve', '--config', 'latchkey.yaml'], { cwd, env: baseEnv() });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/clients\[0\]\.redirect_uris\[0\]: .*localhost/);
    const unknownKey = path.join(cwd, 'other.yaml');
    await writeFile(unknownKey, 'bogus_setting: 1\n');
    const second = await latchkey(['serve'], { cwd, env: baseEnv({ LATCHKEY_CONFIG: unknownKey }) });
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(/bogus_setting: unknown key/);
    expect(result.stderr).not.toMatch(NO_STACK);
  });

  it('names an unknown command or flag with exit code 2', async () => {
    const cwd = await tempDir();
    const unknown = await latchkey(['frobnicate'], { cwd, env: baseEnv() });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/);
    const flag = await latchkey(['admin', 'users', 'list', '--frob', '--database', `sqlite:${cwd}/x.db`], {
      cwd,
      env: baseEnv({ LATCHKEY_SECRET: TEST_SECRET }),
    });
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/unknown flag --frob/);
  });

  it('refuses admin commands without a configuration or an explicit database (no stray ./data/latchkey.db)', async () => {
    const cwd = await tempDir();
    const result = await latchkey(['admin', 'users', 'list'], {
      cwd,
      env: baseEnv({ LATCHKEY_SECRET: TEST_SECRET }),
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/which server\? give its configuration with --config FILE/);
    expect(existsSync(path.join(cwd, 'data'))).toBe(false);
    const explicit = await latchkey(
      ['admin', 'users', 'list', '--database', `sqlite:${path.join(cwd, 'x.db')}`],
      {
        cwd,
        env: baseEnv({ LATCHKEY_SECRET: TEST_SECRET }),
      },
    );
    expect(explicit.code, explicit.stderr).toBe(0);
    expect(existsSync(path.join(cwd, 'x.db'))).toBe(true);
  });

  it('reports every configuration problem in one pass, with "did you mean" for unknown keys', async () => {
    const cwd = await tempDir();
    await writeFile(
      path.join(cwd, 'latchkey.yaml'),
      'log_levl: debug\nclients:\n  - { id: app, redirect_uris: [http://localhost/cb] }\n  - { id: app, redirect_uris: [com.acme.app:/cb] }\n',
    );
    const result = await latchkey(['serve', '--config', 'latchkey.yaml'], { cwd, env: baseEnv() });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/log_levl: unknown key \(did you mean "log_level"\?\)/);
    // The cross-field problems of the clients, in the same run.
    expect(result.stderr).toMatch(/clients\[1\]\.id: duplicate/);
    expect(result.stderr).toMatch(/clients\[0\]\.redirect_uris\[0\]/);
  });
});

describe('latchkey migrate and admin on SQLite (no server running)', () => {
  let cwd: string;
  let env: Record<string, string>;
  const run = (args: string[], input?: string) => latchkey(args, { cwd, env, input });

  beforeAll(async () => {
    cwd = await tempDir();
    env = baseEnv({
      LATCHKEY_DATABASE_URL: `sqlite:${path.join(cwd, 'admin.db')}`,
      LATCHKEY_SECRET: TEST_SECRET,
      LOGNAME: 'ann',
    });
  });

  it('migrate --status lists pending migrations, migrate applies them', async () => {
    const before = await run(['migrate', '--status', '--json']);
    expect(before.code).toBe(0);
    const pending = JSON.parse(before.stdout) as { name: string; appliedAt: number | null }[];
    expect(pending.length).toBeGreaterThan(0);
    expect(pending.every((m) => m.appliedAt === null)).toBe(true);

    const applied = await run(['migrate']);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toMatch(/Applied 0001-initial/);

    const after = await run(['migrate', '--status']);
    expect(after.stdout).toMatch(/0001-initial\s+\d{4}-\d\d-\d\dT/);
    expect(after.stdout).not.toMatch(/pending/);
  });

  it('clients add / list / remove, refusing a localhost redirect', async () => {
    const refused = await run([
      'admin',
      'clients',
      'add',
      '--id',
      'bad',
      '--name',
      'Bad',
      '--redirect-uri',
      'http://localhost:8080/cb',
    ]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--redirect-uri http:\/\/localhost:8080\/cb: use http:\/\/127\.0\.0\.1/);

    const missing = await run([
      'admin',
      'clients',
      'add',
      '--name',
      'No id',
      '--redirect-uri',
      'com.acme.x:/cb',
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--id is required/);

    const added = await run([
      'admin',
      'clients',
      'add',
      '--id',
      'notes',
      '--name',
      'Acme Notes',
      '--redirect-uri',
      'com.acme.notes:/oauth2redirect',
      '--redirect-uri',
      'http://127.0.0.1/callback',
      '--device-flow',
      '--json',
    ]);
    expect(added.code).toBe(0);
    // OpenID Connect's default algorithm unless the app says otherwise.
    // A new public client is DPoP-bound unless told otherwise (docs/dpop.md).
    expect(JSON.parse(added.stdout)).toMatchObject({
      id: 'notes',
      kind: 'native',
      deviceFlow: true,
      idTokenSignedResponseAlg: 'RS256',
      dpop: 'required',
    });
    const es256 = await run([
      'admin',
      'clients',
      'add',
      '--id',
      'notes-sdk',
      '--redirect-uri',
      'com.acme.notes:/oauth2redirect',
      '--id-token-alg',
      'ES256',
      '--json',
    ]);
    expect(es256.code, es256.stderr).toBe(0);
    expect(JSON.parse(es256.stdout)).toMatchObject({ id: 'notes-sdk', idTokenSignedResponseAlg: 'ES256' });
    const badAlg = await run([
      'admin',
      'clients',
      'add',
      '--id',
      'notes-x',
      '--redirect-uri',
      'com.acme.notes:/oauth2redirect',
      '--id-token-alg',
      'HS256',
    ]);
    expect(badAlg.code).toBe(2);
    expect(badAlg.stderr).toMatch(/--id-token-alg must be RS256 or ES256/);
    const badDpop = await run([
      'admin',
      'clients',
      'add',
      '--id',
      'legacy',
      '--redirect-uri',
      'com.acme.legacy:/cb',
      '--dpop',
      'maybe',
    ]);
    expect(badDpop.code).toBe(2);
    expect(badDpop.stderr).toMatch(/--dpop must be required or optional/);
    const optional = await run([
      'admin',
      'clients',
      'add',
      '--id',
      'legacy',
      '--redirect-uri',
      'com.acme.legacy:/cb',
      '--dpop',
      'optional',
      '--json',
    ]);
    expect(JSON.parse(optional.stdout)).toMatchObject({ id: 'legacy', dpop: 'optional' });
    expect((await run(['admin', 'clients', 'remove', '--id', 'legacy'])).code).toBe(0);

    const again = await run([
      'admin',
      'clients',
      'add',
      '--id',
      'notes',
      '--redirect-uri',
      'com.acme.notes:/x',
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists/);

    const list = await run(['admin', 'clients', 'list']);
    expect(list.stdout).toMatch(/^ID\s+NAME\s+KIND/m);
    expect(list.stdout).toMatch(
      /notes\s+Acme Notes\s+native\s+yes\s+admin\s+com\.acme\.notes:\/oauth2redirect/,
    );

    expect((await run(['admin', 'clients', 'remove', '--id', 'notes'])).code).toBe(0);
    expect((await run(['admin', 'clients', 'remove', '--id', 'notes-sdk'])).code).toBe(0);
    const gone = JSON.parse((await run(['admin', 'clients', 'list', '--json'])).stdout) as unknown[];
    expect(gone).toEqual([]);
    const unknown = await run(['admin', 'clients', 'remove', '--id', 'notes']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no client with id notes/);
  });

  it('orgs add, users add (password on stdin) / list --json / disable / enable / set-password / reset-link', async () => {
    const org = await run([
      'admin',
      'orgs',
      'add',
      '--id',
      'beta',
      '--name',
      'Beta LLC',
      '--domain',
      'beta.test',
    ]);
    expect(org.code).toBe(0);

    const added = await run(
      ['admin', 'users', 'add', '--email', 'dave@beta.test', '--name', 'Dave'],
      'a long password\n',
    );
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(/Added user dave@beta\.test to beta/);

    const short = await run(['admin', 'users', 'add', '--email', 'erin@beta.test'], 'short\n');
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/at least 8 characters/);
    const noPassword = await run(['admin', 'users', 'add', '--email', 'erin@beta.test']);
    expect(noPassword.code).toBe(2);
    expect(noPassword.stderr).toMatch(/no password on stdin/);
    const noOrg = await run(['admin', 'users', 'add', '--email', 'x@nowhere.test', '--no-password']);
    expect(noOrg.code).toBe(1);
    expect(noOrg.stderr).toMatch(/no organization owns the domain nowhere\.test/);

    const list = JSON.parse((await run(['admin', 'users', 'list', '--json'])).stdout) as {
      email: string;
      status: string;
      organizationId: string;
    }[];
    expect(list).toEqual([
      expect.objectContaining({ email: 'dave@beta.test', status: 'active', organizationId: 'beta' }),
    ]);

    const disabled = await run(['admin', 'users', 'disable', '--user', 'dave@beta.test', '--json']);
    expect(disabled.code).toBe(0);
    expect(JSON.parse(disabled.stdout)).toMatchObject({ user: { status: 'disabled' }, revoked: 0 });
    const twice = await run(['admin', 'users', 'disable', '--user', 'dave@beta.test']);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/dave@beta\.test is already disabled/);
    const nope = await run(['admin', 'users', 'list', '--org', 'nope']);
    expect(nope.code).toBe(1);
    expect(nope.stderr).toMatch(/--org: no organization nope/);
    expect((await run(['admin', 'users', 'list'])).stdout).toMatch(
      /dave@beta\.test\s+Dave\s+beta\s+disabled/,
    );
    expect((await run(['admin', 'users', 'enable', '--user', 'dave@beta.test'])).code).toBe(0);
    expect((await run(['admin', 'users', 'list'])).stdout).toMatch(/dave@beta\.test\s+Dave\s+beta\s+active/);

    const unknown = await run(['admin', 'users', 'disable', '--user', 'nobody@beta.test']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no user nobody@beta\.test/);

    expect(
      (await run(['admin', 'users', 'set-password', '--user', 'dave@beta.test'], 'another long one\n')).code,
    ).toBe(0);
    expect((await run(['admin', 'users', 'reset-2sv', '--user', 'dave@beta.test'])).code).toBe(0);
    expect(
      (await run(['admin', 'users', 'clear-throttle', '--user', 'dave@beta.test', '--ip', '10.0.0.1'])).code,
    ).toBe(0);

    const link = await run(['admin', 'users', 'reset-link', '--user', 'dave@beta.test']);
    expect(link.code).toBe(0);
    expect(link.stdout).toMatch(/^http:\/\/127\.0\.0\.1:4000\/reset\/[\w-]{40,}$/m);
  }, 120_000);

  it('audit lists what the commands did, filtered by user and time', async () => {
    const all = await run(['admin', 'audit', '--json', '--limit', '100']);
    expect(all.code).toBe(0);
    const events = JSON.parse(all.stdout) as { action: string; actor: string }[];
    const actions = events.map((e) => e.action);
    for (const action of [
      'client_added',
      'client_removed',
      'organization_added',
      'user_added',
      'user_disabled',
      'user_enabled',
      'password_set',
      '2sv_reset',
      'throttle_cleared',
      'password_reset_link',
    ]) {
      expect(actions).toContain(action);
    }
    // The operator who ran the commands (their OS account), not "cli".
    expect(events.every((e) => e.actor === 'os:ann')).toBe(true);
    const nonsense = await run(['admin', 'audit', '--action', 'user_disabeld']);
    expect(nonsense.code).toBe(2);
    expect(nonsense.stderr).toMatch(
      /--action: no audit action "user_disabeld" \(did you mean "user_disabled"\?\)/,
    );

    const dave = await run(['admin', 'audit', '--user', 'dave@beta.test', '--since', '1h']);
    expect(dave.stdout).toMatch(/^TIME\s+ACTION/m);
    expect(dave.stdout).toMatch(/user_disabled\s+success\s+os:ann\s+dave@beta\.test/);
    expect(dave.stdout).not.toMatch(/client_added/);

    const future = JSON.parse((await run(['admin', 'audit', '--since', '2999-01-01', '--json'])).stdout);
    expect(future).toEqual([]);
    const bad = await run(['admin', 'audit', '--since', 'yesterday']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--since: expected a duration/);
  }, 120_000);

  it('refuses password, reset-link and 2-step operations for people of a federated organization', async () => {
    expect(
      (await run(['admin', 'orgs', 'add', '--id', 'fed', '--name', 'Fed Inc', '--domain', 'fed.test'])).code,
    ).toBe(0);
    const google = await run(
      [
        'admin',
        'connections',
        'set',
        '--org',
        'fed',
        '--type',
        'google',
        '--client-id',
        'g-id',
        '--client-secret-stdin',
      ],
      'g-secret\n',
    );
    expect(google.code, google.stderr).toBe(0);
    const withPassword = await run(['admin', 'users', 'add', '--email', 'gil@fed.test'], 'a long password\n');
    expect(withPassword.code).toBe(1);
    expect(withPassword.stderr).toMatch(
      /gil@fed\.test signs in through Google \(organization fed\): the password is managed at that identity provider/,
    );
    expect((await run(['admin', 'users', 'add', '--email', 'gil@fed.test', '--no-password'])).code).toBe(0);
    for (const [command, input] of [
      ['reset-link', undefined],
      ['reset-2sv', undefined],
      ['set-password', 'a long password\n'],
    ] as const) {
      const refused = await run(['admin', 'users', command, '--user', 'gil@fed.test'], input);
      expect(refused.code, command).toBe(1);
      expect(refused.stderr, command).toMatch(/signs in through Google/);
    }
  }, 120_000);

  it('admins grant, list and revoke, audited with the operator', async () => {
    const granted = await run([
      'admin',
      'admins',
      'grant',
      '--user',
      'dave@beta.test',
      '--organization',
      'beta',
    ]);
    expect(granted.code, granted.stderr).toBe(0);
    expect(granted.stdout).toMatch(/dave@beta\.test is now an administrator of beta/);
    const again = await run([
      'admin',
      'admins',
      'grant',
      '--user',
      'dave@beta.test',
      '--organization',
      'beta',
    ]);
    expect(again.code).toBe(1);
    const unknownOrg = await run([
      'admin',
      'admins',
      'grant',
      '--user',
      'dave@beta.test',
      '--organization',
      'nope',
    ]);
    expect(unknownOrg.stderr).toMatch(/no organization nope/);
    const list = JSON.parse((await run(['admin', 'admins', 'list', '--json'])).stdout);
    expect(list).toEqual([
      expect.objectContaining({
        email: 'dave@beta.test',
        organizationId: 'beta',
        role: 'organization_admin',
        grantedBy: 'os:ann',
      }),
    ]);
    expect(
      (await run(['admin', 'admins', 'revoke', '--user', 'dave@beta.test', '--organization', 'beta'])).code,
    ).toBe(0);
    expect((await run(['admin', 'admins', 'list'])).stdout).toBe('(none)\n');
    const audit = JSON.parse((await run(['admin', 'audit', '--action', 'admin_granted', '--json'])).stdout);
    expect(audit[0]).toMatchObject({ actor: 'os:ann', userEmail: 'dave@beta.test' });
  }, 120_000);

  it('orgs, domains and connections', async () => {
    const added = await run([
      'admin',
      'domains',
      'add',
      '--org',
      'beta',
      '--domain',
      'beta.example',
      '--verify',
    ]);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toMatch(/latchkey-verification=[\w-]+/);
    const domains = JSON.parse((await run(['admin', 'domains', 'list', '--json'])).stdout);
    expect(domains).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ domain: 'beta.example', verified: false }),
        expect.objectContaining({ domain: 'beta.test', verified: true }),
      ]),
    );
    const claimed = await run([
      'admin',
      'orgs',
      'add',
      '--id',
      'other',
      '--name',
      'Other',
      '--domain',
      'beta.test',
    ]);
    expect(claimed.code).toBe(1);
    expect(claimed.stderr).toMatch(/already belongs to organization beta/);

    const noIssuer = await run([
      'admin',
      'connections',
      'set',
      '--org',
      'beta',
      '--type',
      'oidc',
      '--client-id',
      'x',
    ]);
    expect(noIssuer.code).toBe(2);
    expect(noIssuer.stderr).toMatch(/--issuer is required/);
    const google = await run(
      [
        'admin',
        'connections',
        'set',
        '--org',
        'beta',
        '--type',
        'google',
        '--client-id',
        'gid',
        '--client-secret-stdin',
      ],
      'google-secret\n',
    );
    expect(google.code).toBe(0);
    expect(google.stdout).not.toMatch(/google-secret/);
    const orgs = JSON.parse((await run(['admin', 'orgs', 'list', '--json'])).stdout);
    expect(orgs).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: 'beta', connection: 'google', source: 'admin' }),
      ]),
    );

    const inUse = await run(['admin', 'orgs', 'remove', '--id', 'beta']);
    expect(inUse.code).toBe(1);
    expect(inUse.stderr).toMatch(/still has users/);
    expect((await run(['admin', 'orgs', 'add', '--id', 'gamma', '--name', 'Gamma'])).code).toBe(0);
    expect((await run(['admin', 'orgs', 'remove', '--id', 'gamma'])).code).toBe(0);
    expect((await run(['admin', 'domains', 'remove', '--domain', 'beta.example'])).code).toBe(0);
  }, 120_000);
});

/** Mints a refresh token for a user straight through the engine, as a finished sign-in would. */
async function mintRefreshToken(server: TestServer, accountId: string): Promise<string> {
  // biome-ignore lint/suspicious/noExplicitAny: the engine's model classes are loosely typed.
  const provider = server.provider() as any;
  const grant = new provider.Grant({ accountId, clientId: 'acme-desktop' });
  grant.addOIDCScope('openid offline_access');
  const grantId: string = await grant.save();
  const client = await provider.Client.find('acme-desktop');
  const now = Math.floor(Date.now() / 1000);
  const token = new provider.RefreshToken({
    client,
    accountId,
    grantId,
    scope: 'openid offline_access',
    gty: 'authorization_code',
    authTime: now,
    iiat: now,
  });
  return token.save();
}

async function refresh(
  server: TestServer,
  refreshToken: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: 'acme-desktop',
    }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('latchkey secret rotate', () => {
  it('re-encrypts secrets at rest under a new operator secret; the old one is then refused', async () => {
    const cwd = await tempDir();
    const database = `sqlite:${path.join(cwd, 'rotate.db')}`;
    const oldEnv = baseEnv({ LATCHKEY_DATABASE_URL: database, LATCHKEY_SECRET: TEST_SECRET });
    const added = await latchkey(
      ['admin', 'orgs', 'add', '--id', 'beta', '--name', 'Beta', '--domain', 'beta.test'],
      {
        cwd,
        env: oldEnv,
      },
    );
    expect(added.code).toBe(0);
    const keys = await latchkey(['keys', 'list', '--json'], { cwd, env: oldEnv });
    expect(keys.code).toBe(0);
    const newSecret = 'the-new-operator-secret-0123456789-abcdefgh';
    await writeFile(path.join(cwd, 'new.key'), `${newSecret}\n`);
    const tooShort = await latchkey(['secret', 'rotate'], { cwd, env: oldEnv, input: 'short\n' });
    expect(tooShort.code).toBe(2);
    const rotated = await latchkey(['secret', 'rotate', '--new-secret-file', 'new.key', '--json'], {
      cwd,
      env: oldEnv,
    });
    expect(rotated.code).toBe(0);
    expect(JSON.parse(rotated.stdout).signing_keys).toBeGreaterThan(0);
    const withNew = await latchkey(['keys', 'list', '--json'], {
      cwd,
      env: baseEnv({ LATCHKEY_DATABASE_URL: database, LATCHKEY_SECRET: newSecret }),
    });
    expect(withNew.code).toBe(0);
    expect(JSON.parse(withNew.stdout)).toEqual(JSON.parse(keys.stdout));
    const withOld = await latchkey(['keys', 'list'], { cwd, env: oldEnv });
    expect(withOld.code).toBe(1);
    expect(withOld.stderr).toMatch(/does not match/);
  });
});

describe('admin against the database of a running server', () => {
  let server: TestServer;
  let cwd: string;
  let env: Record<string, string>;
  const run = (args: string[], input?: string) => latchkey(args, { cwd, env, input });

  beforeAll(async () => {
    server = await startTestServer({ kind: 'sqlite' });
    cwd = await tempDir();
    env = baseEnv({ LATCHKEY_DATABASE_URL: server.config.databaseUrl, LATCHKEY_SECRET: TEST_SECRET });
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it('users disable revokes the refresh token at once; the running server refuses it', async () => {
    const bob = await server.parts.repos.users.findByEmail('bob@beta.test');
    if (!bob) throw new Error('bob is missing');
    const token = await mintRefreshToken(server, bob.id);
    const first = await refresh(server, token);
    expect(first.status).toBe(200);
    const rotated = first.body.refresh_token as string;

    const disabled = await run(['admin', 'users', 'disable', '--user', 'bob@beta.test', '--json']);
    expect(disabled.code).toBe(0);
    expect(JSON.parse(disabled.stdout).revoked).toBeGreaterThan(0);
    const after = await refresh(server, rotated);
    expect(after.status).toBe(400);
    expect(after.body.error).toBe('invalid_grant');
    const rows = await server.parts.database.db
      .selectFrom('oidc_records')
      .select('id')
      .where('account_id', '=', bob.id)
      .execute();
    expect(rows).toEqual([]);
    expect((await run(['admin', 'users', 'enable', '--user', 'bob@beta.test'])).code).toBe(0);
  });

  it('set-password and reset-2sv sign the person out everywhere: the refresh token a thief took stops working', async () => {
    const carol = await server.parts.repos.users.findByEmail('carol@beta.test');
    if (!carol) throw new Error('carol is missing');
    const stolen = await mintRefreshToken(server, carol.id);
    expect(
      (
        await run(
          ['admin', 'users', 'set-password', '--user', 'carol@beta.test'],
          "carol's new long password\n",
        )
      ).code,
    ).toBe(0);
    expect((await refresh(server, stolen)).body.error).toBe('invalid_grant');

    const another = await mintRefreshToken(server, carol.id);
    expect((await run(['admin', 'users', 'reset-2sv', '--user', 'carol@beta.test'])).code).toBe(0);
    expect((await refresh(server, another)).body.error).toBe('invalid_grant');
  });

  it('sessions list shows what the user holds; sessions revoke removes all of it', async () => {
    const carol = await server.parts.repos.users.findByEmail('carol@beta.test');
    if (!carol) throw new Error('carol is missing');
    const token = await mintRefreshToken(server, carol.id);
    const list = JSON.parse(
      (await run(['admin', 'sessions', 'list', '--user', 'carol@beta.test', '--json'])).stdout,
    );
    // Per app and device, not the engine's raw records (no rotated tokens, no 43-character ids).
    expect(list.apps).toEqual([expect.objectContaining({ clientId: 'acme-desktop', app: 'Acme Desktop' })]);
    const text = (await run(['admin', 'sessions', 'list', '--user', 'carol@beta.test'])).stdout;
    expect(text).toMatch(
      /^Signed-in apps:\nAPP\s+DEVICE\s+ADDRESS\s+SIGNED IN\s+LAST USED\s+ID\nAcme Desktop\s/m,
    );
    const revoked = await run(['admin', 'sessions', 'revoke', '--user', 'carol@beta.test']);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(/Revoked [1-9]\d* sessions/);
    expect((await refresh(server, token)).body.error).toBe('invalid_grant');
    expect(
      JSON.parse((await run(['admin', 'sessions', 'list', '--user', 'carol@beta.test', '--json'])).stdout),
    ).toEqual({
      apps: [],
      browsers: [],
    });
    // The account itself stays usable.
    expect((await server.parts.repos.users.findById(carol.id))?.status).toBe('active');
  });

  it('scim-tokens create prints the SCIM URL and a token (once) the running server accepts; revoke ends it', async () => {
    const created = await run([
      'admin',
      'scim-tokens',
      'create',
      '--org',
      'beta',
      '--label',
      'entra',
      '--json',
    ]);
    expect(created.code, created.stderr).toBe(0);
    const printed = JSON.parse(created.stdout) as { id: string; token: string; url: string };
    const { id, token } = printed;
    // The URL under the CLI's issuer (its configuration here has the default one, not the test server's).
    expect(printed.url).toMatch(/^http:\/\/[^/]+\/scim\/v2\/beta$/);
    const url = `${server.issuer}/scim/v2/beta`;
    const users = await fetch(`${url}/Users`, { headers: { authorization: `Bearer ${token}` } });
    expect(users.status).toBe(200);
    expect(((await users.json()) as { totalResults: number }).totalResults).toBeGreaterThan(0);
    const list = await run(['admin', 'scim-tokens', 'list', '--org', 'beta']);
    expect(list.stdout).toMatch(new RegExp(`${id}\\s+beta\\s+entra`));
    expect(list.stdout).not.toContain(token);
    expect((await run(['admin', 'scim-tokens', 'revoke', '--id', id])).code).toBe(0);
    expect((await fetch(`${url}/Users`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
    const unknown = await run(['admin', 'scim-tokens', 'create', '--org', 'nobody']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no organization nobody/);
  });

  it('keys rotate publishes a pending key; the server serves it at /jwks after reloading keys', async () => {
    const rotated = await run(['keys', 'rotate', '--activate-in', '10m', '--keep-old', '1d', '--json']);
    expect(rotated.code).toBe(0);
    const fresh = JSON.parse(rotated.stdout) as { kid: string; use: string; state: string }[];
    const es256 = fresh.find((k) => k.use === 'sig');
    expect(es256?.state).toBe('pending');

    const list = await run(['keys', 'list']);
    expect(list.stdout).toMatch(new RegExp(`${es256?.kid}\\s+ES256\\s+sig\\s+pending`));
    expect(list.stdout).toMatch(/\s+sig\s+active\s+/);

    const before = (await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: { kid: string }[] };
    expect(before.keys.map((k) => k.kid)).not.toContain(es256?.kid);
    expect(await server.reloadKeys()).toBe(true);
    const after = (await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: { kid: string }[] };
    expect(after.keys.map((k) => k.kid)).toContain(es256?.kid);
  });
});

describe.runIf(testDatabaseKinds().includes('postgres'))('admin on PostgreSQL', () => {
  let database: { url: string; drop(): Promise<void> };
  let cwd: string;
  let env: Record<string, string>;
  const run = (args: string[], input?: string) => latchkey(args, { cwd, env, input });

  beforeAll(async () => {
    database = await createTestDatabaseUrl('postgres');
    cwd = await tempDir();
    env = baseEnv({ LATCHKEY_DATABASE_URL: database.url, LATCHKEY_SECRET: TEST_SECRET });
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('migrates, adds an organization and a user, lists, disables and audits', async () => {
    expect((await run(['migrate'])).code).toBe(0);
    expect(
      (await run(['admin', 'orgs', 'add', '--id', 'acme', '--name', 'Acme', '--domain', 'acme.test'])).code,
    ).toBe(0);
    expect(
      (await run(['admin', 'users', 'add', '--email', 'alice@acme.test'], 'alice password\n')).code,
    ).toBe(0);
    const users = JSON.parse((await run(['admin', 'users', 'list', '--json'])).stdout);
    expect(users).toEqual([expect.objectContaining({ email: 'alice@acme.test', organizationId: 'acme' })]);
    expect((await run(['admin', 'users', 'disable', '--user', 'alice@acme.test'])).code).toBe(0);
    expect((await run(['admin', 'sessions', 'revoke', '--user', 'alice@acme.test'])).code).toBe(0);
    const audit = JSON.parse(
      (await run(['admin', 'audit', '--user', 'alice@acme.test', '--json'])).stdout,
    ) as {
      action: string;
    }[];
    expect(audit.map((e) => e.action)).toEqual(['sessions_revoked', 'user_disabled', 'user_added']);
  });
});
