// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} is literal YAML reference syntax in these tests
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from './errors.js';
import { loadConfig } from './load.js';

const EXAMPLE = fileURLToPath(new URL('../../../../latchkey.example.yaml', import.meta.url));
const SECRET = 'operator-secret-0123456789abcdefghijklmnop';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'latchkey-config-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes a YAML file in the temp dir and loads it with a valid operator secret unless overridden. */
async function load(yaml: string | undefined, env: NodeJS.ProcessEnv = {}) {
  let configPath: string | undefined;
  if (yaml !== undefined) {
    configPath = join(dir, 'latchkey.yaml');
    await writeFile(configPath, yaml);
  }
  return loadConfig({ env: { LATCHKEY_SECRET: SECRET, ...env }, cwd: dir, configPath });
}

async function failure(promise: Promise<unknown>): Promise<ConfigError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  const configError = error as ConfigError;
  expect(configError.code).toBe('config_invalid');
  return configError;
}

/** Expects exactly one issue at `path` whose message matches `message`, and returns the error. */
async function rejects(promise: Promise<unknown>, path: string, message?: RegExp): Promise<ConfigError> {
  const error = await failure(promise);
  const issue = error.issues.find((i) => i.path === path);
  expect(issue, `no issue at ${path}; got ${error.message}`).toBeDefined();
  if (message) expect(issue?.message).toMatch(message);
  expect(error.message).toContain(`${path}: `);
  return error;
}

const NATIVE = `
clients:
  - { id: app, name: App, redirect_uris: [com.acme.app:/cb] }
`;

describe('loadConfig: the example file', () => {
  it('loads latchkey.example.yaml', async () => {
    const config = await loadConfig({
      env: { GOOGLE_CLIENT_SECRET: 'google-secret-value' },
      configPath: EXAMPLE,
      cwd: dir,
    });
    expect(config.env).toBe('development');
    expect(config.issuer).toBe('http://127.0.0.1:4000');
    expect(config.databaseUrl).toBe(`sqlite:${join(dir, 'data/latchkey.db')}`);
    expect(config.configFile).toBe(EXAMPLE);
    expect(config.clients).toEqual([
      {
        id: 'acme-desktop',
        name: 'Acme Desktop',
        kind: 'native',
        redirectUris: ['com.acme.desktop:/oauth2redirect', 'http://127.0.0.1/callback'],
        postLogoutRedirectUris: [],
        deviceFlow: true,
        tokenEndpointAuthMethod: 'none',
        secret: undefined,
        jwks: undefined,
        downloadUrl: undefined,
        idTokenSignedResponseAlg: 'ES256',
        // The sample's default for public clients (docs/dpop.md).
        dpop: 'required',
      },
    ]);
    expect(config.dpop).toEqual({ requireNonce: false });
    expect(config.resources).toEqual([
      {
        id: 'https://api.acme.test',
        name: 'Acme API',
        scopes: ['calls', 'messages'],
        accessTokenTtl: undefined,
      },
    ]);
    const [acme, beta] = config.organizations;
    expect(acme?.connection).toEqual({
      type: 'google',
      clientId: 'your-client-id.apps.googleusercontent.com',
      clientSecret: 'google-secret-value',
      issuer: 'https://accounts.google.com',
      secondFactor: { proof: 'upstream_claims', trustedAcr: [] },
    });
    expect(acme?.policy.require2sv).toBe(false);
    expect(beta?.connection).toEqual({ type: 'local' });
    expect(beta?.policy).toEqual({
      require2sv: true,
      allowedClients: [],
      jitProvisioning: true,
      refreshIdleTtl: 14 * 86_400,
      refreshAbsoluteTtl: 90 * 86_400,
      maxUpstreamAge: 90 * 86_400,
      upstreamRevalidateInterval: 3600,
      acceptIdentities: 'organization_domains',
    });
    expect(config.users).toEqual([
      {
        email: 'bob@beta.test',
        password: 'correct horse battery staple',
        totpSecret: 'JBSWY3DPEHPK3PXP',
        name: undefined,
      },
    ]);
  });

  it('names GOOGLE_CLIENT_SECRET when it is missing', async () => {
    const error = await failure(loadConfig({ env: {}, configPath: EXAMPLE, cwd: dir }));
    expect(error.issues).toEqual([
      {
        path: 'organizations[0].connection.client_secret',
        message: expect.stringContaining('GOOGLE_CLIENT_SECRET'),
      },
    ]);
    expect(error.message).toContain(EXAMPLE);
  });
});

describe('loadConfig: defaults and environment', () => {
  it('starts with zero configuration', async () => {
    const config = await loadConfig({ env: {}, cwd: dir });
    expect(config).toMatchObject({
      env: 'development',
      issuer: 'http://127.0.0.1:4000',
      host: '127.0.0.1',
      port: 4000,
      databaseUrl: `sqlite:${join(dir, 'data', 'latchkey.db')}`,
      secretSource: `generated:${join(dir, 'data', 'secret.key')}`,
      trustedProxies: [],
      logLevel: 'info',
      clients: [],
      resources: [],
      organizations: [],
      users: [],
      redisUrl: undefined,
      configFile: undefined,
      defaultOrganization: undefined,
    });
    expect(config.lifetimes).toEqual({
      accessToken: 600,
      idToken: 600,
      authorizationCode: 60,
      deviceCode: 600,
      interaction: 3600,
      browserSession: 14 * 86_400,
      refreshIdle: 14 * 86_400,
      refreshAbsolute: 90 * 86_400,
      refreshReuseGrace: 30,
      sessionEventsHeartbeat: 25,
    });
    expect(config.argon2).toEqual({ memoryCost: 19_456, timeCost: 2, parallelism: 1 });
  });

  it('reads every LATCHKEY_* variable', async () => {
    const config = await loadConfig({
      cwd: dir,
      env: {
        LATCHKEY_ISSUER: 'http://127.0.0.1:5055/',
        LATCHKEY_HOST: '0.0.0.0',
        LATCHKEY_PORT: '6000',
        LATCHKEY_DATABASE_URL: 'postgres://latchkey@db:5432/latchkey',
        LATCHKEY_SECRET: SECRET,
        LATCHKEY_REDIS_URL: 'redis://cache:6379',
        LATCHKEY_TRUSTED_PROXIES: '10.0.0.0/8, 192.168.1.1,loopback',
        LATCHKEY_LOG_LEVEL: 'debug',
      },
    });
    expect(config).toMatchObject({
      env: 'development',
      issuer: 'http://127.0.0.1:5055',
      host: '0.0.0.0',
      port: 6000,
      databaseUrl: 'postgres://latchkey@db:5432/latchkey',
      secret: SECRET,
      secretSource: 'env',
      redisUrl: 'redis://cache:6379',
      trustedProxies: ['10.0.0.0/8', '192.168.1.1', 'loopback'],
      logLevel: 'debug',
    });
  });

  it('takes the port from the issuer, and builds the default issuer from LATCHKEY_PORT', async () => {
    expect((await load(undefined, { LATCHKEY_ISSUER: 'http://127.0.0.1:7000' })).port).toBe(7000);
    const fromPort = await load(undefined, { LATCHKEY_PORT: '7001' });
    expect(fromPort.issuer).toBe('http://127.0.0.1:7001');
    expect(fromPort.port).toBe(7001);
    const proxied = await load(undefined, { LATCHKEY_ISSUER: 'https://sso.acme.com' });
    expect(proxied.port).toBe(4000);
    expect(proxied.env).toBe('production');
  });

  it('lets environment variables override the file', async () => {
    const config = await load(
      `
issuer: http://127.0.0.1:4000
database: sqlite:./file.db
redis_url: redis://file:6379
trusted_proxies: [127.0.0.1]
log_level: warn
`,
      {
        LATCHKEY_ISSUER: 'http://127.0.0.1:4100',
        LATCHKEY_DATABASE_URL: 'sqlite:./env.db',
        LATCHKEY_REDIS_URL: 'redis://env:6379',
        LATCHKEY_TRUSTED_PROXIES: '10.1.2.3',
        LATCHKEY_LOG_LEVEL: 'error',
      },
    );
    expect(config).toMatchObject({
      issuer: 'http://127.0.0.1:4100',
      port: 4100,
      databaseUrl: `sqlite:${join(dir, 'env.db')}`,
      redisUrl: 'redis://env:6379',
      trustedProxies: ['10.1.2.3'],
      logLevel: 'error',
    });
    const fileOnly = await load('database: sqlite:./file.db\nlog_level: warn\n');
    expect(fileOnly.databaseUrl).toBe(`sqlite:${join(dir, 'file.db')}`);
    expect(fileOnly.logLevel).toBe('warn');
  });

  it('reads the file named by LATCHKEY_CONFIG, relative to cwd', async () => {
    await writeFile(join(dir, 'lk.yaml'), 'log_level: trace\n');
    const config = await loadConfig({
      env: { LATCHKEY_SECRET: SECRET, LATCHKEY_CONFIG: 'lk.yaml' },
      cwd: dir,
    });
    expect(config.logLevel).toBe('trace');
    expect(config.configFile).toBe(join(dir, 'lk.yaml'));
  });

  it('treats empty variables as unset', async () => {
    const config = await load(undefined, { LATCHKEY_PORT: '', LATCHKEY_ISSUER: '' });
    expect(config.port).toBe(4000);
  });

  it.each([
    ['LATCHKEY_PORT', '0', /integer 1-65535/],
    ['LATCHKEY_PORT', '70000', /integer 1-65535/],
    ['LATCHKEY_PORT', 'eighty', /integer 1-65535/],
    ['LATCHKEY_ISSUER', 'sso.acme.com', /absolute http\(s\) URL/],
    ['LATCHKEY_ISSUER', 'https://sso.acme.com/?a=b', /without query/],
    ['LATCHKEY_ENV', 'staging', /development or production/],
    ['LATCHKEY_DATABASE_URL', 'mysql://db/x', /sqlite:<path> or postgres/],
    ['LATCHKEY_REDIS_URL', 'http://cache', /redis:\/\//],
    ['LATCHKEY_TRUSTED_PROXIES', '10.0.0.0/8,nope', /IP address/],
    ['LATCHKEY_LOG_LEVEL', 'loud', /one of/],
    ['LATCHKEY_SECRET', 'too-short', /at least 32 characters/],
  ])('refuses %s=%s naming the variable', async (name, value, message) => {
    const error = await rejects(load(undefined, { [name]: value }), name, message);
    expect(error.message).toContain(`${name}: `);
  });

  it('reports a missing config file under the option or variable that named it', async () => {
    await rejects(
      loadConfig({ env: { LATCHKEY_SECRET: SECRET }, cwd: dir, configPath: 'missing.yaml' }),
      '--config',
      /cannot read .*missing\.yaml \(ENOENT\)/,
    );
    await rejects(
      loadConfig({ env: { LATCHKEY_SECRET: SECRET, LATCHKEY_CONFIG: 'missing.yaml' }, cwd: dir }),
      'LATCHKEY_CONFIG',
      /ENOENT/,
    );
  });

  it('reports every problem at once', async () => {
    const error = await failure(load('log_level: loud\nclients: {}\n', { LATCHKEY_PORT: 'x' }));
    expect(error.issues.map((i) => i.path).sort()).toEqual(['LATCHKEY_PORT', 'clients', 'log_level']);
    expect(error.message).toMatch(/3 problems/);
  });
});

describe('loadConfig: the file schema', () => {
  it('refuses unknown keys at any depth', async () => {
    await rejects(load('isuer: http://127.0.0.1:4000\n'), 'isuer', /unknown key/);
    await rejects(
      load('clients:\n  - { id: app, redirect_uris: [com.acme.app:/cb], redirect_uri: x }\n'),
      'clients[0].redirect_uri',
      /unknown key/,
    );
    await rejects(
      load('organizations:\n  - { id: a, name: A, connection: { type: local, extra: 1 } }\n'),
      'organizations[0].connection.extra',
      /unknown key/,
    );
    await rejects(load('lifetimes: { acces_token: 10m }\n'), 'lifetimes.acces_token', /unknown key/);
  });

  it('refuses wrong types with the YAML path', async () => {
    await rejects(
      load('clients:\n  - { id: app, redirect_uris: com.acme.app:/cb }\n'),
      'clients[0].redirect_uris',
      /list/,
    );
    await rejects(
      load('clients:\n  - { id: app, redirect_uris: [com.acme.app:/cb], device_flow: yes please }\n'),
      'clients[0].device_flow',
      /true or false/,
    );
    await rejects(load('argon2: { memory_cost: lots }\n'), 'argon2.memory_cost', /number/);
    await rejects(
      load('clients:\n  - { name: No id, redirect_uris: [com.acme.app:/cb] }\n'),
      'clients[0].id',
      /required/,
    );
    await rejects(
      load('organizations:\n  - { id: a, name: A, connection: { type: ldap } }\n'),
      'organizations[0].connection.type',
      /local, google, oidc, saml/,
    );
    await rejects(
      load('clients:\n  - { id: app, kind: mobile, redirect_uris: [com.acme.app:/cb] }\n'),
      'clients[0].kind',
      /native, web/,
    );
  });

  it('reports a YAML syntax error by line without quoting the source', async () => {
    const error = await failure(load('clients:\n  - { id: app, secret: "hunter2-very-secret\n'));
    expect(error.issues[0]?.path).toMatch(/^line \d+, column \d+$/);
    expect(error.message).not.toContain('hunter2-very-secret');
  });

  it('refuses a file that is not a mapping', async () => {
    await rejects(load('- just\n- a list\n'), '(root)', /mapping/);
  });

  it('parses durations in seconds or with units', async () => {
    const config = await load(`
lifetimes: { access_token: 90s, id_token: 300, authorization_code: 1m, device_code: 15m, interaction: 2h,
  browser_session: 7d, refresh_idle: 1d, refresh_absolute: 30d, refresh_reuse_grace: 0 }
resources:
  - { id: https://api.acme.test, access_token_ttl: 5m }
organizations:
  - id: beta
    name: Beta
    domains: [beta.test]
    connection: { type: local }
    policy: { refresh_idle_ttl: 12h, max_upstream_age: 30d, upstream_revalidate_interval: 15m }
`);
    expect(config.lifetimes).toEqual({
      accessToken: 90,
      idToken: 300,
      authorizationCode: 60,
      deviceCode: 900,
      interaction: 7200,
      browserSession: 7 * 86_400,
      refreshIdle: 86_400,
      refreshAbsolute: 30 * 86_400,
      refreshReuseGrace: 0,
      sessionEventsHeartbeat: 25,
    });
    expect(config.resources[0]?.accessTokenTtl).toBe(300);
    expect(config.organizations[0]?.policy).toMatchObject({
      refreshIdleTtl: 12 * 3600,
      refreshAbsoluteTtl: 30 * 86_400,
      maxUpstreamAge: 30 * 86_400,
      upstreamRevalidateInterval: 900,
    });
  });

  it('refuses bad durations', async () => {
    await rejects(load('lifetimes: { access_token: 10 minutes }\n'), 'lifetimes.access_token', /duration/);
    await rejects(load('lifetimes: { access_token: 0 }\n'), 'lifetimes.access_token', /at least 1/);
    await rejects(load('lifetimes: { refresh_idle: 100d }\n'), 'lifetimes.refresh_idle', /refresh_absolute/);
  });

  it('maps oidc and saml connections with their defaults', async () => {
    const config = await load(`
organizations:
  - id: entra
    name: Entra
    domains: [contoso.test]
    connection:
      type: oidc
      issuer: https://login.microsoftonline.com/tid/v2.0
      client_id: abc
      client_secret: oidc-secret-value
      extra_params: { domain_hint: contoso.test }
      claims: { groups: roles }
      entra_tenant_id: tid
  - id: saml
    name: Saml
    domains: [saml.test]
    connection: { type: saml, idp_metadata_url: "http://127.0.0.1:9000/metadata", attributes: { subject: uid } }
`);
    expect(config.organizations[0]?.connection).toEqual({
      type: 'oidc',
      issuer: 'https://login.microsoftonline.com/tid/v2.0',
      clientId: 'abc',
      clientSecret: 'oidc-secret-value',
      scopes: ['openid', 'email', 'profile'],
      prompt: undefined,
      extraParams: { domain_hint: 'contoso.test' },
      claims: { subject: 'sub', email: 'email', name: 'name', groups: 'roles' },
      entraTenantId: 'tid',
      secondFactor: { proof: 'upstream_claims', trustedAcr: [] },
    });
    expect(config.organizations[1]?.connection).toEqual({
      type: 'saml',
      idpMetadataXml: undefined,
      idpMetadataUrl: 'http://127.0.0.1:9000/metadata',
      attributes: { subject: 'uid', email: 'email', name: 'name', groups: 'groups' },
      secondFactor: { proof: 'upstream_claims', trustedAcr: [] },
      authnRequestBinding: 'redirect',
      wantAssertionsEncrypted: false,
    });
  });

  it('refuses upstream client-authentication, SP-key and identity-rule settings that do not fit', async () => {
    const org = (connection: string, policy = '{}') =>
      `organizations:\n  - { id: s, name: S, connection: ${connection}, policy: ${policy} }\n`;
    const oidc = '{ type: oidc, issuer: "https://idp.test", client_id: c';
    await rejects(
      load(org(`${oidc}, token_endpoint_auth_method: private_key_jwt }`)),
      'organizations[0].connection.private_key',
      /private_key_jwt/,
    );
    await rejects(
      load(org(`${oidc}, token_endpoint_auth_method: client_secret_post }`)),
      'organizations[0].connection.client_secret',
      /client_secret_post/,
    );
    const saml = '{ type: saml, idp_metadata_url: "https://idp.test/m"';
    await rejects(
      load(org(`${saml}, sp_private_key: k }`)),
      'organizations[0].connection.sp_certificate',
      /together/,
    );
    await rejects(
      load(org(`${saml}, want_assertions_encrypted: true }`)),
      'organizations[0].connection.sp_private_key',
      /want_assertions_encrypted/,
    );
    await rejects(
      load(org('{ type: local }', '{ accept_identities: everyone }')),
      'organizations[0].policy.accept_identities',
      /organization_domains/,
    );
  });

  it('requires exactly one SAML metadata source and an https upstream', async () => {
    const org = (connection: string) => `organizations:\n  - { id: s, name: S, connection: ${connection} }\n`;
    await rejects(load(org('{ type: saml }')), 'organizations[0].connection.idp_metadata_xml', /exactly one/);
    await rejects(
      load(org('{ type: saml, idp_metadata_xml: "<x/>", idp_metadata_url: "https://idp/m" }')),
      'organizations[0].connection.idp_metadata_xml',
      /exactly one/,
    );
    await rejects(
      load(org('{ type: oidc, issuer: "http://idp.acme.com", client_id: x }')),
      'organizations[0].connection.issuer',
      /https/,
    );
  });
});

describe('loadConfig: cross-field checks', () => {
  it('refuses a duplicate client id', async () => {
    await rejects(
      load(
        `clients:\n  - { id: app, redirect_uris: [com.acme.app:/cb] }\n  - { id: app, redirect_uris: [com.acme.app:/cb2] }\n`,
      ),
      'clients[1].id',
      /duplicate client id "app".*clients\[0\]/,
    );
  });

  it('refuses a duplicate organization id', async () => {
    await rejects(
      load(
        `organizations:\n  - { id: a, name: A, connection: { type: local } }\n  - { id: a, name: B, connection: { type: local } }\n`,
      ),
      'organizations[1].id',
      /duplicate organization id/,
    );
  });

  it('refuses a domain claimed by two organizations, case-insensitively', async () => {
    await rejects(
      load(`organizations:
  - { id: a, name: A, domains: [acme.test], connection: { type: local } }
  - { id: b, name: B, domains: [other.test, ACME.test], connection: { type: local } }
`),
      'organizations[1].domains[1]',
      /"acme\.test" is already claimed by organization "a"/,
    );
  });

  it('refuses allowed_clients naming an unknown client and an unknown default_organization', async () => {
    await rejects(
      load(
        `${NATIVE}organizations:\n  - { id: a, name: A, connection: { type: local }, policy: { allowed_clients: [app, ghost] } }\n`,
      ),
      'organizations[0].policy.allowed_clients[1]',
      /unknown client "ghost"/,
    );
    await rejects(load('default_organization: nowhere\n'), 'default_organization', /unknown organization/);
  });

  it('refuses a dev user whose domain has no local organization', async () => {
    const orgs = `organizations:
  - { id: g, name: G, domains: [acme.test], connection: { type: google, client_id: x, client_secret: google-secret-value } }
  - { id: l, name: L, domains: [beta.test], connection: { type: local } }
`;
    await rejects(load(`${orgs}users:\n  - { email: ann@acme.test }\n`), 'users[0].email', /google/);
    await rejects(
      load(`${orgs}users:\n  - { email: ann@nowhere.test }\n`),
      'users[0].email',
      /no organization/,
    );
    const ok = await load(`${orgs}default_organization: l\nusers:\n  - { email: Ann@Nowhere.test }\n`);
    expect(ok.users[0]?.email).toBe('ann@nowhere.test');
  });

  it('refuses a native client with a secret, and a web client without credentials', async () => {
    await rejects(
      load('clients:\n  - { id: app, redirect_uris: [com.acme.app:/cb], secret: native-secret-value }\n'),
      'clients[0].secret',
      /public/,
    );
    await rejects(
      load(
        'clients:\n  - { id: app, redirect_uris: [com.acme.app:/cb], token_endpoint_auth_method: client_secret_basic }\n',
      ),
      'clients[0].token_endpoint_auth_method',
      /none/,
    );
    await rejects(
      load('clients:\n  - { id: web, kind: web, redirect_uris: ["https://app.acme.test/cb"] }\n'),
      'clients[0].secret',
      /required/,
    );
    await rejects(
      load(
        'clients:\n  - { id: web, kind: web, token_endpoint_auth_method: private_key_jwt, redirect_uris: ["https://app.acme.test/cb"] }\n',
      ),
      'clients[0].jwks',
      /required/,
    );
    await rejects(
      load(
        'clients:\n  - { id: web, kind: web, token_endpoint_auth_method: none, redirect_uris: ["https://app.acme.test/cb"] }\n',
      ),
      'clients[0].token_endpoint_auth_method',
      /confidential/,
    );
  });

  it('accepts web clients with a secret or public jwks', async () => {
    const config = await load(`
clients:
  - { id: web, kind: web, secret: web-secret-value, redirect_uris: ["https://app.acme.test/cb"], post_logout_redirect_uris: ["https://app.acme.test/"] }
  - id: jwt
    kind: web
    redirect_uris: ["https://jwt.acme.test/cb"]
    jwks: { keys: [{ kty: EC, crv: P-256, x: abc, y: def }] }
`);
    expect(config.clients[0]).toMatchObject({
      tokenEndpointAuthMethod: 'client_secret_basic',
      secret: 'web-secret-value',
    });
    expect(config.clients[1]).toMatchObject({ tokenEndpointAuthMethod: 'private_key_jwt' });
    await rejects(
      load(
        `clients:\n  - { id: jwt, kind: web, redirect_uris: ["https://jwt.acme.test/cb"], jwks: { keys: [{ kty: EC, d: private }] } }\n`,
      ),
      'clients[0].jwks.keys[0]',
      /public key/,
    );
  });

  it('applies the redirect URI rules with the YAML path', async () => {
    const client = (uris: string, kind = 'native') =>
      `clients:\n  - { id: app, kind: ${kind}, secret: ${kind === 'web' ? 'web-secret-value' : '~'}, redirect_uris: [${uris}] }\n`.replace(
        ', secret: ~',
        '',
      );
    await rejects(
      load(client('com.acme.app:/cb, "http://localhost:8080/cb"')),
      'clients[0].redirect_uris[1]',
      /127\.0\.0\.1/,
    );
    await rejects(load(client('myapp:/cb')), 'clients[0].redirect_uris[0]', /reverse-DNS/);
    await rejects(load(client('"com.acme.app:/cb#frag"')), 'clients[0].redirect_uris[0]', /fragment/);
    await rejects(load(client('"https://*.acme.test/cb"')), 'clients[0].redirect_uris[0]', /wildcard/);
    await rejects(load(client('"http://app.acme.test/cb"')), 'clients[0].redirect_uris[0]', /loopback/);
    await rejects(load(client('"com.acme.app:/cb"', 'web')), 'clients[0].redirect_uris[0]', /https/);
    await rejects(load(client('"http://app.acme.test/cb"', 'web')), 'clients[0].redirect_uris[0]', /https/);
    expect((await load(client('"http://127.0.0.1:3000/cb"', 'web'))).clients[0]?.redirectUris).toEqual([
      'http://127.0.0.1:3000/cb',
    ]);
    await rejects(load('clients:\n  - { id: app }\n'), 'clients[0].redirect_uris', /device_flow/);
    expect((await load('clients:\n  - { id: tv, device_flow: true }\n')).clients[0]?.deviceFlow).toBe(true);
  });
});

describe('loadConfig: secret references', () => {
  it('resolves ${VAR} and *_file references', async () => {
    await writeFile(join(dir, 'pw.txt'), '  file-password-value\n');
    await writeFile(join(dir, 'client.secret'), 'web-secret-from-file\n');
    const config = await load(
      `
clients:
  - { id: web, kind: web, secret_file: client.secret, redirect_uris: ["https://app.acme.test/cb"] }
organizations:
  - { id: l, name: L, domains: [beta.test], connection: { type: local } }
  - { id: g, name: G, domains: [acme.test], connection: { type: google, client_id: x, client_secret: "\${G_SECRET}", issuer: "http://127.0.0.1:9000" } }
users:
  - { email: a@beta.test, password_file: ${join(dir, 'pw.txt')}, totp_secret: "\${TOTP}" }
  - { email: b@beta.test, password: "$\${NOT_A_REF}" }
`,
      { G_SECRET: 'google-secret-value', TOTP: 'jbsw y3dp ehpk 3pxp' },
    );
    expect(config.clients[0]?.secret).toBe('web-secret-from-file');
    expect(config.organizations[1]?.connection).toMatchObject({
      clientSecret: 'google-secret-value',
      issuer: 'http://127.0.0.1:9000',
    });
    expect(config.users[0]).toMatchObject({
      password: 'file-password-value',
      totpSecret: 'JBSWY3DPEHPK3PXP',
    });
    expect(config.users[1]?.password).toBe('${NOT_A_REF}');
  });

  it('names the key and the variable when ${VAR} is not set', async () => {
    const error = await rejects(
      load(
        'organizations:\n  - { id: g, name: G, connection: { type: google, client_id: x, client_secret: "${MISSING_VAR}" } }\n',
      ),
      'organizations[0].connection.client_secret',
      /MISSING_VAR is not set/,
    );
    expect(error.issues).toHaveLength(1);
  });

  it('names the key and the path when a *_file cannot be read', async () => {
    const error = await rejects(
      load(
        'clients:\n  - { id: web, kind: web, secret_file: ./nope.secret, redirect_uris: ["https://a.test/cb"] }\n',
      ),
      'clients[0].secret_file',
      /cannot read .*nope\.secret \(ENOENT\)/,
    );
    expect(error.issues).toHaveLength(1);
    await rejects(
      load(
        'clients:\n  - { id: web, kind: web, secret: x-secret-value, secret_file: a, redirect_uris: ["https://a.test/cb"] }\n',
      ),
      'clients[0].secret_file',
      /either secret or secret_file/,
    );
    await rejects(
      load(
        'organizations:\n  - { id: g, name: G, connection: { type: google, client_id_file: x, client_secret: y } }\n',
      ),
      'organizations[0].connection.client_id_file',
      /unknown key/,
    );
  });

  it('never puts secret values in error messages', async () => {
    const secrets = {
      native: 'native-client-secret-XYZZY1',
      totp: 'not-base32-secret-PLUGH2!',
      password: 'hunter2-password-FROB3',
      env: 'short-env-secret-QUUX4',
      google: 'google-secret-value-GRAULT5',
      db: 'db-password-WALDO6',
    };
    const error = await failure(
      load(
        `
database: postgres://user:${secrets.db}@db.acme.test/latchkey
clients:
  - { id: app, redirect_uris: [com.acme.app:/cb], secret: ${secrets.native} }
organizations:
  - { id: g, name: G, domains: [acme.test], connection: { type: google, client_id: x, client_secret: "\${G}", issuer: "${secrets.google}" } }
users:
  - { email: "u@acme.test", password: ${secrets.password}, totp_secret: "${secrets.totp}" }
  - { email: "v@acme.test", password: [${secrets.password}] }
`,
        { LATCHKEY_SECRET: secrets.env, G: secrets.google, LATCHKEY_ENV: 'production' },
      ),
    );
    // Schema problems (issuer, totp_secret, password type), the env secret length, and in the same
    // pass the cross-field and production problems of the sections that are valid (one pass).
    expect(error.issues.map((i) => i.path).sort()).toEqual([
      'LATCHKEY_ISSUER',
      'LATCHKEY_SECRET',
      'clients[0].secret',
      'organizations[0].connection.issuer',
      'users[0].totp_secret',
      'users[1].password',
    ]);
    const text = `${error.message}\n${JSON.stringify(error.issues)}\n${String(error.stack)}`;
    for (const value of Object.values(secrets)) expect(text).not.toContain(value);

    // Cross-field and production problems, once the schema passes.
    const later = await failure(
      load(
        `
clients:
  - { id: app, redirect_uris: [com.acme.app:/cb], secret: ${secrets.native} }
  - { id: web, kind: web, secret: ${secrets.google}, redirect_uris: ["http://127.0.0.1/cb"] }
organizations:
  - { id: g, name: G, domains: [acme.test], connection: { type: google, client_id: x, client_secret: "\${G}" } }
users:
  - { email: "u@acme.test", password: ${secrets.password} }
`,
        { LATCHKEY_SECRET: secrets.env, G: secrets.google, LATCHKEY_ENV: 'production' },
      ),
    );
    expect(later.issues.length).toBeGreaterThanOrEqual(5);
    const laterText = `${later.message}\n${JSON.stringify(later.issues)}`;
    for (const value of Object.values(secrets)) expect(laterText).not.toContain(value);
  });

  it('scrubs a secret value even from a message that would quote it', async () => {
    // An organization id equal to a secret would be quoted by the duplicate-id message.
    const error = await failure(
      load(
        `organizations:
  - { id: same-as-secret-1234, name: A, connection: { type: google, client_id: x, client_secret: same-as-secret-1234 } }
  - { id: same-as-secret-1234, name: B, connection: { type: local } }
`,
      ),
    );
    expect(error.message).toContain('[redacted]');
    expect(error.message).not.toContain('same-as-secret-1234');
  });
});

describe('loadConfig: production', () => {
  const prod = { LATCHKEY_ENV: 'production', LATCHKEY_ISSUER: 'https://sso.acme.test' };

  it('is production for LATCHKEY_ENV=production or a non-loopback issuer', async () => {
    expect((await load(undefined, prod)).env).toBe('production');
    expect((await load(undefined, { LATCHKEY_ISSUER: 'https://sso.acme.test' })).env).toBe('production');
    expect((await load('issuer: https://sso.acme.test\n')).env).toBe('production');
    expect((await load(undefined, { LATCHKEY_ISSUER: 'http://localhost:4000' })).env).toBe('development');
  });

  it('refuses an http issuer', async () => {
    await rejects(
      load(undefined, { LATCHKEY_ISSUER: 'http://sso.acme.test' }),
      'LATCHKEY_ISSUER',
      /https issuer/,
    );
    await rejects(load('issuer: http://sso.acme.test\n'), 'issuer', /https issuer/);
    await rejects(load(undefined, { LATCHKEY_ENV: 'production' }), 'LATCHKEY_ISSUER', /https issuer/);
  });

  it('refuses a generated key file', async () => {
    const error = await rejects(
      loadConfig({ env: prod, cwd: dir }),
      'LATCHKEY_SECRET',
      /LATCHKEY_SECRET or LATCHKEY_SECRET_FILE/,
    );
    expect(error.issues).toHaveLength(1);
    await expect(stat(join(dir, 'data', 'secret.key'))).rejects.toThrow();
  });

  it('refuses users: in the file', async () => {
    await rejects(
      load(
        'organizations:\n  - { id: l, name: L, domains: [beta.test], connection: { type: local } }\nusers:\n  - { email: a@beta.test }\n',
        prod,
      ),
      'users',
      /production/,
    );
  });

  it('refuses http web redirect URIs, even on loopback', async () => {
    await rejects(
      load(
        'clients:\n  - { id: web, kind: web, secret: web-secret-value, redirect_uris: ["http://127.0.0.1:3000/cb"] }\n',
        prod,
      ),
      'clients[0].redirect_uris[0]',
      /production/,
    );
  });

  it('accepts a complete production configuration', async () => {
    const config = await load(
      `
clients:
  - { id: app, redirect_uris: [com.acme.app:/cb, "http://127.0.0.1/cb"] }
  - { id: web, kind: web, secret: web-secret-value, redirect_uris: ["https://app.acme.test/cb"] }
`,
      prod,
    );
    expect(config.env).toBe('production');
    expect(config.issuer).toBe('https://sso.acme.test');
  });
});

describe('loadConfig: operator secret', () => {
  it('generates a development key with mode 0600 and reuses it', async () => {
    const first = await loadConfig({ env: {}, cwd: dir });
    const path = join(dir, 'data', 'secret.key');
    expect(first.secretSource).toBe(`generated:${path}`);
    expect(first.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await readFile(path, 'utf8')).trim()).toBe(first.secret);
    const second = await loadConfig({ env: {}, cwd: dir });
    expect(second.secret).toBe(first.secret);
  });

  it('puts the generated key beside the SQLite database', async () => {
    const config = await loadConfig({ env: { LATCHKEY_DATABASE_URL: 'sqlite:./var/db/lk.db' }, cwd: dir });
    expect(config.secretSource).toBe(`generated:${join(dir, 'var', 'db', 'secret.key')}`);
  });

  it('does not generate a key for a configuration that fails', async () => {
    await failure(loadConfig({ env: { LATCHKEY_PORT: 'x' }, cwd: dir }));
    await expect(stat(join(dir, 'data'))).rejects.toThrow();
  });

  it('reads LATCHKEY_SECRET_FILE or secret_file', async () => {
    await mkdir(join(dir, 'keys'));
    const keyFile = join(dir, 'keys', 'operator.key');
    await writeFile(keyFile, `${SECRET}\n`);
    const fromEnv = await loadConfig({ env: { LATCHKEY_SECRET_FILE: keyFile }, cwd: dir });
    expect(fromEnv).toMatchObject({ secret: SECRET, secretSource: `file:${keyFile}` });
    const configPath = join(dir, 'lk.yaml');
    await writeFile(configPath, 'secret_file: keys/operator.key\n');
    const fromFile = await loadConfig({ env: {}, cwd: dir, configPath });
    expect(fromFile).toMatchObject({ secret: SECRET, secretSource: `file:${keyFile}` });

    await writeFile(keyFile, 'short');
    await rejects(
      loadConfig({ env: { LATCHKEY_SECRET_FILE: keyFile }, cwd: dir }),
      'LATCHKEY_SECRET_FILE',
      /32 characters/,
    );
    await rejects(loadConfig({ env: {}, cwd: dir, configPath }), 'secret_file', /32 characters/);
    await rejects(
      loadConfig({ env: { LATCHKEY_SECRET_FILE: join(dir, 'none') }, cwd: dir }),
      'LATCHKEY_SECRET_FILE',
      /ENOENT/,
    );
    await rejects(
      loadConfig({ env: { LATCHKEY_SECRET_FILE: keyFile, LATCHKEY_SECRET: SECRET }, cwd: dir }),
      'LATCHKEY_SECRET',
      /only one/,
    );
  });
});

describe('loadConfig: ID token algorithm per client', () => {
  it('defaults to RS256 (OpenID Connect’s default) and takes ES256 when a client says so', async () => {
    const config = await load(`
clients:
  - { id: plain, redirect_uris: [com.acme.plain:/cb] }
  - { id: sdk, redirect_uris: [com.acme.sdk:/cb], id_token_signed_response_alg: ES256 }
organizations:
  - { id: a, name: A, connection: { type: local } }
`);
    expect(config.clients.map((c) => [c.id, c.idTokenSignedResponseAlg])).toEqual([
      ['plain', 'RS256'],
      ['sdk', 'ES256'],
    ]);
  });

  it('refuses an algorithm it has no key for', async () => {
    await rejects(
      load(`
clients:
  - { id: app, redirect_uris: [com.acme.app:/cb], id_token_signed_response_alg: HS256 }
`),
      'clients[0].id_token_signed_response_alg',
    );
  });
});

describe('loadConfig: the result', () => {
  it('is deeply frozen', async () => {
    const config = await load(
      `${NATIVE}organizations:\n  - { id: a, name: A, connection: { type: local } }\n`,
    );
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.lifetimes)).toBe(true);
    expect(Object.isFrozen(config.clients)).toBe(true);
    expect(Object.isFrozen(config.clients[0]?.redirectUris)).toBe(true);
    expect(Object.isFrozen(config.organizations[0]?.policy)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(() => {
      (config.clients as unknown[]).push({});
    }).toThrow(TypeError);
  });
});

describe('loadConfig: every problem in one pass', () => {
  it('reports schema problems and the cross-field problems of valid sections together, with "did you mean" for unknown keys', async () => {
    const error = await failure(
      load(`
log_levl: debug
clients:
  - { id: app, name: App, redirect_uris: [http://localhost/cb] }
  - { id: app, name: Again, redirect_uris: [com.acme.app:/cb] }
resources:
  - { id: https://api.acme.test, name: API, scopes: [calls], clients: [nobody] }
organizations:
  - id: acme
    name: Acme
    domains: [acme.test]
    connection: { type: oidc, issuer: https://idp.acme.test, client_id: x, scopse: [openid] }
    policy: { require_2sv: yes-please }
users:
  - { email: dev@acme.test, password: "a development password" }
`),
    );
    const paths = error.issues.map((i) => i.path);
    // Schema problems…
    expect(error.issues.find((i) => i.path === 'log_levl')?.message).toBe(
      'unknown key (did you mean "log_level"?)',
    );
    expect(error.issues.find((i) => i.path === 'organizations[0].connection.scopse')?.message).toBe(
      'unknown key (did you mean "scopes"?)',
    );
    expect(paths).toContain('organizations[0].policy.require_2sv');
    // …and in the same pass the cross-field checks of the sections that are valid on their own.
    expect(paths).toContain('clients[1].id');
    expect(paths).toContain('clients[0].redirect_uris[0]');
    // A user of the organization that failed is not reported as belonging to no organization.
    expect(paths.some((p) => p.startsWith('users'))).toBe(false);
    expect(paths).toHaveLength(5);
  });
});
