import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CookieJar } from '../../../../bench/lib.mjs';
import { axeViolations } from '../test-support/axe.js';
import { launchBrowser } from '../test-support/browser.js';
import { startTestServer, type TestServer } from '../test-support/server.js';

const HOSTILE_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 ' +
  'LATCHKEY SUPPORT: this is a safe request, call +1-555-0100 <b>now</b>';

/** The code page in a browser of its own (cookie jar), driven over HTTP. */
function codePage(issuer: string) {
  const jar = new CookieJar();
  let xsrf = '';
  const read = async (response: Response) => {
    jar.store(response);
    const text = await response.text();
    xsrf = /name="xsrf" value="([^"]+)"/.exec(text)?.[1] ?? xsrf;
    return { status: response.status, text, retryAfter: response.headers.get('retry-after') };
  };
  return {
    open: async () => read(await fetch(`${issuer}/device`, { headers: { cookie: jar.header() } })),
    submit: async (fields: Record<string, string>) =>
      read(
        await fetch(`${issuer}/device`, {
          method: 'POST',
          redirect: 'manual',
          headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ xsrf, ...fields }).toString(),
        }),
      ),
  };
}

async function deviceAuthorization(issuer: string, userAgent: string) {
  const response = await fetch(`${issuer}/device/auth`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': userAgent },
    body: 'client_id=acme-desktop&scope=openid',
  });
  expect(response.status).toBe(200);
  return (await response.json()) as { user_code: string; device_code: string };
}

describe('device flow pages (RFC 8628)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.dispose());

  it('the confirmation page names the registered app, a parsed browser/OS and the address, never the raw User-Agent', async () => {
    const { user_code } = await deviceAuthorization(server.issuer, HOSTILE_UA);
    const page = codePage(server.issuer);
    await page.open();
    const confirm = await page.submit({ user_code });
    expect(confirm.status, confirm.text).toBe(200);
    expect(confirm.text).toContain('Connect Acme Desktop?');
    expect(confirm.text).toContain('Chrome on Linux');
    expect(confirm.text).toContain('127.0.0.1');
    expect(confirm.text).not.toMatch(/SUPPORT|555-0100|KHTML|Mozilla/);
  });

  it('a User-Agent that parses as nothing known shows as an unknown program', async () => {
    const { user_code } = await deviceAuthorization(server.issuer, 'Acme Support: call now');
    const page = codePage(server.issuer);
    await page.open();
    const confirm = await page.submit({ user_code });
    expect(confirm.text).not.toContain('Acme Support');
    expect(confirm.text).toContain('unknown program');
  });

  it('user-code entry is throttled per address, with a readable wait on the page', async () => {
    const page = codePage(server.issuer);
    await page.open();
    const statuses: number[] = [];
    let throttled: { status: number; text: string; retryAfter: string | null } | undefined;
    for (let i = 0; i < 80 && !throttled; i++) {
      const answer = await page.submit({ user_code: `BCDF-${String(i).padStart(4, 'G')}` });
      statuses.push(answer.status);
      if (answer.status === 429) throttled = answer;
    }
    expect(throttled, `statuses: ${statuses.join(',')}`).toBeDefined();
    expect(statuses.length).toBeLessThanOrEqual(55);
    expect(throttled?.text).toMatch(/[Ww]ait \d+ seconds?/);
    expect(Number(throttled?.retryAfter)).toBeGreaterThan(0);
    // While the wait runs even the right code is not looked at.
    const { user_code } = await deviceAuthorization(server.issuer, 'curl/8.5.0');
    const refused = await page.submit({ user_code });
    expect(refused.status).toBe(429);
    expect(refused.text).not.toContain('Connect Acme Desktop?');
  });
});

describe('device flow in Chromium: one confirmation, after the sign-in', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.dispose());

  /** Code → sign-in → the one confirmation page; returns the pages' headings along the way. */
  async function confirmInBrowser(userAgent: string) {
    const { user_code, device_code } = await deviceAuthorization(server.issuer, userAgent);
    const browser = await launchBrowser();
    const page = await (await browser.newContext({ bypassCSP: true })).newPage();
    page.setDefaultTimeout(10_000);
    const headings: string[] = [];
    const heading = async () => {
      const text = (await page.locator('h1').innerText()).trim();
      headings.push(text);
      return text;
    };
    await page.goto(`${server.issuer}/device`);
    await page.getByLabel(/code/i).fill(user_code);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Work email').waitFor();
    await heading();
    await page.getByLabel('Work email').fill('bob@beta.test');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Password').fill('correct horse battery staple');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Allow' }).waitFor();
    await heading();
    return { browser, page, headings, device_code, user_code };
  }

  it('code entry leads straight to the sign-in; the page after it names app, device and address, with Allow / Deny buttons', async () => {
    const { browser, page, headings, user_code } = await confirmInBrowser(
      'Acme Desktop/2.1.0 (X11; Linux x86_64)',
    );
    try {
      // No "Connect Acme Desktop?" before the sign-in: the first page after the code is the email step.
      expect(headings[0]).not.toMatch(/Connect/);
      expect(headings[1]).toBe('Connect Acme Desktop?');
      const origin = (await page.locator('.device-origin').innerText()).trim();
      expect(origin).toBe('Requested by Acme Desktop from 127.0.0.1 (Acme Desktop on Linux)');
      expect(await page.locator('main').innerText()).toContain(`Code: ${user_code}`);
      expect(
        await page.getByRole('button', { name: 'Deny' }).evaluate((b) => b.closest('form')?.method),
      ).toBe('post');
      expect(await axeViolations(page)).toEqual([]);
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.getByRole('heading', { name: /connected|done|signed in/i }).waitFor();
    } finally {
      await browser.close();
    }
  });

  it("a client library's User-Agent is not shown as the device", async () => {
    const { browser, page } = await confirmInBrowser('oauth4webapi/v3.8.8');
    try {
      const text = await page.locator('main').innerText();
      expect(text).not.toContain('oauth4webapi');
      expect(text).toContain('an unknown program');
      expect(text).toContain('127.0.0.1');
    } finally {
      await browser.close();
    }
  });
});
