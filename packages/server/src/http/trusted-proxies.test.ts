import { afterEach, describe, expect, it } from 'vitest';
import { buildAuth, discover } from '../test-support/oidc-client.js';
import { startTestServer, type TestServer } from '../test-support/server.js';

/** A browser without a browser: follows nothing, keeps cookies, reads the CSRF field of forms. */
class FormClient {
  #cookies = new Map<string, string>();
  constructor(private readonly base: string) {}

  async request(path: string, init: RequestInit & { headers?: Record<string, string> } = {}) {
    const response = await fetch(new URL(path, this.base), {
      ...init,
      redirect: 'manual',
      headers: { ...init.headers, cookie: [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (pair && eq > 0) this.#cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    return response;
  }

  async post(path: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
    return this.request(path, {
      method: 'POST',
      body: new URLSearchParams(fields).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    });
  }
}

const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';

/** Signs in with a wrong password while claiming, through X-Forwarded-For, to come from 203.0.113.7. */
async function failedPasswordFrom(server: TestServer): Promise<string | null> {
  const desktop = await discover(server.issuer, 'acme-desktop');
  const { url } = await buildAuth(desktop, 'com.acme.desktop:/oauth2redirect');
  const browser = new FormClient(server.issuer);
  const start = await browser.request(url.pathname + url.search);
  const interaction = start.headers.get('location') as string;
  const emailPage = await (await browser.request(interaction)).text();
  const afterEmail = await browser.post(`${interaction}/email`, {
    _csrf: csrfOf(emailPage),
    email: 'bob@beta.test',
  });
  // Every step answers its POST with 303 to the next step's own page (Back and Reload safe).
  expect(afterEmail.status).toBe(303);
  const passwordPage = await (await browser.request(afterEmail.headers.get('location') as string)).text();
  const refused = await browser.post(
    `${interaction}/password`,
    { _csrf: csrfOf(passwordPage), password: 'not the password' },
    { 'x-forwarded-for': '203.0.113.7' },
  );
  expect(refused.status).toBe(303);
  const again = await browser.request(refused.headers.get('location') as string);
  expect(again.status).toBe(401);
  expect(await again.text()).toContain('Wrong password');
  const [event] = await server.parts.repos.audit.query({ action: 'password', limit: 1 });
  return event?.ip ?? null;
}

describe('trusted proxies', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.dispose();
    server = undefined;
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
    server = await startTestServer();
    expect(await failedPasswordFrom(server)).toBe('127.0.0.1');
  });

  it('takes the client address from X-Forwarded-For when the peer is a trusted proxy', async () => {
    server = await startTestServer({ env: { LATCHKEY_TRUSTED_PROXIES: '127.0.0.1' } });
    expect(await failedPasswordFrom(server)).toBe('203.0.113.7');
  });
});
