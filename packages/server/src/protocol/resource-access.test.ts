import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { decodeJwt } from 'jose';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpSignIn } from '../../../../bench/lib.mjs';
import { launchBrowser } from '../test-support/browser.js';
import { createTestDatabaseUrl } from '../test-support/databases.js';
import { buildAuth, discover, refreshRaw, signInWithPassword } from '../test-support/oidc-client.js';
import { BASE_YAML, startTestServer, type TestServer } from '../test-support/server.js';

const BOB = { email: 'bob@beta.test', password: 'correct horse battery staple' };
const API = 'https://api.acme.test';
const BILLING = 'https://billing.acme.test';
const LOOPBACK = 'http://127.0.0.1/callback';

/** Acme API admits Acme Desktop for `calls` only; Acme Billing admits Acme Meetings only. */
const YAML = BASE_YAML.replace(
  '  - { id: https://api.acme.test, name: Acme API, scopes: [calls, messages] }\n',
  `  - id: ${API}
    name: Acme API
    scopes: [calls, messages]
    clients: { acme-desktop: [calls] }
  - id: ${BILLING}
    name: Acme Billing
    scopes: [invoices]
    clients: [acme-meetings]
`,
);

describe('resources admit only the clients (and scopes) they list', () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    expect(YAML).toContain(BILLING);
    [server, browser] = await Promise.all([startTestServer({ yaml: YAML }), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
  });

  const signIn = (clientId: string, extra: { scope?: string; resource?: string } = {}) =>
    httpSignIn(server.issuer, { clientId, redirectUri: LOOPBACK, ...BOB, ...extra });

  it('an authorization request for an API the app is not listed on is refused (invalid_target)', async () => {
    const desktop = await discover(server.issuer, 'acme-desktop');
    const pending = await buildAuth(desktop, LOOPBACK, { resource: BILLING, scope: 'openid invoices' });
    const response = await fetch(pending.url, { redirect: 'manual' });
    const location = new URL(response.headers.get('location') ?? '', server.issuer);
    expect(location.href.startsWith(LOOPBACK), location.href).toBe(true);
    expect(location.searchParams.get('error')).toBe('invalid_target');
  });

  it('the app gets only the scopes listed for it, at the code exchange and at every refresh', async () => {
    const tokens = await signIn('acme-desktop', {
      scope: 'openid offline_access calls messages',
      resource: API,
    });
    // `messages` was asked for but the API admits Acme Desktop for `calls` only: never granted.
    const asked = await refreshRaw(server.issuer, 'acme-desktop', tokens.refresh_token, {
      resource: API,
      scope: 'openid calls messages',
    });
    expect(asked.status, asked.text).toBe(400);
    expect(asked.json?.error).toBe('invalid_scope');
    const refreshed = await refreshRaw(server.issuer, 'acme-desktop', tokens.refresh_token, {
      resource: API,
      scope: 'openid calls',
    });
    expect(refreshed.status, refreshed.text).toBe(200);
    const claims = decodeJwt(String(refreshed.json?.access_token));
    expect(claims.aud).toBe(API);
    expect(claims.scope).toBe('calls');

    const other = await refreshRaw(server.issuer, 'acme-desktop', String(refreshed.json?.refresh_token), {
      resource: BILLING,
    });
    expect(other.status, other.text).toBe(400);
    expect(other.json?.error).toBe('invalid_target');
  });

  it('the launch page names the API and the scopes the app will reach', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const desktop = await discover(server.issuer, 'acme-desktop');
      const pending = await buildAuth(desktop, 'com.acme.desktop:/oauth2redirect', {
        resource: API,
        scope: 'openid offline_access calls messages',
      });
      await signInWithPassword(page, pending.url, BOB.email, BOB.password);
      const text = await page.locator('body').innerText();
      expect(text).toContain('Acme Desktop will also reach Acme API (calls)');
      // Without a resource, no such line.
      const plain = await buildAuth(desktop, 'com.acme.desktop:/oauth2redirect');
      await page.goto(plain.url.toString());
      await page.locator('#handoff').waitFor();
      expect(await page.locator('body').innerText()).not.toContain('will also reach');
    } finally {
      await context.close();
    }
  });
});

describe('narrowing an allow-list takes effect at the next refresh', () => {
  it('a refresh token granted for an API stops minting tokens for it once the API no longer lists the app', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'latchkey-allow-list-'));
    const database = await createTestDatabaseUrl('sqlite', dir);
    try {
      // Before: no allow-list (every client, every scope).
      const before = await startTestServer({ databaseUrl: database.url });
      let refreshToken: string;
      try {
        const tokens = await httpSignIn(before.issuer, {
          clientId: 'acme-desktop',
          redirectUri: LOOPBACK,
          ...BOB,
          scope: 'openid offline_access calls',
          resource: API,
        });
        const first = await refreshRaw(before.issuer, 'acme-desktop', tokens.refresh_token, {
          resource: API,
          scope: 'openid calls',
        });
        expect(first.status, first.text).toBe(200);
        refreshToken = String(first.json?.refresh_token);
      } finally {
        await before.dispose();
      }
      // After: the API lists Acme Meetings only.
      const after = await startTestServer({
        databaseUrl: database.url,
        yaml: BASE_YAML.replace(
          'scopes: [calls, messages] }',
          'scopes: [calls, messages], clients: [acme-meetings] }',
        ),
      });
      try {
        expect(after.config.resources[0]?.clients).toEqual({ 'acme-meetings': ['calls', 'messages'] });
        const refused = await refreshRaw(after.issuer, 'acme-desktop', refreshToken, {
          resource: API,
          scope: 'openid calls',
        });
        expect(refused.status, refused.text).toBe(400);
        expect(refused.json?.error).toBe('invalid_target');
      } finally {
        await after.dispose();
      }
    } finally {
      await database.drop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
