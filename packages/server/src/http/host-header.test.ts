import { request as httpRequest } from 'node:http';
import type Provider from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../test-support/server.js';
import { createApp } from './app.js';

/** A request with a Host header of our choosing (fetch does not let one forge it). */
function raw(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('absolute URLs come from the configured issuer, never from the Host header', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.dispose());

  it('discovery with a forged Host (and X-Forwarded-Host) names only the issuer', async () => {
    for (const headers of <Record<string, string>[]>[
      { host: 'evil.example' },
      { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' },
    ]) {
      const answer = await raw(`${server.issuer}/.well-known/openid-configuration`, { headers });
      expect(answer.status, answer.text).toBe(200);
      expect(answer.text).not.toContain('evil.example');
      const doc = JSON.parse(answer.text) as Record<string, string>;
      expect(doc.issuer).toBe(server.issuer);
      expect(doc.token_endpoint).toBe(`${server.issuer}/token`);
      expect(doc.device_authorization_endpoint).toBe(`${server.issuer}/device/auth`);
      expect(doc.jwks_uri).toBe(`${server.issuer}/jwks`);
    }
  });

  it('the device flow verification URIs name only the issuer', async () => {
    const answer = await raw(`${server.issuer}/device/auth`, {
      method: 'POST',
      headers: { host: 'evil.example', 'content-type': 'application/x-www-form-urlencoded' },
      body: 'client_id=acme-desktop&scope=openid',
    });
    expect(answer.status, answer.text).toBe(200);
    const body = JSON.parse(answer.text) as Record<string, string>;
    expect(body.verification_uri).toBe(`${server.issuer}/device`);
    expect(body.verification_uri_complete?.startsWith(`${server.issuer}/device?user_code=`)).toBe(true);
  });
});

describe('in production, requests for another host are refused', () => {
  const engine = { current: () => ({ callback: () => () => undefined }) as unknown as Provider };
  const app = (env: 'production' | 'development') =>
    createApp({
      config: { env, issuer: 'https://sso.acme.test', trustedProxies: [], logLevel: 'silent' },
      engine,
      ping: async () => {},
      routes: [(scope) => void scope.get('/hello', async () => 'hello')],
    });

  it('answers 421 with a readable message for a foreign Host', async () => {
    const production = await app('production');
    const refused = await production.inject({ url: '/hello', headers: { host: 'evil.example' } });
    expect(refused.statusCode).toBe(421);
    expect(refused.body).toContain('sso.acme.test');
    const html = await production.inject({
      url: '/hello',
      headers: { host: 'evil.example', accept: 'text/html' },
    });
    expect(html.statusCode).toBe(421);
    expect(html.headers['content-type']).toContain('text/html');
    const allowed = await production.inject({ url: '/hello', headers: { host: 'sso.acme.test' } });
    expect(allowed.statusCode).toBe(200);
    // Health checks come from load balancers and orchestrators that address the process directly.
    expect(
      (await production.inject({ url: '/healthz', headers: { host: '10.0.0.7:8080' } })).statusCode,
    ).toBe(200);
    await production.close();
  });

  it('development serves any Host (loopback aliases, LAN addresses)', async () => {
    const development = await app('development');
    expect((await development.inject({ url: '/hello', headers: { host: 'evil.example' } })).statusCode).toBe(
      200,
    );
    await development.close();
  });
});
