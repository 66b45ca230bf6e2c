import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpSignIn } from '../../../../bench/lib.mjs';
import { refreshRaw, simultaneousPosts } from '../test-support/oidc-client.js';
import { startTestServer, type TestServer } from '../test-support/server.js';

const CLIENT = { clientId: 'acme-desktop', redirectUri: 'http://127.0.0.1/callback' };

describe('/metrics', () => {
  let server: TestServer;
  const token = 'metrics-token-0123456789';

  beforeAll(async () => {
    process.env.LATCHKEY_METRICS_TOKEN = token;
    server = await startTestServer();
    delete process.env.LATCHKEY_METRICS_TOKEN;
  });
  afterAll(() => server?.dispose());

  const scrape = (headers: Record<string, string> = {}) =>
    fetch(`${server.issuer}/metrics`, { headers }).then(async (r) => ({
      status: r.status,
      text: await r.text(),
    }));

  it('counts sign-ins, grants and latency by route pattern', async () => {
    const tokens = await httpSignIn(server.issuer, {
      ...CLIENT,
      email: 'bob@beta.test',
      password: 'correct horse battery staple',
    });
    await expect(
      httpSignIn(server.issuer, { ...CLIENT, email: 'bob@beta.test', password: 'wrong password!' }),
    ).rejects.toThrow();
    expect((await refreshRaw(server.issuer, CLIENT.clientId, tokens.refresh_token)).status).toBe(200);
    expect((await refreshRaw(server.issuer, CLIENT.clientId, 'not-a-token')).status).toBe(400);

    const { status, text } = await scrape();
    expect(status).toBe(200);
    expect(text).toContain('latchkey_sign_ins_total{method="password",result="success"} 1');
    expect(text).toContain('latchkey_sign_ins_total{method="password",result="wrong_password"} 1');
    expect(text).toContain('latchkey_grants_total{grant_type="authorization_code",result="success"} 1');
    expect(text).toContain('latchkey_grants_total{grant_type="refresh_token",result="success"} 1');
    expect(text).toContain('latchkey_grants_total{grant_type="refresh_token",result="invalid_grant"} 1');
    expect(text).toMatch(
      /latchkey_http_request_duration_seconds_count\{method="POST",route="\/token",status="200"\} 2/,
    );
    expect(text).toMatch(/route="\/interaction\/:uid\/password"/);
    expect(text).toContain('latchkey_process_resident_memory_bytes');
    // Raw paths (interaction ids, codes) never become labels.
    expect(text).not.toMatch(/route="\/interaction\/[A-Za-z0-9_-]{16,}/);
  });

  it('is not served through a proxy or to strangers, unless they hold the token', async () => {
    expect((await scrape({ 'x-forwarded-for': '203.0.113.9' })).status).toBe(404);
    expect((await scrape({ 'x-forwarded-for': '203.0.113.9', authorization: 'Bearer nope' })).status).toBe(
      404,
    );
    // Any forwarding header means a proxy relayed the request: the peer being loopback proves nothing.
    for (const header of [
      'x-real-ip',
      'x-forwarded-for',
      'x-forwarded-host',
      'x-forwarded-proto',
      'forwarded',
      'x-client-ip',
      'true-client-ip',
      'cf-connecting-ip',
    ]) {
      expect((await scrape({ [header]: '203.0.113.9' })).status, header).toBe(404);
    }
    expect((await scrape()).status).toBe(200);
    const withToken = await scrape({ 'x-forwarded-for': '203.0.113.9', authorization: `Bearer ${token}` });
    expect(withToken.status).toBe(200);
  });

  it('a refresh for an API that loses a race at its commit counts as invalid_grant, not success', async () => {
    // The JWT access token is not stored, so the rotation commits after the engine's grant.success
    // (storage/held-rotation.ts, heldWritesMiddleware): the loser must be counted once, as refused.
    const before = (await scrape()).text;
    const count = (text: string, result: string) =>
      Number(
        new RegExp(`latchkey_grants_total\\{grant_type="refresh_token",result="${result}"\\} (\\d+)`).exec(
          text,
        )?.[1] ?? 0,
      );
    const tokens = await httpSignIn(server.issuer, {
      ...CLIENT,
      email: 'bob@beta.test',
      password: 'correct horse battery staple',
      scope: 'openid offline_access calls',
      resource: 'https://api.acme.test',
    });
    const form = {
      grant_type: 'refresh_token',
      client_id: CLIENT.clientId,
      refresh_token: tokens.refresh_token,
      resource: 'https://api.acme.test',
      scope: 'openid calls',
    };
    const results = await simultaneousPosts(`${server.issuer}/token`, [form, form]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
    const accessToken = String(results.find((r) => r.status === 200)?.json?.access_token);
    expect(accessToken.split('.')).toHaveLength(3);
    expect(results.find((r) => r.status === 400)?.json?.error).toBe('invalid_grant');

    const after = (await scrape()).text;
    expect(count(after, 'success') - count(before, 'success')).toBe(1);
    expect(count(after, 'invalid_grant') - count(before, 'invalid_grant')).toBe(1);
  });
});
