import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../test-support/browser.js';
import { buildAuth, discover } from '../test-support/oidc-client.js';
import { startTestServer, type TestServer } from '../test-support/server.js';

const INTERNALS = /at \w+ \(|node_modules|TypeError|Cannot |statusCode|"error":/;

/**
 * The sign-in, account and reset pages take what their forms send and answer everything else with
 * a readable page that carries a reference and no internals.
 */
describe('sign-in pages refuse bad input readably', () => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let emailAction: string;

  beforeAll(async () => {
    server = await startTestServer();
    browser = await launchBrowser();
    context = await browser.newContext();
    page = await context.newPage();
    const desktop = await discover(server.issuer, 'acme-desktop');
    await page.goto((await buildAuth(desktop, 'com.acme.desktop:/oauth2redirect')).url.toString());
    emailAction = new URL(
      (await page.locator('form[action$="/email"]').getAttribute('action')) as string,
      server.issuer,
    ).href;
  });

  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
  });

  it('a JSON body (even a crafted one) is refused with 415 and a page, before any step runs', async () => {
    for (const path of [emailAction, `${server.issuer}/account/password`, `${server.issuer}/reset/x`]) {
      const response = await page.request.post(path, {
        headers: { 'content-type': 'application/json', accept: 'text/html' },
        data: JSON.stringify({ email: { toString: 1 }, _csrf: 'x' }),
      });
      expect(response.status(), path).toBe(415);
      const body = await response.text();
      expect(body).toContain('Reference');
      expect(body).not.toMatch(INTERNALS);
    }
  });

  it('repeated form fields and a bogus interaction end on readable pages', async () => {
    const repeated = await page.request.post(emailAction, {
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      data: 'email=a%40beta.test&email=b%40beta.test&_csrf=nope',
    });
    expect(repeated.status()).toBe(403);
    expect(await repeated.text()).not.toMatch(INTERNALS);

    const bogus = await page.request.get(`${server.issuer}/interaction/not-a-real-one`, {
      headers: { accept: 'text/html' },
    });
    expect(bogus.status()).toBe(400);
    const text = await bogus.text();
    expect(text).toMatch(/start again/i);
    expect(text).not.toMatch(INTERNALS);
  });

  it('a step that fails inside shows a readable page with a reference, never the internal message', async () => {
    const { repos } = server.parts;
    const secret = 'internal detail 7f3a';
    const fail = () => {
      throw new Error(secret);
    };
    const desktop = await discover(server.issuer, 'acme-desktop');
    const cases: {
      step: string;
      object: Record<string, unknown>;
      method: string;
      drive: (p: Page) => Promise<void>;
    }[] = [
      {
        step: 'route',
        object: repos.users as unknown as Record<string, unknown>,
        method: 'findByEmail',
        drive: async (p) => {
          await p.getByLabel('Work email').fill('bob@beta.test');
          await p.getByRole('button', { name: 'Continue' }).click();
        },
      },
      {
        step: 'password',
        object: repos.credentials as unknown as Record<string, unknown>,
        method: 'passwordHash',
        drive: async (p) => {
          await p.getByLabel('Work email').fill('bob@beta.test');
          await p.getByRole('button', { name: 'Continue' }).click();
          await p.getByLabel('Password').fill('correct horse battery staple');
          await p.getByRole('button', { name: 'Sign in' }).click();
        },
      },
      {
        step: 'policy',
        object: repos.credentials as unknown as Record<string, unknown>,
        method: 'methodsOf',
        drive: async (p) => {
          await p.getByLabel('Work email').fill('bob@beta.test');
          await p.getByRole('button', { name: 'Continue' }).click();
          await p.getByLabel('Password').fill('correct horse battery staple');
          await p.getByRole('button', { name: 'Sign in' }).click();
        },
      },
    ];
    for (const { step, object, method, drive } of cases) {
      const fresh = await browser.newContext();
      const original = object[method];
      try {
        const p = await fresh.newPage();
        p.setDefaultTimeout(10_000);
        await p.goto((await buildAuth(desktop, 'com.acme.desktop:/oauth2redirect')).url.toString());
        object[method] = fail;
        await drive(p);
        await p.getByText(/Reference/).waitFor();
        const body = await p.content();
        expect(body, step).not.toContain(secret);
        expect(body, step).not.toMatch(INTERNALS);
      } finally {
        object[method] = original;
        await fresh.close();
      }
    }
    expect(server.logLines.some((l) => l.includes(secret))).toBe(true);
  });
});
