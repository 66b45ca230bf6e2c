import type * as client from 'openid-client';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../test-support/browser.js';
import { testDatabaseKinds } from '../test-support/databases.js';
import {
  BrowserTokenSource,
  buildAuth,
  discover,
  postForm,
  routeLoopback,
} from '../test-support/oidc-client.js';
import { startTestServer, type TestServer } from '../test-support/server.js';
import { listSessionsOf } from './session-list.js';
import { describeDevice } from './user-agents.js';

const BOB = { email: 'bob@beta.test', password: 'correct horse battery staple' };
const CHROME_ON_LINUX =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const ACME_ON_WINDOWS = 'Acme Desktop/2.1.0 (Windows NT 10.0; Win64; x64) latchkey-desktop/0.1';

describe('describeDevice', () => {
  it('names browsers from the fixed lists and apps by their first product token', () => {
    expect(describeDevice(CHROME_ON_LINUX)).toBe('Chrome on Linux');
    expect(describeDevice(ACME_ON_WINDOWS)).toBe('Acme Desktop on Windows');
    expect(describeDevice('node')).toBe('Node.js');
    expect(describeDevice(null)).toBe('an unknown program');
    // Anything that is not a plain name stays out.
    expect(describeDevice('<script>alert(1)</script>/1.0 (Linux)')).toBe('an unknown program on Linux');
  });
});

describe.each(testDatabaseKinds())('session listing on %s', (kind) => {
  let server: TestServer;
  let browser: Browser;
  let bob: BrowserTokenSource;
  let context: BrowserContext;
  let meetings: client.Configuration;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer({ kind }), launchBrowser()]);
    context = await browser.newContext({ userAgent: CHROME_ON_LINUX });
    bob = new BrowserTokenSource(context, await discover(server.issuer, 'acme-desktop'), BOB);
    meetings = await discover(server.issuer, 'acme-meetings');
  });
  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
  });

  it('lists the browser, each signed-in app per device with its last refresh, and not an app that never redeemed its code', async () => {
    const signedInAt = Date.now();
    const tokens = await bob.tokens();
    // Acme Meetings gets a code in the same browser but never redeems it.
    const redirectUri = 'http://127.0.0.1:39999/callback';
    const arrived = new Promise<string>((resolve) => {
      void routeLoopback(context, redirectUri, resolve);
    });
    const page = await context.newPage();
    await page.goto((await buildAuth(meetings, redirectUri)).url.toString());
    await page.locator('#handoff').click();
    expect(new URL(await arrived).searchParams.get('code')).toBeTruthy();
    await page.close();
    const userId = String(tokens.claims()?.sub);

    const refreshed = await postForm(
      `${server.issuer}/token`,
      { grant_type: 'refresh_token', client_id: 'acme-desktop', refresh_token: String(tokens.refresh_token) },
      { 'user-agent': ACME_ON_WINDOWS },
    );
    expect(refreshed.status, refreshed.text).toBe(200);
    const refreshedAt = Date.now();

    const listing = await listSessionsOf(server.parts.database, userId);
    expect(listing.apps).toHaveLength(1);
    const [app] = listing.apps;
    expect(app).toMatchObject({
      clientId: 'acme-desktop',
      app: 'Acme Desktop',
      device: 'Acme Desktop on Windows',
      ip: '127.0.0.1',
    });
    expect(app?.createdAt).toBeGreaterThanOrEqual(signedInAt);
    expect(app?.lastUsedAt).toBeGreaterThan(app?.createdAt ?? Number.POSITIVE_INFINITY);
    expect(app?.lastUsedAt).toBeLessThanOrEqual(refreshedAt);
    expect(app?.expiresAt).toBeGreaterThan(refreshedAt);

    expect(listing.browsers).toHaveLength(1);
    const [session] = listing.browsers;
    expect(session).toMatchObject({ device: 'Chrome on Linux', ip: '127.0.0.1' });
    expect(session?.apps.map((a) => a.app).sort()).toEqual(['Acme Desktop', 'Acme Meetings']);

    // Ending the family through the same control the admin and the account page use removes it.
    await server.parts.sessions.endGrant(userId, String(app?.grantId));
    expect((await server.parts.sessions.listing(userId)).apps).toEqual([]);
  });
});
