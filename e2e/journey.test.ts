/**
 * The whole journey, as a person lives it: real processes (`latchkey serve`,
 * `latchkey-desktop`, `latchkey admin`), real HTTP, Debian's Chromium, the stand-in Google IdP with
 * password and 2-step verification. Every page is photographed: test-results/journey-<db>/ and, from
 * the SQLite run, docs/journey/ (the README's pictures; rewritten with LATCHKEY_UPDATE_JOURNEY=1).
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { createFileStore } from '@latchkey/desktop';
import { calculateJwkThumbprint, decodeJwt } from 'jose';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli } from '../packages/cli/src/test-support/run-cli.js';
import { DEMO_USERS, demoYaml } from '../packages/demo/src/demo.js';
import { launchBrowser, waitForText } from '../packages/server/src/test-support/browser.js';
import { testDatabaseKinds } from '../packages/server/src/test-support/databases.js';
import { type StandinIdp, startStandinIdp, totpCode } from '../packages/standin-idp/src/index.js';
import { buildAll } from './support/build.js';
import {
  API,
  type BrowserHook,
  cleanUp,
  clickHandoff,
  desktopProfile,
  freePort,
  type LatchkeyProcess,
  runCli,
  runLatchkey,
  shoot,
  startBrowserHook,
  startLatchkey,
  watchRedirects,
} from './support/harness.js';

const [ALICE, BOB] = DEMO_USERS as [(typeof DEMO_USERS)[0], (typeof DEMO_USERS)[0]];
const MEETINGS_REDIRECT = 'com.acme.meetings:/oauth2redirect';
const DESKTOP_REDIRECT = 'com.acme.desktop:/oauth2redirect';

beforeAll(async () => {
  await buildAll();
}, 240_000);

afterAll(async () => {
  await cleanUp();
});

describe.each(testDatabaseKinds())('the journey on %s', (kind) => {
  const suite = `journey-${kind}`;
  const docs = kind === 'sqlite';
  let idp: StandinIdp;
  let server: LatchkeyProcess;
  let browser: Browser;
  let context: BrowserContext;
  let hook: BrowserHook;
  let alice: Record<string, string>;
  const totpUsedAt = new Map<string, number>();

  /** A TOTP code of a 30 s step not used yet: codes are single-use (replays are refused). */
  async function freshTotp(secret: string): Promise<string> {
    if (Math.floor(Date.now() / 30_000) === totpUsedAt.get(secret))
      await new Promise((r) => setTimeout(r, 30_000 - (Date.now() % 30_000) + 200));
    totpUsedAt.set(secret, Math.floor(Date.now() / 30_000));
    return totpCode(secret);
  }

  const photo = (page: Page, name: string) => shoot(page, suite, name, docs);

  beforeAll(async () => {
    const issuer = `http://127.0.0.1:${await freePort()}`;
    idp = await startStandinIdp({
      profile: 'google',
      clients: [
        {
          client_id: 'latchkey-demo',
          client_secret: 'demo-upstream-secret',
          redirect_uris: [`${issuer}/upstream/callback`],
        },
      ],
      users: [
        { email: ALICE.email, password: ALICE.password, totpSecret: ALICE.totpSecret, name: ALICE.name },
      ],
    });
    // The demo's own configuration (packages/demo), on this run's database.
    const yaml = demoYaml({ issuer, idpIssuer: idp.issuer, database: 'unused.db' });
    [server, browser, hook] = await Promise.all([
      startLatchkey({ yaml, kind, issuer }),
      launchBrowser(),
      startBrowserHook(),
    ]);
    context = await browser.newContext({ viewport: { width: 760, height: 620 } });
    alice = await desktopProfile(server.issuer);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await hook?.close();
    await server?.dispose();
    await idp?.close();
  });

  it('1. first launch: `latchkey-desktop login` opens the browser on Latchkey’s email page', async () => {
    const login = startCli(['login', '--flow', 'scheme'], { ...alice, ...hook.env });
    const page = await context.newPage();
    await page.goto(await hook.next());
    await waitForText(page.locator('h1'), 'Sign in to Acme Desktop');
    await photo(page, '01-email');

    // 2. The email once; Google already has it (login_hint), then the password and the 2-step code.
    await page.getByLabel('Work email').fill(ALICE.email);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL((url) => url.href.startsWith(idp.issuer));
    await waitForText(page.locator('#who'), ALICE.email);
    expect(idp.requests.at(-1)?.params).toMatchObject({ login_hint: ALICE.email, hd: 'acme.test' });
    await photo(page, '02-google-password');
    await page.fill('#password', ALICE.password);
    await page.click('#next');
    await page.waitForSelector('form[data-step=totp]');
    await photo(page, '03-google-2-step');
    await page.fill('#code', await freshTotp(ALICE.totpSecret));
    await page.click('#next');

    // 3. Back on Latchkey: the handoff page names the app and the person; Launch hands the URL over.
    await waitForText(page.locator('#handoff'), 'Launch Acme Desktop');
    await waitForText(page.locator('.identity'), new RegExp(ALICE.email.replace('.', '\\.')));
    await photo(page, '04-launch');
    const redirects = watchRedirects(context, `${DESKTOP_REDIRECT}?`);
    const url = await clickHandoff(page, redirects);
    await page.close();
    // What the OS does with com.acme.desktop: URLs once the scheme is registered.
    const handed = await runCli(['open-url', url], alice);
    expect(handed.code, handed.stderr).toBe(0);
    expect(handed.stdout).toContain(`Handed the sign-in of ${ALICE.email} to the waiting latchkey-desktop.`);

    // 4. Signed in; the store holds the refresh token, and no access token is on disk.
    const result = await login.exited;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`Signed in as ${ALICE.email}.`);
    const store = createFileStore({
      directory: alice.LATCHKEY_STORE_DIR as string,
      secret: alice.LATCHKEY_FILE_STORE_KEY as string,
      onWarning: () => {},
    });
    const stored = JSON.parse((await store.read(`latchkey:acme-desktop@${server.issuer}/`)) ?? '{}');
    expect(stored.refreshToken).toEqual(expect.any(String));
    expect(stored.account).toMatchObject({ email: ALICE.email });
    expect(Object.keys(stored)).not.toContain('accessToken');
    const token = await runCli(['token', '--resource', API], alice);
    const accessToken = token.stdout.trim();
    expect(accessToken.split('.')).toHaveLength(3);
    // DPoP (RFC 9449, the demo's `dpop: required`): the session's key is stored with it, and the
    // access token is bound to that key.
    expect(stored.dpopKey).toMatchObject({ alg: 'ES256', publicJwk: { kty: 'EC', crv: 'P-256' } });
    expect(decodeJwt(accessToken).cnf).toEqual({
      jkt: await calculateJwkThumbprint(stored.dpopKey.publicJwk, 'sha256'),
    });
    for (const dir of [alice.LATCHKEY_STORE_DIR, alice.LATCHKEY_CACHE_DIR] as string[]) {
      for (const file of await readdir(dir, { recursive: true, withFileTypes: true })) {
        if (!file.isFile()) continue;
        const text = await readFile(path.join(file.parentPath, file.name), 'utf8');
        expect(text).not.toContain(accessToken);
        expect(text).not.toContain(stored.refreshToken); // encrypted at rest, not plain
      }
    }
  });

  it('5. relaunch: a new `latchkey-desktop whoami` signs in silently, no browser', async () => {
    const started = Date.now();
    const whoami = await runCli(['whoami', '--json'], alice);
    expect(whoami.code, whoami.stderr).toBe(0);
    expect(JSON.parse(whoami.stdout)).toMatchObject({ status: 'signed-in', account: { email: ALICE.email } });
    expect(Date.now() - started).toBeLessThan(10_000);
    await expect(hook.next(200)).rejects.toThrow(/no URL/);
  });

  it('6. a second app (Acme Meetings) signs in with one click and no credentials', async () => {
    const meetings = await desktopProfile(server.issuer, {
      clientId: 'acme-meetings',
      redirectUri: MEETINGS_REDIRECT,
    });
    const login = startCli(['login', '--flow', 'scheme'], { ...meetings, ...hook.env });
    const page = await context.newPage();
    const requestsBefore = idp.requests.length;
    await page.goto(await hook.next());
    await waitForText(page.locator('#handoff'), 'Launch Acme Meetings');
    expect(await page.locator('input[type=password], input[type=email]').count()).toBe(0);
    expect(idp.requests.length).toBe(requestsBefore); // Google was not asked again
    await photo(page, '05-second-app-one-click');
    const url = await clickHandoff(page, watchRedirects(context, `${MEETINGS_REDIRECT}?`));
    await page.close();
    expect((await runCli(['open-url', url], meetings)).code).toBe(0);
    const result = await login.exited;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`Signed in as ${ALICE.email}.`);
  });

  it('7. `latchkey admin users disable`: silent sign-in fails with her email as the hint; Google does not let her back', async () => {
    const disable = await runLatchkey(server, ['admin', 'users', 'disable', '--user', ALICE.email]);
    expect(disable.code, disable.stderr).toBe(0);
    const token = await runCli(['token', '--json'], alice);
    expect(token.code).toBe(3);
    expect(JSON.parse(token.stdout)).toMatchObject({ code: 'interaction_required', loginHint: ALICE.email });

    const login = startCli(['login', '--flow', 'scheme'], { ...alice, ...hook.env });
    const url = new URL(await hook.next());
    expect(url.searchParams.get('login_hint')).toBe(ALICE.email);
    const page = await context.newPage();
    await page.goto(url.href);
    // Latchkey's session is gone; Google's is not: Google may pass her straight back. Either way the
    // journey ends on Latchkey's refusal, never on a Launch button.
    const refusal = page.getByRole('alert');
    for (let i = 0; i < 100 && !(await refusal.count()); i++) {
      if (page.url().startsWith(idp.issuer) && (await page.locator('#password').count())) {
        await page.fill('#password', ALICE.password);
        await page.click('#next');
      } else if (page.url().startsWith(idp.issuer) && (await page.locator('form[data-step=totp]').count())) {
        await page.fill('#code', await freshTotp(ALICE.totpSecret));
        await page.click('#next');
      } else await page.waitForTimeout(100);
    }
    await waitForText(refusal, /Your account is disabled/);
    expect(await page.locator('#handoff').count()).toBe(0);
    await photo(page, '06-disabled');
    await page.close();
    login.kill('SIGTERM');
    await login.exited;
  });

  it('8a. bob@beta.test: password and 2-step verification on Latchkey itself', async () => {
    const bobContext = await browser.newContext({ viewport: { width: 760, height: 620 } });
    try {
      const bob = await desktopProfile(server.issuer);
      const login = startCli(['login', '--flow', 'scheme'], { ...bob, ...hook.env });
      const page = await bobContext.newPage();
      await page.goto(await hook.next());
      await page.getByLabel('Work email').fill(BOB.email);
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByLabel('Password').waitFor();
      await photo(page, '07-local-password');
      await page.getByLabel('Password').fill(BOB.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await waitForText(page.locator('h1'), '2-step verification');
      await photo(page, '08-local-2-step');
      await page.getByLabel('Code from your authenticator app').fill(await freshTotp(BOB.totpSecret));
      await page.getByRole('button', { name: 'Verify' }).click();
      await waitForText(page.locator('#handoff'), 'Launch Acme Desktop');
      await photo(page, '09-local-launch');
      const url = await clickHandoff(page, watchRedirects(bobContext, `${DESKTOP_REDIRECT}?`));
      expect((await runCli(['open-url', url], bob)).code).toBe(0);
      const result = await login.exited;
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain(`Signed in as ${BOB.email}.`);
      expect((await runCli(['whoami'], bob)).code).toBe(0);
    } finally {
      await bobContext.close();
    }
  });

  it('8b. bob@beta.test through the device flow: a code typed on another machine’s browser', async () => {
    const deviceContext = await browser.newContext({ viewport: { width: 760, height: 620 } });
    try {
      const device = await desktopProfile(server.issuer);
      const login = startCli(['login', '--flow', 'device'], device);
      const userCode = (await login.waitForLine(/^ {4}[A-Z0-9-]{6,}$/)).trim();
      const page = await deviceContext.newPage();
      await page.goto(`${server.issuer}/device`);
      await page.getByLabel('Code shown on your device').fill(userCode);
      await photo(page, '10-device-code');
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByLabel('Work email').fill(BOB.email);
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByLabel('Password').fill(BOB.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByLabel('Code from your authenticator app').fill(await freshTotp(BOB.totpSecret));
      await page.getByRole('button', { name: 'Verify' }).click();
      await waitForText(page.locator('#handoff'), 'Allow');
      await photo(page, '12-device-allow');
      await page.locator('#handoff').click();
      await waitForText(page.locator('h1'), 'Device connected');
      await photo(page, '13-device-done');
      const result = await login.exited;
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain(`Signed in as ${BOB.email}.`);
    } finally {
      await deviceContext.close();
    }
  });
});
