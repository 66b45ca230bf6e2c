import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, waitForText } from '../test-support/browser.js';
import { testDatabaseKinds } from '../test-support/databases.js';
import { postForm, simultaneousPosts } from '../test-support/oidc-client.js';
import { startTestServer, type TestServer } from '../test-support/server.js';

const CLIENT = 'acme-desktop';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** RFC 8628 §3.2 (`interval`) and §3.5 (`slow_down`), over real HTTP. */
describe.each(testDatabaseKinds())('device flow polling on %s', (kind) => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer({ kind }), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
  });

  async function authorize() {
    const response = await postForm(`${server.issuer}/device/auth`, {
      client_id: CLIENT,
      scope: 'openid email offline_access',
    });
    expect(response.status, response.text).toBe(200);
    return response.json as {
      device_code: string;
      user_code: string;
      interval: number;
      verification_uri_complete: string;
    };
  }

  const poll = (deviceCode: string) =>
    postForm(`${server.issuer}/token`, {
      grant_type: DEVICE_GRANT,
      client_id: CLIENT,
      device_code: deviceCode,
    });

  it('the device authorization response names the polling interval: 5 seconds', async () => {
    expect((await authorize()).interval).toBe(5);
  });

  it('a device polling as fast as it can gets slow_down after its first poll, until the interval has passed', async () => {
    const { device_code } = await authorize();
    const first = await poll(device_code);
    expect(first.json?.error).toBe('authorization_pending');
    const burst: string[] = [];
    for (let i = 0; i < 20; i += 1) burst.push(String((await poll(device_code)).json?.error));
    expect(new Set(burst)).toEqual(new Set(['slow_down']));
    // Another device's code is not held back by this one.
    const other = await authorize();
    expect((await poll(other.device_code)).json?.error).toBe('authorization_pending');
    // After the interval the device is answered again.
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    expect((await poll(device_code)).json?.error).toBe('authorization_pending');
    expect((await poll(device_code)).json?.error).toBe('slow_down');
  }, 30_000);

  it('polls arriving at the same moment: exactly one is answered, the rest are told to slow down', async () => {
    const { device_code } = await authorize();
    const answers = await simultaneousPosts(
      `${server.issuer}/token`,
      Array.from({ length: 8 }, () => ({ grant_type: DEVICE_GRANT, client_id: CLIENT, device_code })),
    );
    const errors = answers.map((a) => a.json?.error).sort();
    expect(errors.filter((e) => e === 'authorization_pending')).toHaveLength(1);
    expect(errors.filter((e) => e === 'slow_down')).toHaveLength(7);
    for (const answer of answers) expect(answer.status).toBe(400);
  });

  it('an approved code is answered with tokens even when polled early (polling ends there)', async () => {
    const device = await authorize();
    expect((await poll(device.device_code)).json?.error).toBe('authorization_pending');
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(device.verification_uri_complete);
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByLabel('Work email').fill('bob@beta.test');
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByLabel('Password').fill('correct horse battery staple');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('#handoff').click();
      await waitForText(page.locator('h1'), 'Device connected');
    } finally {
      await context.close();
    }
    const answered = await poll(device.device_code);
    expect(answered.status, answered.text).toBe(200);
    expect(answered.json?.refresh_token).toBeTruthy();
  }, 30_000);
});
