import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountKey } from '../domain/throttle/throttle.js';
import { launchBrowser, screenshot, waitForText } from '../test-support/browser.js';
import { buildAuth, discover } from '../test-support/oidc-client.js';
import { startTestServer, type TestServer } from '../test-support/server.js';

const REDIS_URL = process.env.LATCHKEY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PW = 'correct horse battery staple';
const YAML = `
clients:
  - id: acme-desktop
    name: Acme Desktop
    redirect_uris: [com.acme.desktop:/oauth2redirect]
organizations:
  - { id: beta, name: Beta LLC, domains: [beta.test], connection: { type: local } }
users:
  - { email: frank@beta.test, password: "${PW}" }
argon2: { memory_cost: 1024, time_cost: 1, parallelism: 1 }
`;

/**
 * Two server processes on one database, both with LATCHKEY_REDIS_URL: failures counted by one
 * process hold back attempts on the other, and an admin clear on either lifts it for both.
 */
describe('password throttling shared through Redis by two server processes', () => {
  let dir: string;
  let a: TestServer;
  let b: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'latchkey-shared-'));
    const databaseUrl = `sqlite:${path.join(dir, 'shared.db')}`;
    const env = { LATCHKEY_REDIS_URL: REDIS_URL };
    a = await startTestServer({ yaml: YAML, databaseUrl, env });
    b = await startTestServer({ yaml: YAML, databaseUrl, env });
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await b?.dispose();
    await a?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  async function passwordPage(server: TestServer): Promise<Page> {
    const context = await browser.newContext();
    const page = await context.newPage();
    const config = await discover(server.issuer, 'acme-desktop');
    await page.goto((await buildAuth(config, 'com.acme.desktop:/oauth2redirect')).url.toString());
    await page.getByLabel('Work email').fill('frank@beta.test');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Password').waitFor();
    return page;
  }

  async function submit(page: Page, password: string) {
    await page.getByLabel('Password').fill(password);
    // The post answers 303 (Post/Redirect/Get): wait for the page it leads to, not the one still showing.
    await Promise.all([
      page.waitForResponse(
        (r) => r.request().method() === 'GET' && /\/interaction\/[^/]+\/[a-z-]+$/.test(r.url()),
      ),
      page.getByRole('button', { name: 'Sign in' }).click(),
    ]);
    await page.waitForLoadState();
    try {
      return await waitForText(page.getByRole('alert'), /Wrong password|Too many attempts/);
    } catch (error) {
      await screenshot(page, 'two-step', 'shared-failure');
      throw new Error(
        `${(error as Error).message} on ${page.url()}: ${(await page.locator('body').innerText()).slice(0, 300)}`,
      );
    }
  }

  it('failures on one process throttle the other; a clear on either lifts it', async () => {
    // Both pages are ready first: the delays grow from 1 s, so B must answer within A's delay.
    const onA = await passwordPage(a);
    const onB = await passwordPage(b);
    const frank = (await a.parts.repos.users.findByEmail('frank@beta.test'))?.id as string;
    let text = '';
    for (let i = 0; i < 12 && !/Too many/.test(text); i += 1) text = await submit(onA, 'wrong');
    expect(text).toMatch(/Too many attempts/);
    // B's store (Redis) sees A's failures: the right password waits too.
    expect(
      (await b.parts.throttle.check({ account: accountKey(frank), address: 'ip:127.0.0.1' })).allowed,
    ).toBe(false);
    expect(await submit(onB, PW)).toMatch(/^Too many attempts\. Wait \d+ seconds?/);
    await screenshot(onB, 'two-step', '19-throttled-other-process');

    await b.parts.throttle.clear(accountKey(frank));
    await onA.getByLabel('Password').fill(PW);
    await onA.getByRole('button', { name: 'Sign in' }).click();
    await onA.locator('#handoff').waitFor();
    await onB.context().close();
    await onA.context().close();
    // It ran past 30 s once in CI (2026-12-08; it passes in ~3 s here, also with both cores busy).
    // The likely reason: on a loaded machine a post can take longer than the throttle's first delays
    // (1 s, 2 s, …), so those failures are let through and the loop (at most 12) goes on until a
    // delay outlasts a post.
  }, 90_000);
});
