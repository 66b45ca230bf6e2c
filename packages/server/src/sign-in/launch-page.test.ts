import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axeViolations, contrastRatio } from '../test-support/axe.js';
import { captureSchemeNavigations, launchBrowser, waitForText } from '../test-support/browser.js';
import { buildAuth, discover } from '../test-support/oidc-client.js';
import { startTestServer, type TestServer } from '../test-support/server.js';

const SCHEME = 'com.acme.desktop:/oauth2redirect';

/** The Launch / Continue page: one name for the action, what happens after the click, contrast. */
describe('the launch page', () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(), launchBrowser()]);
    const context = await browser.newContext({ bypassCSP: true });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    const desktop = await discover(server.issuer, 'acme-desktop');
    await page.goto((await buildAuth(desktop, SCHEME)).url.toString());
    expect(await axeViolations(page)).toEqual([]);
    await page.getByLabel('Work email').fill('bob@beta.test');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Password').fill('correct horse battery staple');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#handoff').waitFor();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
  });

  it('the heading and the button say the same thing; the page is axe-clean', async () => {
    const heading = (await page.locator('h1').innerText()).trim();
    expect(heading).toBe('Launch Acme Desktop');
    expect((await page.locator('#handoff').innerText()).trim()).toBe(heading);
    expect(await axeViolations(page)).toEqual([]);
  });

  it('boxes, secondary buttons and the focus ring keep 3:1 against the card (WCAG 1.4.11)', async () => {
    const card = await page.locator('main').evaluate((el) => getComputedStyle(el).backgroundColor);
    const identity = await page.locator('.identity').evaluate((el) => getComputedStyle(el).borderTopColor);
    expect(contrastRatio(identity, card)).toBeGreaterThanOrEqual(3);
    await page.locator('#handoff').focus();
    const ring = await page.locator('#handoff').evaluate((el) => getComputedStyle(el).outlineColor);
    expect(contrastRatio(ring, card)).toBeGreaterThanOrEqual(3);
    // A secondary button (the one the page shows after the click) has an edge people can see.
    const secondary = await page.evaluate(() => {
      const probe = document.createElement('a');
      probe.className = 'button secondary';
      document.querySelector('main')?.append(probe);
      const style = getComputedStyle(probe);
      const edge = style.borderTopWidth !== '0px' ? style.borderTopColor : style.backgroundColor;
      probe.remove();
      return edge;
    });
    expect(contrastRatio(secondary, card)).toBeGreaterThanOrEqual(3);
  });

  it('after the click: "Opening Acme Desktop…", you can close this tab, and the fallback link', async () => {
    const opened = captureSchemeNavigations(page.context(), 'com.acme.desktop');
    await page.locator('#handoff').click();
    await opened.next();
    await waitForText(page.locator('h1'), 'Opening Acme Desktop…');
    expect(await page.getByRole('status').innerText()).toMatch(/You can close this tab/);
    await page.getByRole('link', { name: 'Nothing happened? Try again' }).first().waitFor();
    expect(await page.locator('#handoff').isVisible()).toBe(false);
    expect(await axeViolations(page)).toEqual([]);
  });
});

describe('navigation', () => {
  let server: TestServer;
  let browser: Browser;
  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
  });

  it('/ leads to the account page', async () => {
    const page = await (await browser.newContext()).newPage();
    const response = await page.goto(`${server.issuer}/`);
    expect(response?.status()).toBe(200);
    expect(new URL(page.url()).pathname).toBe('/account');
    await waitForText(page.locator('h1'), 'Your account');
  });
});
