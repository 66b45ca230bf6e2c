/**
 * The desktop SDK and `latchkey-desktop` against the real server (`latchkey serve` in its own process,
 * real HTTP, Debian's Chromium): every way home to the app, silent sign-in in new processes,
 * concurrent refreshes, revocation, tampered redirects and an offline start.
 */
import { createClient, createMemoryStore, UserCancelledError } from '@latchkey/desktop';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli } from '../packages/cli/src/test-support/run-cli.js';
import { axeViolations } from '../packages/server/src/test-support/axe.js';
import { launchBrowser, waitForText } from '../packages/server/src/test-support/browser.js';
import { BASE_YAML } from '../packages/server/src/test-support/server.js';
import { buildAll } from './support/build.js';
import {
  API,
  AUTH_URL_LINE,
  type BrowserHook,
  cleanUp,
  clickHandoff,
  DESKTOP_SCHEME_REDIRECT,
  desktopProfile,
  type LatchkeyProcess,
  runCli,
  runLatchkey,
  shoot,
  startBrowserHook,
  startLatchkey,
  watchRedirects,
} from './support/harness.js';

const BOB = { email: 'bob@beta.test', password: 'correct horse battery staple' };
const SUITE = 'e2e-desktop';

let server: LatchkeyProcess;
let browser: Browser;
let context: BrowserContext;
let hook: BrowserHook;
let schemeRedirects: ReturnType<typeof watchRedirects>;

beforeAll(async () => {
  await buildAll();
  [server, browser, hook] = await Promise.all([
    startLatchkey({ yaml: BASE_YAML }),
    launchBrowser(),
    startBrowserHook(),
  ]);
  context = await browser.newContext();
  schemeRedirects = watchRedirects(context, `${DESKTOP_SCHEME_REDIRECT}?`);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await hook?.close();
  await server?.dispose();
  await cleanUp();
});

/** Each sign-in in a new tab, as a browser does for a URL an app opens. */
async function openTab(url: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(url);
  return page;
}

/** Password page (the hint skips the email page) → handoff page. */
async function enterPassword(page: Page): Promise<void> {
  await page.getByLabel('Password').fill(BOB.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#handoff').waitFor();
}

/** Signs a fresh profile in through the scheme flow (browser session reused). */
async function signedInProfile(): Promise<Record<string, string>> {
  const env = await desktopProfile(server.issuer);
  const login = startCli(['login', '--flow', 'scheme', '--no-browser', '--email', BOB.email], env);
  const page = await openTab(await login.waitForLine(AUTH_URL_LINE));
  if (!(await page.locator('#handoff').count())) await enterPassword(page);
  const redirect = await clickHandoff(page, schemeRedirects);
  await page.close();
  expect((await runCli(['open-url', redirect], env)).code).toBe(0);
  expect((await login.exited).code).toBe(0);
  return env;
}

describe('interactive sign-in, each way home', () => {
  it('loopback: login opens the browser ($BROWSER), Continue returns to 127.0.0.1, the CLI is signed in', async () => {
    const env = await desktopProfile(server.issuer);
    const login = startCli(['login', '--email', BOB.email], { ...env, ...hook.env });
    const url = new URL(await hook.next());
    expect(url.searchParams.get('login_hint')).toBe(BOB.email);
    expect(url.searchParams.get('resource')).toBe(API);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);

    const page = await openTab(url.href);
    await waitForText(page.locator('.identity'), /Signing in as bob@beta\.test/);
    await shoot(page, SUITE, 'loopback-1-password');
    await enterPassword(page);
    await waitForText(page.locator('#handoff'), 'Continue to Acme Desktop');
    await shoot(page, SUITE, 'loopback-2-continue');
    await page.locator('#handoff').click();
    await page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    await waitForText(page.locator('h1'), 'Signed in');
    await shoot(page, SUITE, 'loopback-3-done');
    await page.close();

    const result = await login.exited;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`Signed in as ${BOB.email}.`);
  });

  it('loopback, the app no longer waiting: after the click the page says so and sends nothing', async () => {
    // The app gave up (its wait is minutes, the page is valid for an hour): its receiver is closed.
    let authorizationUrl = '';
    const client = await createClient({
      issuer: server.issuer,
      clientId: 'acme-desktop',
      redirect: 'loopback',
      store: createMemoryStore(),
      cacheDir: (await desktopProfile(server.issuer)).LATCHKEY_CACHE_DIR as string,
      openBrowser: (url) => {
        authorizationUrl = url;
        stopWaiting.abort();
      },
    });
    const stopWaiting = new AbortController();
    try {
      await expect(
        client.signIn({ loginHint: BOB.email, signal: stopWaiting.signal }),
      ).rejects.toBeInstanceOf(UserCancelledError);
    } finally {
      await client.close();
    }
    const redirectUri = new URL(authorizationUrl).searchParams.get('redirect_uri') as string;
    // A context of its own, with the page's policy bypassed so that axe can be injected (the happy
    // path above runs the same probe under the real policy).
    const own = await browser.newContext({ bypassCSP: true });
    try {
      const page = await own.newPage();
      await page.goto(authorizationUrl);
      await enterPassword(page);
      await waitForText(page.locator('#handoff'), 'Continue to Acme Desktop');
      const launchUrl = page.url();
      const redirects: string[] = [];
      page.on('request', (request) => {
        if (request.url().startsWith(redirectUri)) redirects.push(request.url());
      });
      await page.locator('#handoff').click();
      await waitForText(page.locator('h1'), 'Acme Desktop is no longer waiting');
      expect(await page.getByRole('alert').innerText()).toContain(
        'Acme Desktop is no longer waiting for this sign-in. Start again from the app.',
      );
      await shoot(page, SUITE, 'loopback-app-gone');
      // Nothing was sent: the tab is still Latchkey's page, no code went to the dead address.
      expect(page.url()).toBe(launchUrl);
      expect(redirects).toEqual([]);
      expect(await page.locator('#handoff').isVisible()).toBe(false);
      expect(await page.getByText('You will be returned to').isVisible()).toBe(false);
      expect(await axeViolations(page)).toEqual([]);
    } finally {
      await own.close();
    }
  });

  it('scheme: Playwright clicks Launch, open-url in a separate process forwards the URL to the waiting login', async () => {
    const env = await desktopProfile(server.issuer);
    const login = startCli(['login', '--flow', 'scheme', '--json'], { ...env, ...hook.env });
    const page = await openTab(await hook.next());
    // The browser session from the last test: no credentials, one click.
    await waitForText(page.locator('#handoff'), 'Launch Acme Desktop');
    await shoot(page, SUITE, 'scheme-launch');
    const redirect = await clickHandoff(page, schemeRedirects);
    await page.close();
    expect(new URL(redirect).searchParams.get('iss')).toBe(server.issuer); // RFC 9207

    const forwarded = await runCli(['open-url', redirect, '--json'], env);
    expect(forwarded.code, forwarded.stderr).toBe(0);
    expect(JSON.parse(forwarded.stdout)).toMatchObject({
      handledBy: 'running-app',
      account: { email: BOB.email },
    });
    const result = await login.exited;
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ status: 'signed-in', account: { email: BOB.email } });
  });

  it('scheme, cold start: with login gone, open-url finishes the sign-in itself', async () => {
    const env = await desktopProfile(server.issuer);
    const login = startCli(['login', '--flow', 'scheme', '--no-browser'], env);
    const url = await login.waitForLine(AUTH_URL_LINE);
    login.kill('SIGKILL');
    await login.exited;
    const page = await openTab(url);
    const redirect = await clickHandoff(page, schemeRedirects);
    await page.close();

    const cold = await runCli(['open-url', redirect, '--json'], env);
    expect(cold.code, cold.stderr).toBe(0);
    expect(JSON.parse(cold.stdout)).toMatchObject({ handledBy: 'cold-start', account: { email: BOB.email } });
    expect((await runCli(['whoami'], env)).stdout).toContain(BOB.email);
    // The same URL again: its pending sign-in is used up.
    const again = await runCli(['open-url', redirect], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/No sign-in is waiting/);
  });

  it('device flow: code and link printed, Allow in the browser, the CLI is signed in', async () => {
    const env = await desktopProfile(server.issuer);
    const login = startCli(['login', '--flow', 'device'], env);
    const userCode = (await login.waitForLine(/^ {4}[A-Z0-9-]{6,}$/)).trim();
    const link = await login.waitForLine(/^http:\/\/127\.0\.0\.1:\d+\/device\?user_code=/);
    const page = await openTab(link.trim());
    // The link carries the code; the page shows it filled in, for the person to compare and submit.
    await waitForText(page.locator('h1'), 'Connect a device');
    expect(await page.getByLabel('Code shown on your device').inputValue()).toBe(userCode);
    await page.getByRole('button', { name: 'Continue' }).click();
    await waitForText(page.locator('#handoff'), 'Allow');
    expect(await page.locator('body').textContent()).toContain(userCode);
    await shoot(page, SUITE, 'device-2-allow');
    await page.locator('#handoff').click();
    await waitForText(page.locator('h1'), 'Device connected');
    await shoot(page, SUITE, 'device-3-done');
    await page.close();
    const result = await login.exited;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`Signed in as ${BOB.email}.`);
  });
});

describe('after sign-in', () => {
  let env: Record<string, string>;
  beforeAll(async () => {
    env = await signedInProfile();
  });

  it('a new process signs in silently; its access token for the API is a JWT verifiable offline', async () => {
    const whoami = await runCli(['whoami', '--json'], env);
    expect(whoami.code, whoami.stderr).toBe(0);
    expect(JSON.parse(whoami.stdout)).toMatchObject({ status: 'signed-in', account: { email: BOB.email } });

    const token = await runCli(['token', '--resource', API, '--json'], env);
    expect(token.code, token.stderr).toBe(0);
    const { access_token: accessToken } = JSON.parse(token.stdout) as { access_token: string };
    const { payload } = await jwtVerify(accessToken, createRemoteJWKSet(new URL(`${server.issuer}/jwks`)), {
      issuer: server.issuer,
      audience: API,
      typ: 'at+jwt',
    });
    expect(payload.client_id).toBe('acme-desktop');
    expect(payload.org_id).toBe('beta');
  });

  it('three processes refreshing at once all succeed, and the sign-in survives', async () => {
    const results = await Promise.all([1, 2, 3].map(() => runCli(['token', '--resource', API], env)));
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    const tokens = new Set(results.map((r) => r.stdout.trim()));
    expect(tokens.size).toBe(3);
    const whoami = await runCli(['whoami'], env);
    expect(whoami.code, whoami.stderr).toBe(0);
  });

  it('a wrong state is refused without disturbing the waiting sign-in; a wrong iss fails it', async () => {
    const fresh = await desktopProfile(server.issuer);
    const login = startCli(['login', '--flow', 'scheme', '--no-browser', '--json'], fresh);
    const page = await openTab(await login.waitForLine(AUTH_URL_LINE));
    const redirect = new URL(await clickHandoff(page, schemeRedirects));
    await page.close();

    const wrongState = new URL(redirect);
    wrongState.searchParams.set('state', 'forged-state-value');
    const refused = await runCli(['open-url', wrongState.href], fresh);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/No sign-in is waiting/);

    const wrongIss = new URL(redirect);
    wrongIss.searchParams.set('iss', 'http://127.0.0.1:1/');
    const mixUp = await runCli(['open-url', wrongIss.href, '--json'], fresh);
    expect(mixUp.code).toBe(1);
    expect(JSON.parse(mixUp.stdout)).toMatchObject({ code: 'unexpected_response' });
    const result = await login.exited;
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ code: 'unexpected_response' });
    // Nothing was stored: the code was never exchanged.
    expect((await runCli(['whoami'], fresh)).code).toBe(3);
  });

  it('loopback: a forged callback with the wrong state ends the sign-in with an error, nothing stored', async () => {
    const fresh = await desktopProfile(server.issuer);
    const login = startCli(['login', '--no-browser', '--json'], fresh);
    const url = new URL(await login.waitForLine(AUTH_URL_LINE));
    const callback = new URL(url.searchParams.get('redirect_uri') as string);
    callback.search = new URLSearchParams({ code: 'forged', state: 'forged', iss: server.issuer }).toString();
    const response = await fetch(callback);
    expect(response.status).toBeGreaterThanOrEqual(400);
    const result = await login.exited;
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ code: 'unexpected_response' });
    expect((await runCli(['whoami'], fresh)).code).toBe(3);
  });

  it('revocation by the admin: the next silent sign-in asks for interaction, with the last email as the hint', async () => {
    const revoke = await runLatchkey(server, ['admin', 'sessions', 'revoke', '--user', BOB.email]);
    expect(revoke.code, revoke.stderr).toBe(0);
    const token = await runCli(['token', '--json'], env);
    expect(token.code).toBe(3);
    expect(JSON.parse(token.stdout)).toMatchObject({ code: 'interaction_required', loginHint: BOB.email });
    expect(token.stderr).toContain(`latchkey-desktop login --email ${BOB.email}`);

    // `login` with no --email proposes the last account, and signing in again works.
    const login = startCli(['login'], { ...env, ...hook.env });
    const url = new URL(await hook.next());
    expect(url.searchParams.get('login_hint')).toBe(BOB.email);
    const page = await openTab(url.href);
    // The browser session was revoked with everything else: the password is asked again.
    await enterPassword(page);
    await page.locator('#handoff').click();
    await page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    await page.close();
    expect((await login.exited).code).toBe(0);
    expect((await runCli(['whoami'], env)).code).toBe(0);
  });

  it('the SDK in-process: sign in, access token for the API, sign out revokes at the server', async () => {
    // The same browser session the CLI signed in with: one click, and a grant of its own, so that
    // signing the SDK out (RFC 7009 revokes its whole grant) leaves the CLI signed in.
    const client = await createClient({
      issuer: server.issuer,
      clientId: 'acme-desktop',
      redirect: 'loopback',
      store: createMemoryStore(),
      resources: [API],
      cacheDir: env.LATCHKEY_CACHE_DIR as string,
      // The SDK awaits openBrowser before it listens for the redirect, as with a real browser: drive
      // the page on the side.
      openBrowser: (url) => {
        browsing = (async () => {
          const page = await openTab(url);
          if (!(await page.locator('#handoff').count())) await enterPassword(page);
          await page.locator('#handoff').click();
          await page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/$/);
          await page.close();
        })();
      },
    });
    let browsing: Promise<void> = Promise.resolve();
    try {
      const result = await client.signIn({ loginHint: BOB.email });
      await browsing;
      expect(result.account.email).toBe(BOB.email);
      const token = await client.getAccessToken({ resource: API });
      expect(JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()).aud).toBe(API);
      expect((await client.signOut()).revoked).toBe(true);
      expect((await client.getState()).status).toBe('signed-out');
      // The CLI's sign-in, from the same browser session, is untouched.
      expect((await runCli(['whoami'], env)).code).toBe(0);
    } finally {
      await client.close();
    }
  });

  it("the README's launch pattern spends one refresh token: getState() is local, getAccessToken() rotates once", async () => {
    const store = createMemoryStore();
    const cacheDir = (await desktopProfile(server.issuer)).LATCHKEY_CACHE_DIR as string;
    const first = await createClient({
      issuer: server.issuer,
      clientId: 'acme-desktop',
      redirect: 'loopback',
      store,
      resources: [API],
      cacheDir,
      openBrowser: (url) => {
        browsing = (async () => {
          const page = await openTab(url);
          if (!(await page.locator('#handoff').count())) await enterPassword(page);
          await page.locator('#handoff').click();
          await page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/$/);
          await page.close();
        })();
      },
    });
    let browsing: Promise<void> = Promise.resolve();
    await first.signIn({ loginHint: BOB.email });
    await browsing;
    await first.close();
    const key = `latchkey:acme-desktop@${new URL(server.issuer).href}`;
    const stored = () =>
      store.read(key).then((text) => (JSON.parse(text ?? '{}') as { refreshToken?: string }).refreshToken);
    const signedInWith = await stored();
    expect(signedInWith).toBeTruthy();

    // The next launch, as the README writes it: a new client, getState(), then a token.
    let refreshes = 0;
    const launch = await createClient({
      issuer: server.issuer,
      clientId: 'acme-desktop',
      redirect: 'loopback',
      store,
      resources: [API],
      cacheDir,
      fetch: async (input, init) => {
        if (init?.body instanceof URLSearchParams && init.body.get('grant_type') === 'refresh_token')
          refreshes += 1;
        return fetch(input, init);
      },
    });
    try {
      const state = await launch.getState();
      expect(state).toMatchObject({ status: 'signed-in', account: { email: BOB.email } });
      expect(refreshes).toBe(0);
      expect(await stored()).toBe(signedInWith);
      await launch.getAccessToken({ resource: API });
      await launch.getAccessToken({ resource: API }); // from memory
      expect(refreshes).toBe(1);
      const rotated = await stored();
      expect(rotated).not.toBe(signedInWith);
      // The server rotated exactly once: the token the store now holds is the live one.
      const again = await createClient({
        issuer: server.issuer,
        clientId: 'acme-desktop',
        redirect: 'loopback',
        store,
        resources: [API],
        cacheDir,
      });
      await again.signInSilently({ resource: API, forceRefresh: true });
      await again.close();
    } finally {
      await launch.close();
    }
  });

  it('offline start: with the server stopped, whoami reports offline, not signed out; back when it returns', async () => {
    expect(await server.stop()).toBe(0); // graceful stop on SIGTERM
    const offline = await runCli(['whoami', '--json'], env);
    expect(offline.code).toBe(5);
    expect(JSON.parse(offline.stdout)).toMatchObject({ status: 'offline', account: { email: BOB.email } });
    await server.restart();
    const back = await runCli(['whoami'], env);
    expect(back.code, back.stderr).toBe(0);
  });
});
