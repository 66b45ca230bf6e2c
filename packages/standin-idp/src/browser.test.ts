import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StandinIdp, startStandinIdp } from './standin-idp.js';
import { totpCode } from './totp.js';

const CHROMIUM = '/usr/bin/chromium';
const TOTP = 'JBSWY3DPEHPK3PXP';

describe.skipIf(!existsSync(CHROMIUM))('stand-in IdP in a real browser', () => {
  let browser: Browser;
  let idp: StandinIdp;
  let app: Server;
  let redirectUri: string;

  beforeAll(async () => {
    // A stand-in for the relying party: it only has to answer the redirect back.
    app = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>callback</title><p id="done">back at the app</p>');
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    redirectUri = `http://127.0.0.1:${(app.address() as AddressInfo).port}/callback`;
    idp = await startStandinIdp({
      profile: 'google',
      users: [{ email: 'alice@acme.test', password: 'alice-pw', totpSecret: TOTP, name: 'Alice' }],
      clients: [{ client_id: 'latchkey', client_secret: 's3cret', redirect_uris: [redirectUri] }],
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await idp?.close();
    await new Promise((resolve) => app?.close(resolve));
  });

  it('goes from login_hint prefill through password and TOTP back to the app with a code', async () => {
    const page = await browser.newPage();
    const url = new URL('/auth', idp.issuer);
    url.search = new URLSearchParams({
      client_id: 'latchkey',
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: 'openid email profile',
      state: 'browser-state',
      nonce: 'browser-nonce',
      login_hint: 'alice@acme.test',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWZ5yuPa3o5Lk',
      code_challenge_method: 'S256',
    }).toString();
    await page.goto(url.href);

    // The hinted email is shown; the email page was skipped.
    await expect(page.locator('#who').textContent()).resolves.toBe('alice@acme.test');
    await page.fill('#password', 'wrong');
    await page.click('#next');
    await expect(page.locator('[role=alert]').textContent()).resolves.toBe('Wrong password. Try again.');

    await page.fill('#password', 'alice-pw');
    await page.click('#next');
    await page.waitForSelector('form[data-step=totp]');
    await expect(page.locator('h2').textContent()).resolves.toBe('2-Step Verification');
    await page.fill('#code', await totpCode(TOTP));
    await Promise.all([page.waitForURL(`${redirectUri}?**`), page.click('#next')]);

    const back = new URL(page.url());
    expect(back.searchParams.get('state')).toBe('browser-state');
    expect(back.searchParams.get('code')).toBeTruthy();
    expect(back.searchParams.get('iss')).toBe(idp.issuer);
    await expect(page.locator('#done').textContent()).resolves.toBe('back at the app');
    expect(idp.requests.at(-1)?.params).toMatchObject({
      login_hint: 'alice@acme.test',
      code_challenge_method: 'S256',
    });
  });

  it('shows the hinted email pre-filled on the email page after "Not you?"', async () => {
    const page = await browser.newPage();
    const url = new URL('/auth', idp.issuer);
    url.search = new URLSearchParams({
      client_id: 'latchkey',
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: 'openid',
      login_hint: 'someone-else@acme.test',
    }).toString();
    await page.goto(url.href);
    // An unknown hinted account stays on the email page, pre-filled.
    await expect(page.locator('#email').inputValue()).resolves.toBe('someone-else@acme.test');
    await page.fill('#email', 'alice@acme.test');
    await page.click('#next');
    await page.waitForSelector('form[data-step=password]');
    await page.click('#switch');
    await expect(page.locator('#email').inputValue()).resolves.toBe('');
    await Promise.all([page.waitForURL(`${redirectUri}?**`), page.click('#cancel')]);
    expect(new URL(page.url()).searchParams.get('error')).toBe('access_denied');
  });
});
