import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CookieJar } from '../../../../bench/lib.mjs';
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
