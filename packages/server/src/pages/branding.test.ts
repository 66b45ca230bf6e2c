import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axeViolations } from '../test-support/axe.js';
import { launchBrowser, screenshot, waitForText } from '../test-support/browser.js';
import { buildAuth, discover } from '../test-support/oidc-client.js';
import { startTestServer, type TestServer } from '../test-support/server.js';

const SCHEME = 'com.acme.desktop:/oauth2redirect';

const svg = (fill: string) =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64"><rect width="64" height="64" rx="14" fill="${fill}"/><circle cx="24" cy="32" r="10" fill="none" stroke="#fff" stroke-width="6"/><path d="M34 32h20v8M46 32v6" stroke="#fff" stroke-width="6" fill="none"/></svg>`;
const ORG_LOGO = `data:image/svg+xml;base64,${Buffer.from(svg('#2b6a3e')).toString('base64')}`;

// Instance brand: a name and an accent. App brand (acme-desktop): a logo file and an accent.
// Organization brand (beta): its own name, a data: logo and an accent. acme-meetings: none.
const yaml = (appLogo: string) => `
branding: { display_name: Example Sign-in, accent_color: "#862e9c" }
clients:
  - id: acme-desktop
    name: Acme Desktop
    redirect_uris: [com.acme.desktop:/oauth2redirect]
    id_token_signed_response_alg: ES256
    branding: { display_name: Acme Apps, logo: ${appLogo}, accent_color: "#1c4f80" }
  - id: acme-meetings
    name: Acme Meetings
    redirect_uris: [com.acme.meetings:/oauth2redirect]
organizations:
  - id: beta
    name: Beta LLC
    domains: [beta.test]
    connection: { type: local }
    branding: { display_name: Beta Workspace, logo: "${ORG_LOGO}", accent_color: "#2b6a3e" }
users:
  - { email: bob@beta.test, password: "correct horse battery staple", name: Bob Builder }
argon2: { memory_cost: 1024, time_cost: 1, parallelism: 1 }
`;

const rgb = (hex: string) =>
  `rgb(${[1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)).join(', ')})`;

/** What the header shows and what the primary button is painted with, as the browser renders them. */
async function header(page: Page) {
  const brand = page.locator('main > .brand');
  const logo = brand.locator('img.logo');
  const hasLogo = (await logo.count()) === 1;
  return {
    text: ((await brand.locator('.brand-name').textContent()) ?? '').trim(),
    logoAlt: hasLogo ? await logo.getAttribute('alt') : undefined,
    // Loaded under the page's real CSP (img-src 'self' data:): a blocked image has no natural width.
    logoLoaded: hasLogo
      ? await logo.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)
      : false,
    logoSrc: hasLogo ? await logo.getAttribute('src') : undefined,
    button: await page.evaluate(() => {
      const primary = document.querySelector('main button[type=submit], main a.button:not(.secondary)');
      return primary ? getComputedStyle(primary).backgroundColor : undefined;
    }),
  };
}

describe('branding: display name, logo and accent on the pages', () => {
  let server: TestServer;
  let browser: Browser;
  /** The real CSP: what a person's browser does. */
  let strict: BrowserContext;
  /** CSP bypassed so that axe can be injected (test-support/axe.ts). */
  let axeContext: BrowserContext;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'latchkey-brand-'));
    const appLogo = path.join(dir, 'acme.svg');
    await writeFile(appLogo, svg('#1c4f80'));
    [server, browser] = await Promise.all([startTestServer({ yaml: yaml(appLogo) }), launchBrowser()]);
    strict = await browser.newContext();
    axeContext = await browser.newContext({ bypassCSP: true });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** The engine's own error pages: the app's brand when the request names a registered app, else the instance's. */
  async function checkEngineErrors() {
    const page = await axeContext.newPage();
    const badRedirect = `${server.issuer}/auth?client_id=acme-desktop&response_type=code&scope=openid&redirect_uri=${encodeURIComponent('https://evil.test/cb')}`;
    expect((await page.goto(badRedirect))?.status()).toBe(400);
    expect((await header(page)).text).toBe('Acme Apps');
    expect(await axeViolations(page)).toEqual([]);
    await page.goto(`${server.issuer}/auth?client_id=no-such-app&response_type=code&scope=openid`);
    expect((await header(page)).text).toBe('Example Sign-in');
    await page.close();
  }

  const authUrl = async (clientId: string, redirect: string) =>
    (await buildAuth(await discover(server.issuer, clientId), redirect)).url.toString();

  it("shows the app's brand on the first (email) step, under the real CSP; axe-clean", async () => {
    const url = await authUrl('acme-desktop', SCHEME);
    const page = await strict.newPage();
    await page.goto(url);
    const seen = await header(page);
    expect(seen).toMatchObject({ text: 'Acme Apps', logoAlt: 'Acme Apps', logoLoaded: true });
    expect(seen.logoSrc).toMatch(/^\/assets\/brand\/[\w-]{22}$/);
    expect(seen.button).toBe(rgb('#1c4f80'));
    // The app's name stays in the texts that name it; the title carries the brand.
    expect(await page.locator('h1').innerText()).toContain('Acme Desktop');
    expect(await page.title()).toMatch(/ · Acme Apps$/);
    await page.close();

    const checked = await axeContext.newPage();
    await checked.goto(await authUrl('acme-desktop', SCHEME));
    expect(await axeViolations(checked)).toEqual([]);
    await checked.close();
  });

  it("shows the organization's brand once the email step knows it; axe-clean; screenshot", async () => {
    for (const context of [strict, axeContext]) {
      const page = await context.newPage();
      page.setDefaultTimeout(10_000);
      await page.goto(await authUrl('acme-desktop', SCHEME));
      await page.getByLabel('Work email').fill('bob@beta.test');
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByLabel('Password').waitFor();
      const seen = await header(page);
      expect(seen).toMatchObject({ text: 'Beta Workspace', logoAlt: 'Beta Workspace', logoLoaded: true });
      expect(seen.button).toBe(rgb('#2b6a3e'));
      if (context === axeContext) {
        expect(await axeViolations(page)).toEqual([]);
      } else {
        await screenshot(page, 'branding', 'sign-in-organization');
        await mkdir(path.resolve(process.cwd(), 'docs/branding'), { recursive: true });
        await copyFile(
          path.resolve(process.cwd(), 'test-results/branding/sign-in-organization.png'),
          path.resolve(process.cwd(), 'docs/branding/sign-in-organization.png'),
        );
      }
      // And it stays on the next page (the launch page) of the same sign-in.
      await page.getByLabel('Password').fill('correct horse battery staple');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('#handoff').waitFor();
      expect((await header(page)).text).toBe('Beta Workspace');
      await page.close();
    }
  }, 60_000);

  it("shows the instance's brand on the account page, error pages, /device and an unbranded app's sign-in; the app's on engine errors naming it", async () => {
    const page = await axeContext.newPage();
    // The account page is the instance's own (bob is signed in from the previous test).
    await page.goto(`${server.issuer}/account`);
    await page.locator('#sessions').waitFor();
    let seen = await header(page);
    expect(seen).toMatchObject({ text: 'Example Sign-in', logoAlt: undefined });
    expect(seen.button).toBe(rgb('#862e9c'));
    expect(await axeViolations(page)).toEqual([]);

    // An unknown sign-in: an error page with no app to name.
    const response = await page.goto(`${server.issuer}/interaction/no-such-sign-in`);
    expect(response?.status()).toBe(400);
    await waitForText(page.locator('h1'), /./);
    seen = await header(page);
    expect(seen.text).toBe('Example Sign-in');
    expect(await axeViolations(page)).toEqual([]);

    // A page that is not there.
    expect((await page.goto(`${server.issuer}/no-such-page`))?.status()).toBe(404);
    expect((await page.locator('.brand-name').textContent())?.trim()).toBe('Example Sign-in');

    // A password reset link that is not (any longer) valid: the instance's.
    expect((await page.goto(`${server.issuer}/reset/not-a-token`))?.status()).toBe(404);
    expect((await header(page)).text).toBe('Example Sign-in');

    // The device code entry page is the instance's (no app known yet).
    await page.goto(`${server.issuer}/device`);
    await page.getByLabel(/code/i).first().waitFor();
    expect((await page.locator('.brand-name').textContent())?.trim()).toBe('Example Sign-in');
    await page.close();
    await checkEngineErrors();

    // An app without branding, in a browser without a session: the instance's brand.
    const fresh = await browser.newContext();
    const first = await fresh.newPage();
    await first.goto(await authUrl('acme-meetings', 'com.acme.meetings:/oauth2redirect'));
    await first.getByLabel('Work email').waitFor();
    expect(await header(first)).toMatchObject({ text: 'Example Sign-in', button: rgb('#862e9c') });
    await fresh.close();
  }, 60_000);

  it('serves brand files by content hash, cacheable for good; a logo opened alone is sandboxed', async () => {
    // A context without a session: the first step, with the app's brand.
    const fresh = await browser.newContext();
    const page = await fresh.newPage();
    await page.goto(await authUrl('acme-desktop', SCHEME));
    const logo = (await header(page)).logoSrc ?? '';
    const css = (await page.locator('link[rel=stylesheet]').nth(1).getAttribute('href')) ?? '';
    await fresh.close();
    expect(css).toMatch(/^\/assets\/brand\/[\w-]{22}\.css$/);

    const logoResponse = await fetch(`${server.issuer}${logo}`);
    expect(logoResponse.status).toBe(200);
    expect(logoResponse.headers.get('content-type')).toBe('image/svg+xml');
    expect(logoResponse.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(logoResponse.headers.get('content-security-policy')).toContain('sandbox');
    expect(await logoResponse.text()).toBe(svg('#1c4f80'));

    const cssResponse = await fetch(`${server.issuer}${css}`);
    expect(cssResponse.headers.get('content-type')).toMatch(/^text\/css/);
    expect(await cssResponse.text()).toContain('background:#1c4f80');

    expect((await fetch(`${server.issuer}/assets/brand/AAAAAAAAAAAAAAAAAAAAAA.css`)).status).toBe(404);
  });
});
