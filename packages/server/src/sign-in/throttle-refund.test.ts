import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountKey, addressKey } from '../domain/throttle/throttle.js';
import { generateTotpCode } from '../domain/two-step/totp.js';
import { launchBrowser, waitForText } from '../test-support/browser.js';
import { buildAuth, discover } from '../test-support/oidc-client.js';
import { startTestServer, type TestServer } from '../test-support/server.js';

const SCHEME = 'com.acme.desktop:/oauth2redirect';
const PEOPLE = ['ann', 'ben', 'cat', 'dan'];
const SECRETS = ['JBSWY3DPEHPK3PXP', 'KRSXG5CTMVRXEZLU', 'MFRGGZDFMZTWQ2LK', 'GEZDGNBVGY3TQOJQ'];

/**
 * Behind an office NAT every sign-in comes from one address. A good sign-in with 2-step
 * verification counts two attempts (password, code) and must give both back: otherwise each one
 * leaves a failure on the address, and after enough good sign-ins the next newcomer is throttled.
 */
describe('throttling counts what failed and refunds what succeeded', () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    const users = PEOPLE.map(
      (name, i) =>
        `  - { email: ${name}@nat.test, password: "${name}-long-password", totp_secret: ${SECRETS[i]} }`,
    ).join('\n');
    server = await startTestServer({
      yaml: `
clients:
  - id: acme-desktop
    name: Acme Desktop
    redirect_uris: [${SCHEME}]
organizations:
  - { id: nat, name: NAT Inc, domains: [nat.test], connection: { type: local }, policy: { require_2sv: true } }
users:
${users}
  - { email: newcomer@nat.test, password: "newcomer-long-password" }
argon2: { memory_cost: 1024, time_cost: 1, parallelism: 1 }
`,
    });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
  });

  it('good 2-step sign-ins from one address leave the address counter where it was', async () => {
    const { throttle } = server.parts;
    const address = addressKey('127.0.0.1');
    // The address is close to its limit of free failures (100) before the good sign-ins.
    for (let i = 0; i < 96; i += 1) await throttle.recordFailure({ address });
    const desktop = await discover(server.issuer, 'acme-desktop');
    for (const [i, name] of PEOPLE.entries()) {
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        page.setDefaultTimeout(10_000);
        await page.goto((await buildAuth(desktop, SCHEME)).url.toString());
        await page.getByLabel('Work email').fill(`${name}@nat.test`);
        await page.getByRole('button', { name: 'Continue' }).click();
        await page.getByLabel('Password').fill(`${name}-long-password`);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await waitForText(page.locator('h1'), '2-step verification');
        await page.locator('#code').fill(await generateTotpCode({ secret: SECRETS[i] as string }));
        await page.getByRole('button', { name: 'Verify' }).click();
        await page.locator('#handoff').waitFor();
      } finally {
        await context.close();
      }
    }
    // Three more failures: 99 if the good sign-ins gave back all they counted, 103 if one each was left.
    for (let i = 0; i < 3; i += 1) await throttle.recordFailure({ address });
    const newcomer = (await server.parts.repos.users.findByEmail('newcomer@nat.test'))?.id as string;
    expect(await throttle.check({ account: accountKey(newcomer), address })).toEqual({ allowed: true });
  });
});
