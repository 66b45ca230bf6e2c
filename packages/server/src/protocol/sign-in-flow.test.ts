import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as client from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { launchBrowser, screenshot, waitForText } from '../test-support/browser.js';
import { testDatabaseKinds } from '../test-support/databases.js';
import { buildAuth, captureRedirects, discover, exchange } from '../test-support/oidc-client.js';
import { startTestServer, type TestServer } from '../test-support/server.js';

const SCHEME = 'com.acme.desktop:/oauth2redirect';
const BOB = { email: 'bob@beta.test', password: 'correct horse battery staple' };

describe.each(testDatabaseKinds())('sign-in flow on %s', (kind) => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let desktop: client.Configuration;
  let redirects: ReturnType<typeof captureRedirects>;
  let loopback: Server;
  const loopbackHits: string[] = [];

  beforeAll(async () => {
    server = await startTestServer({ kind });
    browser = await launchBrowser();
    context = await browser.newContext();
    // The app's loopback listener, as the SDK would run it (any port: RFC 8252 §7.3).
    loopback = createServer((req, res) => {
      // Only the callback path counts: Chromium also asks for /favicon.ico.
      if (req.url?.startsWith('/callback'))
        loopbackHits.push(`http://127.0.0.1:${(loopback.address() as AddressInfo).port}${req.url}`);
      res.end('ok');
    });
    await new Promise<void>((resolve) => loopback.listen(0, '127.0.0.1', resolve));
    page = await context.newPage();
    redirects = captureRedirects(context, '');
    desktop = await discover(server.issuer, 'acme-desktop');
  });

  // Each sign-in starts in a new tab, as the SDK opens one per sign-in. (Chromium also ignores further
  // form posts from a tab whose last navigation went to an external protocol handler.)
  beforeEach(async () => {
    await page?.close();
    page = await context.newPage();
  });

  afterAll(async () => {
    loopback?.close();
    await browser?.close();
    await server?.dispose();
  });

  async function clickHandoff(expectedPrefix: string): Promise<string> {
    const waiting = (async () => {
      for (;;) {
        const url = await redirects.next();
        if (url.startsWith(expectedPrefix)) return url;
      }
    })();
    await page.locator('#handoff').click();
    return waiting;
  }

  let refreshToken: string;

  it('signs a local user in through the browser and hands the code to the app by its private scheme', async () => {
    // The app declares the API it will call, so its refresh token can mint JWTs for it later.
    const pending = await buildAuth(desktop, SCHEME, {
      resource: 'https://api.acme.test',
      scope: 'openid email profile offline_access calls',
    });
    await page.goto(pending.url.toString());
    await waitForText(page.locator('h1'), 'Sign in to Acme Desktop');
    await screenshot(page, 'protocol', `${kind}-01-email`);
    await page.getByLabel('Work email').fill(BOB.email);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.locator('input[autocomplete="current-password"]').waitFor();
    await screenshot(page, 'protocol', `${kind}-02-password`);
    await page.getByLabel('Password').fill(BOB.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await waitForText(page.locator('#handoff'), 'Launch Acme Desktop');
    await waitForText(page.locator('.identity'), /Signed in as bob@beta\.test/);
    await page.getByRole('link', { name: 'Nothing happened? Try again' }).waitFor();
    await screenshot(page, 'protocol', `${kind}-03-handoff`);

    const callback = await clickHandoff(SCHEME);
    const callbackUrl = new URL(callback);
    expect(callbackUrl.searchParams.get('iss')).toBe(server.issuer); // RFC 9207
    const tokens = await exchange(desktop, pending, callback);
    expect(tokens.refresh_token).toBeTruthy();
    expect(tokens.access_token).toBeTruthy();
    expect(decodeProtectedHeader(tokens.id_token as string).alg).toBe('ES256');
    const claims = tokens.claims();
    expect(claims?.email).toBe(BOB.email);
    expect(claims?.amr).toEqual(['pwd']);
    refreshToken = tokens.refresh_token as string;
  });

  it('a second app in the same browser gets its code after one click and no credentials', async () => {
    const meetings = await discover(server.issuer, 'acme-meetings');
    const pending = await buildAuth(meetings, 'com.acme.meetings:/oauth2redirect');
    await page.goto(pending.url.toString());
    await waitForText(page.locator('#handoff'), 'Launch Acme Meetings');
    expect(await page.locator('input[type=password]').count()).toBe(0);
    const callback = await clickHandoff('com.acme.meetings:');
    const tokens = await exchange(meetings, pending, callback);
    expect(tokens.claims()?.email).toBe(BOB.email);
  });

  it('"Try again" replays the authorization request and never resends an old code', async () => {
    const pending = await buildAuth(desktop, SCHEME);
    await page.goto(pending.url.toString());
    const retryHref = await page
      .getByRole('link', { name: 'Nothing happened? Try again' })
      .getAttribute('href');
    const first = await clickHandoff(SCHEME);
    // The person clicks "Try again" (a new tab here; see beforeEach).
    page = await context.newPage();
    await page.goto(new URL(retryHref as string, server.issuer).toString());
    await page.locator('#handoff').waitFor();
    const second = await clickHandoff(SCHEME);
    expect(new URL(second).searchParams.get('code')).not.toBe(new URL(first).searchParams.get('code'));
    expect(new URL(second).searchParams.get('state')).toBe(pending.state);
    await exchange(desktop, pending, second);
  });

  it('loopback redirect: Continue returns to 127.0.0.1 on any port', async () => {
    const port = (loopback.address() as AddressInfo).port;
    const pending = await buildAuth(desktop, `http://127.0.0.1:${port}/callback`);
    await page.goto(pending.url.toString());
    await waitForText(page.locator('#handoff'), 'Continue to Acme Desktop');
    const callback = await clickHandoff(`http://127.0.0.1:${port}/callback`);
    await page.waitForURL(/127\.0\.0\.1:\d+\/callback/);
    expect(loopbackHits.at(-1)).toBe(callback);
    const tokens = await exchange(desktop, pending, callback);
    expect(tokens.refresh_token).toBeTruthy();
  });

  it('access tokens for a registered resource are RFC 9068 JWTs verifiable offline', async () => {
    const tokens = await client.refreshTokenGrant(desktop, refreshToken, {
      resource: 'https://api.acme.test',
      scope: 'openid calls',
    });
    refreshToken = tokens.refresh_token as string;
    const jwks = createRemoteJWKSet(new URL(`${server.issuer}/jwks`));
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, {
      issuer: server.issuer,
      audience: 'https://api.acme.test',
      typ: 'at+jwt',
    });
    expect(protectedHeader.alg).toBe('ES256');
    expect(payload.org_id).toBe('beta');
    expect(payload.groups).toEqual([]);
    expect(String(payload.scope)).toContain('calls');
    expect(payload.client_id).toBe('acme-desktop');
  });

  it('each sign-in of an app holds its own grant: signing one install out leaves the others signed in', async () => {
    // A second install of Acme Desktop (another machine account, a device-flow kiosk) signed in from
    // the same browser session: one click, no credentials.
    const pending = await buildAuth(desktop, SCHEME);
    await page.goto(pending.url.toString());
    await waitForText(page.locator('#handoff'), 'Launch Acme Desktop');
    const second = await exchange(desktop, pending, await clickHandoff(SCHEME));
    expect(second.claims()?.email).toBe(BOB.email);

    // The second install signs out (RFC 7009). The engine revokes that token's whole grant.
    await client.tokenRevocation(desktop, second.refresh_token as string);
    await expect(client.refreshTokenGrant(desktop, second.refresh_token as string)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    // The first install is untouched, and so is its access to the API it was granted.
    const first = await client.refreshTokenGrant(desktop, refreshToken, {
      resource: 'https://api.acme.test',
      scope: 'openid calls',
    });
    refreshToken = first.refresh_token as string;
    expect(first.access_token).toBeTruthy();
  });

  it('"Not you?" switches account', async () => {
    const pending = await buildAuth(desktop, SCHEME);
    await page.goto(pending.url.toString());
    await page.getByRole('link', { name: 'Not you?' }).click();
    await page.getByLabel('Work email').fill('carol@beta.test');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Password').fill("carol's long password");
    await page.getByRole('button', { name: 'Sign in' }).click();
    await waitForText(page.locator('.identity'), /carol@beta\.test/);
    const callback = await clickHandoff(SCHEME);
    const tokens = await exchange(desktop, pending, callback);
    expect(tokens.claims()?.email).toBe('carol@beta.test');
  });

  it('a login_hint naming someone else than the session user asks for that user', async () => {
    const pending = await buildAuth(desktop, SCHEME, { login_hint: BOB.email });
    await page.goto(pending.url.toString());
    // Carol holds the session now: Bob's hint goes straight to Bob's password page.
    await waitForText(page.locator('.identity'), /Signing in as bob@beta\.test/);
    await page.getByLabel('Password').fill(BOB.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await waitForText(page.locator('.identity'), /Signed in as bob@beta\.test/);
  });

  it('a wrong password is refused on a readable page, and an unknown email walks the same pages', async () => {
    const fresh = await browser.newContext();
    const p = await fresh.newPage();
    const pending = await buildAuth(desktop, SCHEME);
    await p.goto(pending.url.toString());
    await p.getByLabel('Work email').fill(BOB.email);
    await p.getByRole('button', { name: 'Continue' }).click();
    await p.getByLabel('Password').fill('wrong');
    await p.getByRole('button', { name: 'Sign in' }).click();
    await waitForText(p.getByRole('alert'), 'Wrong password. Try again.');

    await p.goto((await buildAuth(desktop, SCHEME)).url.toString());
    await p.getByLabel('Work email').fill('nobody@beta.test');
    await p.getByRole('button', { name: 'Continue' }).click();
    await p.getByLabel('Password').fill('anything at all');
    await p.getByRole('button', { name: 'Sign in' }).click();
    await waitForText(p.getByRole('alert'), 'Wrong password. Try again.');
    await fresh.close();
  });

  it('an email from a domain no organization claims gets a clear page', async () => {
    const fresh = await browser.newContext();
    const p = await fresh.newPage();
    await p.goto((await buildAuth(desktop, SCHEME)).url.toString());
    await p.getByLabel('Work email').fill('someone@example.com');
    await p.getByRole('button', { name: 'Continue' }).click();
    await waitForText(p.locator('body'), /No organization is set up for example\.com/);
    await fresh.close();
  });

  it('an email with markup is displayed, never executed', async () => {
    const fresh = await browser.newContext();
    const p = await fresh.newPage();
    let dialog = false;
    p.on('dialog', (d) => {
      dialog = true;
      void d.dismiss();
    });
    const hostile = '"><script>alert(1)</script>@beta.test';
    await p.goto((await buildAuth(desktop, SCHEME)).url.toString());
    await p.getByLabel('Work email').fill(hostile);
    await p.getByRole('button', { name: 'Continue' }).click();
    await waitForText(p.locator('.identity'), /Signing in as/);
    expect(await p.locator('.identity').innerText()).toContain(hostile);
    expect(await p.locator('script').count()).toBe(0);
    expect(dialog).toBe(false);
    await fresh.close();
  });

  it('pages send CSP with frame-ancestors none and no-referrer', async () => {
    const response = await fetch((await buildAuth(desktop, SCHEME)).url, { redirect: 'manual' });
    const interaction = response.headers.get('location') as string;
    const pageResponse = await fetch(new URL(interaction, server.issuer), {
      headers: { cookie: (response.headers.getSetCookie?.() ?? []).map((c) => c.split(';')[0]).join('; ') },
    });
    expect(pageResponse.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(pageResponse.headers.get('referrer-policy')).toBe('no-referrer');
    expect(pageResponse.headers.get('x-frame-options')).toBe('DENY');
  });

  it('no password, code or token reaches the log', async () => {
    const log = server.logLines.join('\n');
    expect(log.length).toBeGreaterThan(0);
    expect(log).not.toContain(BOB.password);
    expect(log).not.toContain(refreshToken);
    expect(log).not.toMatch(/[?&]code=/);
    expect(log).not.toContain("carol's long password");
  });
});
