import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import * as client from 'openid-client';
import type { Browser, BrowserContext } from 'playwright-core';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, waitForText } from '../test-support/browser.js';
import { testDatabaseKinds } from '../test-support/databases.js';
import { BrowserTokenSource } from '../test-support/oidc-client.js';
import { BASE_YAML, startTestServer, type TestServer } from '../test-support/server.js';

const BOB = { email: 'bob@beta.test', password: 'correct horse battery staple' };
const CLIENT = 'acme-desktop';
/** Where the proxy says every client is (all test clients are on loopback, so it names one). */
const CLIENT_ADDRESS = '198.51.100.23';

/** A device authorization request sent from a given local address (undici cannot bind one). */
function postFrom(localAddress: string, url: string, headers: Record<string, string>) {
  const body = new URLSearchParams({ client_id: CLIENT, scope: 'openid' }).toString();
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const request = http.request(
      url,
      {
        method: 'POST',
        localAddress,
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      },
      (response) => {
        let text = '';
        response.on('data', (chunk) => {
          text += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/**
 * The README's deployment: TLS ends at a reverse proxy that sends X-Forwarded-For/-Proto/-Host
 * (test-support/tls-proxy.ts does what its nginx block does), the issuer is https, and
 * LATCHKEY_TRUSTED_PROXIES names the proxy. Everything a person and an app do goes through it.
 */
describe.each(testDatabaseKinds())('behind a TLS-terminating proxy on %s', (kind) => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let desktop: client.Configuration;
  let bob: BrowserTokenSource;

  beforeAll(async () => {
    server = await startTestServer({ kind, tlsProxy: { clientAddress: CLIENT_ADDRESS } });
    const proxy = server.proxy;
    if (!proxy) throw new Error('no proxy');
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      // Trusts exactly the proxy's certificate (no blanket ignoring of certificate errors).
      args: [...CHROMIUM_ARGS, proxy.chromiumArg],
    });
    context = await browser.newContext();
    // openid-client over https, trusting the proxy's CA (no allowInsecureRequests).
    desktop = await client.discovery(
      new URL(server.issuer),
      CLIENT,
      { token_endpoint_auth_method: 'none' },
      client.None(),
      { [client.customFetch]: proxy.fetch as client.CustomFetch },
    );
    desktop[client.customFetch] = proxy.fetch as client.CustomFetch;
    bob = new BrowserTokenSource(context, desktop, BOB);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
  });

  const proxied = (path: string, init?: RequestInit) =>
    (server.proxy as NonNullable<TestServer['proxy']>).fetch(`${server.issuer}${path}`, {
      redirect: 'manual',
      ...init,
    });

  it('discovery lists only https endpoints under the https issuer', async () => {
    const metadata = (await (await proxied('/.well-known/openid-configuration')).json()) as Record<
      string,
      unknown
    >;
    expect(metadata.issuer).toBe(server.issuer);
    const urls = Object.entries(metadata).filter(
      ([key, value]) => typeof value === 'string' && /(_endpoint|_uri|_documentation)$/.test(key),
    );
    expect(urls.length).toBeGreaterThanOrEqual(9);
    for (const [key, value] of urls)
      expect(`${key}: ${value}`).toBe(`${key}: ${server.issuer}${new URL(value as string).pathname}`);
  });

  it('/auth and /device set secure cookies instead of failing', async () => {
    const auth = await proxied(
      `/auth?${new URLSearchParams({
        client_id: CLIENT,
        response_type: 'code',
        scope: 'openid',
        redirect_uri: 'http://127.0.0.1/callback',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
      })}`,
    );
    expect(auth.status, await auth.text()).toBe(303);
    const cookies = auth.headers.getSetCookie();
    expect(cookies.length).toBeGreaterThan(0);
    for (const cookie of cookies) expect(cookie).toMatch(/;\s*secure/i);
    const device = await proxied('/device');
    expect(device.status).toBe(200);
  });

  it('a full sign-in in Chromium, then a refresh, all through the proxy; audits carry the client address', async () => {
    const before = server.proxy?.requests.length ?? 0;
    const tokens = await bob.tokens();
    expect(tokens.claims()?.email).toBe(BOB.email);
    expect(tokens.claims()?.iss).toBe(server.issuer);
    const refreshed = await client.refreshTokenGrant(desktop, tokens.refresh_token as string);
    expect(refreshed.access_token).toBeTruthy();
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    // Pages, engine and token endpoint were all reached through the proxy.
    const paths = (server.proxy?.requests ?? []).slice(before).map((r) => r.url.split('?')[0]);
    expect(paths).toEqual(expect.arrayContaining(['/auth', '/token']));
    expect(paths.some((p) => p?.startsWith('/interaction/'))).toBe(true);
    const [signIn] = await server.parts.repos.audit.query({ action: 'sign_in', limit: 1 });
    expect(signIn?.ip).toBe(CLIENT_ADDRESS);
  });

  it('a device flow through the proxy: the engine sees the client address, not the proxy', async () => {
    const device = await client.initiateDeviceAuthorization(desktop, {
      scope: 'openid email offline_access',
    });
    expect(device.verification_uri).toBe(`${server.issuer}/device`);
    const polling = client
      .pollDeviceAuthorizationGrant(desktop, device)
      .then((tokens) => ({ tokens }))
      .catch((error: unknown) => ({ error }));
    const page = await context.newPage();
    await page.goto(device.verification_uri_complete as string);
    await page.getByRole('button', { name: 'Continue' }).click();
    await waitForText(page.locator('#handoff'), 'Allow');
    // The address the device asked from, as the engine saw it (ctx.ip), on the one confirmation.
    await waitForText(
      page.locator('main, body').first(),
      new RegExp(`from ${CLIENT_ADDRESS.replaceAll('.', '\\.')}`),
    );
    await page.locator('#handoff').click();
    await waitForText(page.locator('h1'), 'Device connected');
    await page.close();
    const result = await polling;
    expect('tokens' in result, String((result as { error?: unknown }).error)).toBe(true);
  }, 60_000);

  it('X-Forwarded-For sent by the client through the proxy does not replace the address the proxy saw', async () => {
    const response = await proxied('/device/auth', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '203.0.113.66' },
      body: new URLSearchParams({ client_id: CLIENT, scope: 'openid' }).toString(),
    });
    const { user_code } = (await response.json()) as { user_code: string };
    expect(await requestedFrom(user_code)).toBe(CLIENT_ADDRESS);
  });

  it('X-Forwarded-For from a peer that is not a trusted proxy is ignored by the engine (the pages: trusted-proxies.test.ts)', async () => {
    // A client that reaches the server directly from 127.0.0.2 (not in LATCHKEY_TRUSTED_PROXIES)
    // and claims to be 203.0.113.7.
    const answer = await postFrom('127.0.0.2', `${server.directUrl}/device/auth`, {
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-proto': 'https',
    });
    expect(answer.status).toBe(200);
    const { user_code } = JSON.parse(answer.body) as { user_code: string };
    expect(await requestedFrom(user_code)).toBe('127.0.0.2');
  });

  /** The address the device confirmation page names for a user code. */
  async function requestedFrom(userCode: string): Promise<string | undefined> {
    const page = await context.newPage();
    try {
      await page.goto(`${server.issuer}/device?user_code=${encodeURIComponent(userCode)}`);
      await page.getByRole('button', { name: 'Continue' }).click();
      const text = await waitForText(page.locator('main, body').first(), /from \d+\.\d+\.\d+\.\d+/);
      return /from (\d+\.\d+\.\d+\.\d+)/.exec(text)?.[1];
    } finally {
      await page.close();
    }
  }
});

/** A GET through the proxy with a Host header of the client's choosing (fetch may not set one). */
function getWithHost(proxy: NonNullable<TestServer['proxy']>, path: string, host: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const request = https.request(
      `${proxy.url}${path}`,
      {
        agent: proxy.httpsAgent,
        headers: { host, accept: 'application/json' },
        // The certificate is checked for the address connected to, not for the Host header sent.
        checkServerIdentity: (_name, certificate) => tls.checkServerIdentity('127.0.0.1', certificate),
      },
      (response) => {
        let text = '';
        response.on('data', (chunk) => {
          text += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      },
    );
    request.on('error', reject);
    request.end();
  });
}

describe('in production behind the TLS-terminating proxy', () => {
  let server: TestServer;
  beforeAll(async () => {
    // Production refuses users in the file; the host checks are what is tested here.
    const yaml = `${BASE_YAML.slice(0, BASE_YAML.indexOf('users:'))}argon2: { memory_cost: 1024, time_cost: 1, parallelism: 1 }\n`;
    server = await startTestServer({ yaml, tlsProxy: true, env: { LATCHKEY_ENV: 'production' } });
    expect(server.config.env).toBe('production');
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it('answers for the issuer’s host through the proxy, with secure cookies', async () => {
    const proxy = server.proxy as NonNullable<TestServer['proxy']>;
    const discovery = await proxy.fetch(`${server.issuer}/.well-known/openid-configuration`);
    expect(discovery.status).toBe(200);
    expect(((await discovery.json()) as { token_endpoint: string }).token_endpoint).toBe(
      `${server.issuer}/token`,
    );
    const auth = await proxy.fetch(
      `${server.issuer}/auth?${new URLSearchParams({
        client_id: CLIENT,
        response_type: 'code',
        scope: 'openid offline_access',
        redirect_uri: 'http://127.0.0.1/callback',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
      })}`,
      { redirect: 'manual' },
    );
    expect(auth.status).toBe(303);
    for (const cookie of auth.headers.getSetCookie()) expect(cookie).toMatch(/;\s*secure/i);
  });

  it('a host forwarded by the proxy that is not the issuer’s gets 421; so does a request that bypasses the proxy', async () => {
    const proxy = server.proxy as NonNullable<TestServer['proxy']>;
    const other = await getWithHost(proxy, '/.well-known/openid-configuration', 'sso.evil.example');
    expect(other.status).toBe(421);
    expect(JSON.parse(other.body).error).toBe('misdirected_request');
    const direct = await fetch(`${server.directUrl}/.well-known/openid-configuration`);
    expect(direct.status).toBe(421);
    // Health checks stay reachable by address.
    expect((await fetch(`${server.directUrl}/healthz`)).status).toBe(200);
  });
});
