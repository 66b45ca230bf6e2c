import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../test-support/server.js';

/** Acme Desktop's redirect URIs include a private-use scheme, whose URL origin is the string "null". */
describe('CORS never admits the null origin', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.dispose());

  for (const path of ['/token', '/me']) {
    it(`${path}: a preflight with Origin: null gets no access-control-allow-origin`, async () => {
      const response = await fetch(`${server.issuer}${path}`, {
        method: 'OPTIONS',
        headers: {
          origin: 'null',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type',
        },
      });
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
    });
  }

  it('/token: a POST with Origin: null gets no access-control-allow-origin', async () => {
    const response = await fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: { origin: 'null', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        client_id: 'acme-desktop',
        refresh_token: 'not-a-token',
      }).toString(),
    });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('/me: a request with Origin: null gets no access-control-allow-origin', async () => {
    const response = await fetch(`${server.issuer}/me`, {
      method: 'POST',
      headers: { origin: 'null', authorization: 'Bearer not-a-token' },
    });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });
});
