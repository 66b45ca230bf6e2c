import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KyselyPlugin } from 'kysely';
import Provider, { errors } from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabaseKind, testDatabaseKinds } from '../test-support/databases.js';
import { createOidcAdapter, heldWritesMiddleware } from './oidc-adapter.js';

const API = 'https://api.example.test';

/**
 * The adapter under the real engine (oidc-provider 9): the refresh-token grant with rotation, where
 * the single-use and reuse-grace rules of oidc-adapter.ts meet the engine's own checks (oidc-provider:
 * the engine calls `consume()` without looking at its result).
 */
describe.each(testDatabaseKinds())('oidc-provider on the adapter: %s', (kind: TestDatabaseKind) => {
  let test: Awaited<ReturnType<typeof createTestDatabase>>;
  let server: Server;
  let provider: Provider;
  let tokenUrl: string;
  let grace = 0;
  /** The engine's `useGrantedResource`: a refresh without `resource` gets a JWT for the granted API. */
  let useGrantedResource = false;
  /** Statements the adapter ran (counted by a Kysely plugin on its connection). */
  let statements = 0;
  /** The statement count at which the database "drops the connection" instead of answering. */
  let failAt = 0;

  beforeAll(async () => {
    test = await createTestDatabase(kind);
    const counter: KyselyPlugin = {
      transformQuery: (args) => args.node,
      transformResult: async (args) => {
        statements += 1;
        if (statements === failAt) {
          throw Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
        }
        return args.result;
      },
    };
    const counted = { ...test.database, db: test.database.db.withPlugin(counter) };
    provider = new Provider('http://127.0.0.1', {
      adapter: createOidcAdapter(counted, {
        refreshReuseGraceMs: () => grace,
        recordIdKey: Buffer.alloc(32, 7),
      }),
      clients: [
        {
          client_id: 'desk',
          application_type: 'native',
          token_endpoint_auth_method: 'none',
          redirect_uris: ['com.example.desk:/callback'],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
        },
      ],
      features: {
        devInteractions: { enabled: false },
        resourceIndicators: {
          enabled: true,
          defaultResource: (_ctx, _client, oneOf) => oneOf ?? undefined,
          useGrantedResource: () => useGrantedResource,
          getResourceServerInfo: (_ctx, indicator) => {
            if (indicator !== API) throw new errors.InvalidTarget();
            return { scope: 'read', audience: API, accessTokenFormat: 'jwt' };
          },
        },
      },
      rotateRefreshToken: true,
      ttl: { Grant: 3600, RefreshToken: 3600, AccessToken: 600, IdToken: 600 },
      findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
    });
    provider.use(heldWritesMiddleware(provider));
    server = createServer(provider.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    tokenUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await test?.drop();
  });

  /** A grant with one refresh token, as the authorization code grant would leave them. */
  async function issue(
    accountId: string,
    options: { resource?: string } = {},
  ): Promise<{ grantId: string; refreshToken: string }> {
    const grant = new provider.Grant({ accountId, clientId: 'desk' });
    grant.addOIDCScope('openid offline_access');
    if (options.resource) grant.addResourceScope(options.resource, 'read');
    const grantId = await grant.save();
    const client = await provider.Client.find('desk');
    if (!client) throw new Error('client desk missing');
    const token = new provider.RefreshToken({
      accountId,
      client,
      grantId,
      scope: options.resource ? 'openid offline_access read' : 'openid offline_access',
      gty: 'authorization_code',
      ...(options.resource ? { resource: options.resource } : {}),
    });
    return { grantId, refreshToken: await token.save() };
  }

  async function refresh(
    refreshToken: string,
    extra: Record<string, string> = {},
  ): Promise<{ status: number; body: Record<string, string> }> {
    const response = await fetch(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
        client_id: 'desk',
        ...extra,
      }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, string> };
  }

  async function liveRefreshTokens(grantId: string): Promise<number> {
    const rows = await test.database.db
      .selectFrom('oidc_records')
      .select('id')
      .where('model', '=', 'RefreshToken')
      .where('grant_id', '=', grantId)
      .where('consumed_at', 'is', null)
      .where('superseded_at', 'is', null)
      .execute();
    return rows.length;
  }

  it('rotates; without grace, reuse revokes the family', async () => {
    grace = 0;
    const { grantId, refreshToken } = await issue('acct-rotate');
    const first = await refresh(refreshToken);
    expect(first.status).toBe(200);
    expect(first.body.refresh_token).toBeTruthy();
    expect(first.body.refresh_token).not.toBe(refreshToken);
    const reuse = await refresh(refreshToken);
    expect(reuse).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect((await refresh(first.body.refresh_token as string)).body.error).toBe('invalid_grant');
    expect(await liveRefreshTokens(grantId)).toBe(0);
  });

  it('two simultaneous refreshes with one token: exactly one succeeds', async () => {
    grace = 0;
    for (let round = 0; round < 3; round += 1) {
      const { grantId, refreshToken } = await issue(`acct-race-${round}`);
      const results = await Promise.all([refresh(refreshToken), refresh(refreshToken)]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
      expect(results.find((r) => r.status === 400)?.body.error).toBe('invalid_grant');
      expect(await liveRefreshTokens(grantId)).toBeLessThanOrEqual(1);
    }
  });

  it('within the grace window a lost response is forgiven once; the next reuse revokes the family', async () => {
    grace = 30_000;
    const { grantId, refreshToken } = await issue('acct-grace');
    const lost = await refresh(refreshToken);
    expect(lost.status).toBe(200);
    const retry = await refresh(refreshToken);
    expect(retry.status).toBe(200);
    expect(retry.body.refresh_token).not.toBe(lost.body.refresh_token);
    // The response the client lost is superseded; the retry's token is the one live chain.
    expect(await liveRefreshTokens(grantId)).toBe(1);
    const again = await refresh(refreshToken);
    expect(again.body.error).toBe('invalid_grant');
    expect((await refresh(retry.body.refresh_token as string)).body.error).toBe('invalid_grant');
    expect(await liveRefreshTokens(grantId)).toBe(0);
  });

  it('within the grace window, the superseded successor presented later is a fork: the family is revoked, the forgiven chain included', async () => {
    grace = 30_000;
    const { grantId, refreshToken } = await issue('acct-fork');
    const apps = await refresh(refreshToken);
    const thiefs = await refresh(refreshToken);
    expect(thiefs.status).toBe(200);
    expect((await refresh(apps.body.refresh_token as string)).body.error).toBe('invalid_grant');
    expect((await refresh(thiefs.body.refresh_token as string)).body.error).toBe('invalid_grant');
    expect(await liveRefreshTokens(grantId)).toBe(0);
  });

  it('with grace, two simultaneous refreshes leave exactly one live chain', async () => {
    grace = 30_000;
    for (let round = 0; round < 3; round += 1) {
      const { grantId, refreshToken } = await issue(`acct-grace-race-${round}`);
      const results = await Promise.all([refresh(refreshToken), refresh(refreshToken)]);
      expect(results.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(1);
      for (const r of results) if (r.status !== 200) expect(r.body.error).toBe('invalid_grant');
      expect(await liveRefreshTokens(grantId)).toBe(1);
    }
  });

  it('with grace, a third simultaneous use is reuse: never more than one live chain', async () => {
    // First use rotates, the second may be forgiven, a third presentation after that is reuse and
    // revokes the family (the desktop SDK serializes refreshes, so only a copied token does this).
    grace = 30_000;
    const { grantId, refreshToken } = await issue('acct-grace-triple');
    const results = await Promise.all([refresh(refreshToken), refresh(refreshToken), refresh(refreshToken)]);
    expect(results.some((r) => r.status === 200)).toBe(true);
    for (const r of results) if (r.status !== 200) expect(r.body.error).toBe('invalid_grant');
    expect(await liveRefreshTokens(grantId)).toBeLessThanOrEqual(1);
  });

  it('a rotation commits once: its consume, successor and access token in one statement on PostgreSQL, one transaction on SQLite', async () => {
    grace = 0;
    const { refreshToken } = await issue('acct-one-commit');
    statements = 0;
    const first = await refresh(refreshToken);
    expect(first.status).toBe(200);
    // The token with its grant (one statement), then the rotation: PostgreSQL one statement,
    // SQLite the consume and two inserts inside one transaction.
    expect(statements).toBe(kind === 'postgres' ? 2 : 4);
    const rows = await test.database.db
      .selectFrom('oidc_records')
      .select(['model', 'consumed_at'])
      .where('account_id', '=', 'acct-one-commit')
      .execute();
    expect(
      rows
        .filter((r) => r.model === 'RefreshToken')
        .map((r) => r.consumed_at !== null)
        .sort(),
    ).toEqual([false, true]);
    expect(rows.filter((r) => r.model === 'AccessToken')).toHaveLength(1);
  });

  it('a rotation refused after its consume (an unknown resource) writes nothing: the token still works', async () => {
    grace = 0;
    const { grantId, refreshToken } = await issue('acct-bad-target');
    const refused = await refresh(refreshToken, { resource: 'https://unknown.example.test' });
    expect(refused).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
    expect(await liveRefreshTokens(grantId)).toBe(1);
    // Before, the consume was committed on its own: the token was burned without a successor and
    // this retry was reuse, revoking the family.
    const retry = await refresh(refreshToken);
    expect(retry.status).toBe(200);
    expect(await liveRefreshTokens(grantId)).toBe(1);
  });

  it('an access token for an API (a JWT, not stored): the rotation commits before the response', async () => {
    grace = 0;
    const { grantId, refreshToken } = await issue('acct-api', { resource: API });
    const first = await refresh(refreshToken, { resource: API });
    expect(first.status).toBe(200);
    expect(first.body.access_token?.split('.')).toHaveLength(3);
    expect(await liveRefreshTokens(grantId)).toBe(1);
    const second = await refresh(first.body.refresh_token as string, { resource: API });
    expect(second.status).toBe(200);
    expect((await refresh(refreshToken, { resource: API })).body.error).toBe('invalid_grant');
    expect(await liveRefreshTokens(grantId)).toBe(0);
  });

  it('a JWT access token for the granted API (no resource in the request): committed before the response; a race loser gets invalid_grant', async () => {
    // No access token save follows the successor's: the engine middleware commits.
    grace = 0;
    useGrantedResource = true;
    try {
      const { grantId, refreshToken } = await issue('acct-granted', { resource: API });
      const first = await refresh(refreshToken);
      expect(first.status).toBe(200);
      expect(first.body.access_token?.split('.')).toHaveLength(3);
      expect(await liveRefreshTokens(grantId)).toBe(1);
      expect((await refresh(first.body.refresh_token as string)).status).toBe(200);

      // The database drops out at the rotation's commit: a 503 the app can retry, not a 500.
      const outage = await issue('acct-granted-outage', { resource: API });
      failAt = statements + 2; // the token read, then the commit
      try {
        expect(await refresh(outage.refreshToken)).toMatchObject({
          status: 503,
          body: { error: 'temporarily_unavailable' },
        });
      } finally {
        failAt = 0;
      }

      // Without grace a use of a rotated token is reuse: when the loser reads the token after the
      // winner's commit (PostgreSQL's pool lets one request finish before the other reads; it did
      // in CI), the engine revokes the family, the winner's successor with it. So at most one chain.
      for (let round = 0; round < 3; round += 1) {
        const raced = await issue(`acct-granted-race-${round}`, { resource: API });
        const results = await Promise.all([refresh(raced.refreshToken), refresh(raced.refreshToken)]);
        expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
        expect(results.find((r) => r.status === 400)?.body.error).toBe('invalid_grant');
        expect(await liveRefreshTokens(raced.grantId)).toBeLessThanOrEqual(1);
      }
      // With the grace (the default, 30 s), an app racing itself keeps its session, whichever
      // request reads first: exactly one live chain.
      grace = 30_000;
      for (let round = 0; round < 3; round += 1) {
        const raced = await issue(`acct-granted-grace-race-${round}`, { resource: API });
        const results = await Promise.all([refresh(raced.refreshToken), refresh(raced.refreshToken)]);
        expect(results.some((r) => r.status === 200)).toBe(true);
        for (const r of results) if (r.status !== 200) expect(r.body.error).toBe('invalid_grant');
        expect(await liveRefreshTokens(raced.grantId)).toBe(1);
      }
    } finally {
      useGrantedResource = false;
      grace = 0;
    }
  });
});
