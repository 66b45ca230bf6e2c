import * as client from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axeViolations } from '../test-support/axe.js';
import { launchBrowser } from '../test-support/browser.js';
import { BrowserTokenSource, buildAuth, discover, routeLoopback } from '../test-support/oidc-client.js';
import { startTestServer, type TestServer } from '../test-support/server.js';

const BOB = { email: 'bob@beta.test', password: 'correct horse battery staple' };

/** The account page's "Where you are signed in": one row per device, local times, a sign-out per row. */
describe('account page sessions', () => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let desktopRefresh: string;
  let desktop: client.Configuration;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(), launchBrowser()]);
    // A zone far from UTC, so a time shown in UTC cannot pass for local.
    context = await browser.newContext({ bypassCSP: true, timezoneId: 'Asia/Tokyo', locale: 'en-GB' });
    desktop = await discover(server.issuer, 'acme-desktop');
    const tokens = await new BrowserTokenSource(context, desktop, BOB).tokens();
    desktopRefresh = tokens.refresh_token as string;
    // Acme Meetings gets a code it never redeems: it is not signed in.
    // (The browser session exists now: the sign-in is the handoff click alone.)
    const meetingsUri = 'http://127.0.0.1:45679/callback';
    await routeLoopback(context, meetingsUri, () => {});
    const meetings = await buildAuth(await discover(server.issuer, 'acme-meetings'), meetingsUri);
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    await page.goto(meetings.url.toString());
    const delivered = page.waitForRequest((r) => r.url().startsWith(meetingsUri));
    await page.locator('#handoff').click();
    expect(new URL((await delivered).url()).searchParams.get('code')).toBeTruthy();
    await page.close();
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    await page.goto(`${server.issuer}/account`);
    await page.locator('#sessions').waitFor();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
  });

  it('lists the browser and the app that redeemed its code, with device, address and <time> elements; not the app that never did', async () => {
    const rows = page.locator('#sessions li.session');
    const whats = await rows.locator('.what').allInnerTexts();
    expect(whats.sort()).toEqual(['Acme Desktop', 'Browser']);
    const app = rows.filter({ has: page.locator('.what', { hasText: 'Acme Desktop' }) });
    expect(await app.locator('.ip').innerText()).toBe('127.0.0.1');
    expect((await app.locator('.device').innerText()).length).toBeGreaterThan(0);
    expect(await page.locator('#sessions').innerText()).not.toContain('Acme Meetings');
    const browserRow = rows.filter({ has: page.locator('.what', { hasText: 'Browser' }) });
    expect(await browserRow.innerText()).toContain('(this browser)');
    expect(await browserRow.locator('.device').innerText()).toMatch(/ on Linux$/);
    expect(await axeViolations(page)).toEqual([]);
  });

  it("shows times in the reader's time zone (Asia/Tokyo here), from the <time datetime> the server wrote", async () => {
    const time = page.locator('#sessions time[datetime]').first();
    const datetime = (await time.getAttribute('datetime')) as string;
    expect(Number.isNaN(Date.parse(datetime))).toBe(false);
    const expected = new Intl.DateTimeFormat('en-GB', {
      dateStyle: 'medium',
      timeStyle: 'short',
      timeZone: 'Asia/Tokyo',
    }).format(new Date(datetime));
    expect((await time.innerText()).trim()).toBe(expected);
    expect(await time.innerText()).not.toContain('UTC');
  });

  it("a row's Sign out ends that app's sign-in (its refresh token is refused) and is audited", async () => {
    const app = page
      .locator('#sessions li.session')
      .filter({ has: page.locator('.what', { hasText: 'Acme Desktop' }) });
    await app.getByRole('button', { name: 'Sign out' }).click();
    await page.locator('.alert.info', { hasText: 'ended' }).waitFor();
    expect(await page.locator('#sessions .what').allInnerTexts()).toEqual(['Browser']);
    await expect(client.refreshTokenGrant(desktop, desktopRefresh)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    const events = await server.parts.repos.audit.query({ action: 'session_end', limit: 5 });
    expect(events.length).toBe(1);
  });
});
