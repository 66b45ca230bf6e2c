import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, waitForText } from '../test-support/browser.js';
import { buildAuth, discover } from '../test-support/oidc-client.js';
import { BASE_YAML, startTestServer, type TestServer } from '../test-support/server.js';

const SCHEME = 'com.acme.desktop:/oauth2redirect';
const RAW = /"statusCode"|"error":|invalid_request"|Bad Request/;

/**
 * Every error a person can reach off the happy path ends on a readable page in the product's layout,
 * with a reference id that is in the log, and — when Latchkey still knows the app's request — a
 * "Start again" that replays it.
 */
describe('errors people reach', () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    [server, browser] = await Promise.all([
      startTestServer({ yaml: `${BASE_YAML}\nlifetimes: { interaction: 3s }\n` }),
      launchBrowser(),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
  });

  async function start(redirectUri = SCHEME): Promise<{ page: Page; authUrl: URL }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    const desktop = await discover(server.issuer, 'acme-desktop');
    const authUrl = (await buildAuth(desktop, redirectUri)).url;
    await page.goto(authUrl.toString());
    await waitForText(page.locator('h1'), 'Sign in to Acme Desktop');
    return { page, authUrl };
  }

  /** A readable page: a heading, words, a reference that the log holds, never Fastify's JSON. */
  async function expectReadable(page: Page, heading: string): Promise<void> {
    const body = await page.content();
    expect(body).not.toMatch(RAW);
    await waitForText(page.locator('h1'), heading);
    expect(await page.locator('link[rel=stylesheet]').count()).toBe(1);
    await expectReference(page);
  }

  async function expectReference(page: Page): Promise<void> {
    const reference = /Reference: ([\w-]+)/.exec(await page.locator('main').innerText())?.[1];
    expect(reference, 'a reference id on the page').toBeTruthy();
    expect(server.logLines.some((line) => line.includes(reference as string))).toBe(true);
  }

  /** "Start again" replays the app's own authorization request: the same client, redirect, state, PKCE. */
  async function expectStartAgain(page: Page, authUrl: URL): Promise<void> {
    const href = await page.getByRole('link', { name: 'Start again' }).getAttribute('href');
    const replay = new URL(href as string, server.issuer);
    expect(replay.pathname).toBe('/auth');
    for (const key of ['client_id', 'redirect_uri', 'state', 'code_challenge', 'scope', 'nonce'])
      expect(replay.searchParams.get(key), key).toBe(authUrl.searchParams.get(key));
    await page.getByRole('link', { name: 'Start again' }).click();
    // The email page, or (the browser session still live) the launch page.
    await waitForText(page.locator('h1'), /^(Sign in to|Launch|Continue to) Acme Desktop$/);
  }

  it('cookies cleared mid-form: a readable page and Start again', async () => {
    const { page, authUrl } = await start();
    await page.context().clearCookies();
    await page.getByLabel('Work email').fill('bob@beta.test');
    await page.getByRole('button', { name: 'Continue' }).click();
    await expectReadable(page, 'This sign-in can’t continue');
    await expectStartAgain(page, authUrl);
  });

  it('the interaction opened in another browser: a readable page and Start again', async () => {
    const { page, authUrl } = await start();
    const other = await (await browser.newContext()).newPage();
    await other.goto(page.url());
    await expectReadable(other, 'This sign-in can’t continue');
    await expectStartAgain(other, authUrl);
  });

  it('a bogus interaction id: a readable page that sends the person back to the app', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${server.issuer}/interaction/not-a-real-one`);
    await expectReadable(page, 'This sign-in can’t continue');
    expect(await page.locator('main').innerText()).toMatch(/start again from your app/i);
  });

  it('an expired sign-in: a readable page and Start again', async () => {
    const { page, authUrl } = await start();
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    await page.getByLabel('Work email').fill('bob@beta.test');
    await page.getByRole('button', { name: 'Continue' }).click();
    await expectReadable(page, 'This sign-in can’t continue');
    await expectStartAgain(page, authUrl);
  });

  it('Back after Continue: the page says the sign-in finished, and Start again', async () => {
    // The app's loopback listener (RFC 8252 §7.3): the tab lands there after Continue, and Back leaves it.
    const loopback = createServer((_req, res) => res.end('signed in'));
    await new Promise<void>((resolve) => loopback.listen(0, '127.0.0.1', resolve));
    try {
      const redirect = `http://127.0.0.1:${(loopback.address() as AddressInfo).port}/callback`;
      const { page, authUrl } = await start(redirect);
      await page.getByLabel('Work email').fill('bob@beta.test');
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByLabel('Password').fill('correct horse battery staple');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await waitForText(page.locator('#handoff'), 'Continue to Acme Desktop');
      await page.locator('#handoff').click();
      await page.waitForURL(/127\.0\.0\.1:\d+\/callback/);
      await page.goBack();
      await expectReadable(page, 'This sign-in is finished');
      await expectStartAgain(page, authUrl);
    } finally {
      loopback.close();
    }
  });

  it('unknown client and unregistered redirect: words first, the code in a details line', async () => {
    const page = await (await browser.newContext()).newPage();
    const auth = new URL(`${server.issuer}/auth`);
    auth.search = new URLSearchParams({
      client_id: 'nope',
      response_type: 'code',
      scope: 'openid',
      redirect_uri: SCHEME,
    }).toString();
    await page.goto(auth.toString());
    const text = await page.locator('main').innerText();
    expect(text).toMatch(/not registered/);
    expect(text).not.toMatch(/client is invalid/);
    expect(await page.locator('details').textContent()).toMatch(/invalid_client/);
    await expectReference(page);
    auth.searchParams.set('client_id', 'acme-desktop');
    auth.searchParams.set('redirect_uri', 'com.evil:/x');
    await page.goto(auth.toString());
    expect(await page.locator('main').innerText()).toMatch(/not registered/);
    expect(await page.locator('details').textContent()).toMatch(/invalid_redirect_uri|redirect_uri/);
    await expectReference(page);
  });

  it('an unknown email domain keeps the typed email, with the error inline', async () => {
    const { page } = await start();
    await page.getByLabel('Work email').fill('bob@betta.test');
    await page.getByRole('button', { name: 'Continue' }).click();
    await waitForText(page.locator('.alert.error'), /betta\.test/);
    expect(await page.getByLabel('Work email').inputValue()).toBe('bob@betta.test');
  });
});
