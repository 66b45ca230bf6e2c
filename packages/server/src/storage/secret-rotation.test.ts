import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretBox } from '../crypto/secret-box.js';
import {
  createTestDatabaseUrl,
  type TestDatabaseKind,
  testDatabaseKinds,
} from '../test-support/databases.js';
import { BASE_YAML, startTestServer, TEST_SECRET } from '../test-support/server.js';
import { openDatabase } from './database.js';
import { createRepositories, verifyOperatorSecret } from './repositories.js';
import { rotateOperatorSecret } from './secret-rotation.js';

const NEW_SECRET = 'the-new-operator-secret-9876543210-zyxwvutsrqponm';
const YAML = BASE_YAML.replace(
  '- { email: bob@beta.test, password: "correct horse battery staple", name: Bob Builder }',
  '- { email: bob@beta.test, password: "correct horse battery staple", name: Bob Builder, totp_secret: JBSWY3DPEHPK3PXP }',
)
  .replace(
    'clients:\n',
    `clients:
  - id: acme-web
    name: Acme Web
    kind: web
    redirect_uris: [https://web.acme.test/callback]
    token_endpoint_auth_method: client_secret_basic
    secret: web-client-secret-0123456789
`,
  )
  .replace(
    'organizations:\n',
    `organizations:
  - id: gamma
    name: Gamma
    domains: [gamma.test]
    connection: { type: oidc, issuer: https://idp.gamma.test, client_id: gamma, client_secret: gamma-upstream-secret }
`,
  );

describe.each(testDatabaseKinds())('latchkey secret rotate (%s)', (kind: TestDatabaseKind) => {
  let db: Awaited<ReturnType<typeof createTestDatabaseUrl>>;
  let kidsBefore: string[];

  beforeAll(async () => {
    db = await createTestDatabaseUrl(kind);
    const server = await startTestServer({ yaml: YAML, databaseUrl: db.url });
    kidsBefore = server.keys.list().map((k) => k.kid);
    await server.close();
  });
  afterAll(() => db?.drop());

  it('re-encrypts every sealed value under the new secret, all or nothing', async () => {
    const oldBox = SecretBox.fromSecret(TEST_SECRET);
    const newBox = SecretBox.fromSecret(NEW_SECRET);
    const database = await openDatabase(db.url);
    try {
      // The wrong "current" secret is refused before anything is touched.
      await expect(rotateOperatorSecret(database, newBox, oldBox)).rejects.toThrow(/does not match/);

      const report = await rotateOperatorSecret(database, oldBox, newBox);
      expect(report).toMatchObject({ meta: 1, credentials: 1, connections: 1, clients: 1 });
      expect(report.signing_keys).toBeGreaterThanOrEqual(3);

      await expect(verifyOperatorSecret(database, oldBox)).rejects.toThrow();
      await verifyOperatorSecret(database, newBox);
      const repos = createRepositories(database, newBox);
      const bob = await repos.users.findByEmail('bob@beta.test');
      expect((await repos.credentials.totp(bob?.id as string))?.secret).toBe('JBSWY3DPEHPK3PXP');
      expect((await repos.clients.find('acme-web'))?.secret).toBe('web-client-secret-0123456789');
      expect((await repos.signingKeys.list()).map((k) => k.kid).sort()).toEqual([...kidsBefore].sort());
      // Nothing left that only the old secret opens.
      const stale = createRepositories(database, oldBox);
      await expect(stale.clients.find('acme-web')).rejects.toThrow();
    } finally {
      await database.close();
    }
  });

  it('the server starts with the new secret, same keys, and refuses the old one', async () => {
    const server = await startTestServer({
      yaml: YAML,
      databaseUrl: db.url,
      env: { LATCHKEY_SECRET: NEW_SECRET },
    });
    try {
      expect(
        server.keys
          .list()
          .map((k) => k.kid)
          .sort(),
      ).toEqual([...kidsBefore].sort());
      const jwks = (await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: unknown[] };
      expect(jwks.keys.length).toBeGreaterThan(0);
    } finally {
      await server.close();
    }
    await expect(startTestServer({ yaml: YAML, databaseUrl: db.url })).rejects.toThrow(/does not match/);
  });
});
