import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabaseKind, testDatabaseKinds } from '../test-support/databases.js';
import { createOidcAdapter } from './oidc-adapter.js';

/**
 * The adapter under the real engine (oidc-provider 9): the refresh-token grant with rotation, where
 * the single-use and reuse-grace rules of oidc-adapter.ts meet the engine's own checks (FACTS.md:
 * the engine calls `consume()` without looking at its result).
 */
describe.each(testDatabaseKinds())('oidc-provider on the adapter: %s', (kind: TestDatabaseKind) => {
  let test: Awaited<ReturnType<typeof createTestDatabase>>;
  let server: Server;
  let provider: Provider;
  let tokenUrl: string;
  let grace = 0;

  beforeAll(async () => {
    test = await createTestDatabase(kind);
    provider = new Provider('http://127.0.0.1', {
      adapter: createOidcAdapter(test.database, { refreshReuseGraceMs: () => grace }),
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
      features: { devInteractions: { enabled: false } },
      rotateRefreshToken: true,
      ttl: { Grant: 3600, RefreshToken: 3600, AccessToken: 600, IdToken: 600 },
      findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
    });
    server = createServer(provider.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    tokenUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await test?.drop();
  });

  /** A grant with one refresh token, as the authorization code grant would leave them. */
  async function issue(accountId: string): Promise<{ grantId: string; refreshToken: string }> {
    const grant = new provider.Grant({ accountId, clientId: 'desk' });
    grant.addOIDCScope('openid offline_access');
    const grantId = await grant.save();
    const client = await provider.Client.find('desk');
    if (!client) throw new Error('client desk missing');
    const token = new provider.RefreshToken({
      accountId,
      client,
      grantId,
      scope: 'openid offline_access',
      gty: 'authorization_code',
    });
    return { grantId, refreshToken: await token.save() };
  }

  async function refresh(refreshToken: string): Promise<{ status: number; body: Record<string, string> }> {
    const response = await fetch(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
        client_id: 'desk',
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
    // The response the client lost is dead; the retry's token is the one live chain.
    expect((await refresh(lost.body.refresh_token as string)).body.error).toBe('invalid_grant');
    expect(await liveRefreshTokens(grantId)).toBe(1);
    const again = await refresh(refreshToken);
    expect(again.body.error).toBe('invalid_grant');
    expect((await refresh(retry.body.refresh_token as string)).body.error).toBe('invalid_grant');
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
});
