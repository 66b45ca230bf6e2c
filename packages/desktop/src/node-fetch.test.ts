import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetworkError, toLatchkeyError } from './errors.js';
import { nodeFetch } from './node-fetch.js';

/** A real HTTP server on loopback: what nodeFetch sent, and scripted answers per path. */
let server: Server;
let base: string;
const seen: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      seen.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body });
      if (request.url === '/json') {
        response.writeHead(400, 'Bad Request', {
          'content-type': 'application/json',
          'dpop-nonce': 'n-1',
          'set-cookie': ['a=1', 'b=2'],
        });
        response.end(JSON.stringify({ error: 'use_dpop_nonce' }));
      } else if (request.url === '/redirect') {
        response.writeHead(302, { location: '/json' }).end();
      } else if (request.url === '/empty') {
        response.writeHead(204).end();
      } else if (request.url === '/slow') {
        setTimeout(() => response.end('late'), 2_000);
      } else if (request.url === '/reset') {
        request.socket.destroy();
      } else {
        response.end('ok');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('nodeFetch: the SDK default fetch for the server OAuth endpoints', () => {
  it('sends a form POST as oauth4webapi builds it, and answers with status, headers and body', async () => {
    const response = await nodeFetch(`${base}/json`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded;charset=UTF-8', dpop: 'proof' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'r t&=' }),
    });
    const sent = seen.at(-1);
    expect(sent?.method).toBe('POST');
    expect(sent?.headers['content-type']).toBe('application/x-www-form-urlencoded;charset=UTF-8');
    expect(sent?.headers.dpop).toBe('proof');
    expect(sent?.headers['content-length']).toBe(String(sent?.body.length));
    expect(new URLSearchParams(sent?.body).get('refresh_token')).toBe('r t&=');
    expect(response).toBeInstanceOf(Response);
    expect(response.status).toBe(400);
    expect(response.statusText).toBe('Bad Request');
    expect(response.headers.get('dpop-nonce')).toBe('n-1');
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(await response.json()).toEqual({ error: 'use_dpop_nonce' });
  });

  it('takes Headers and string bodies too', async () => {
    await nodeFetch(`${base}/plain`, {
      method: 'POST',
      headers: new Headers({ 'user-agent': 'Acme Desktop/1.0' }),
      body: '{"a":1}',
    });
    expect(seen.at(-1)).toMatchObject({ body: '{"a":1}', headers: { 'user-agent': 'Acme Desktop/1.0' } });
  });

  it('does not follow redirects (oauth4webapi asks for redirect: manual)', async () => {
    const response = await nodeFetch(`${base}/redirect`, { redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/json');
    expect(seen.at(-1)?.url).toBe('/redirect');
  });

  it('gives a 204 a null body', async () => {
    const response = await nodeFetch(`${base}/empty`);
    expect(response.status).toBe(204);
    expect(response.body).toBeNull();
  });

  it('fails as fetch does: a TypeError with the socket error as its cause, a network failure for the SDK', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = await nodeFetch(`http://127.0.0.1:${port}/token`).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TypeError);
    expect((refused as { cause?: { code?: string } }).cause?.code).toBe('ECONNREFUSED');
    expect(toLatchkeyError(refused, 'Token refresh')).toBeInstanceOf(NetworkError);

    const reset = await nodeFetch(`${base}/reset`).catch((error: unknown) => error);
    expect(reset).toBeInstanceOf(TypeError);
    expect(toLatchkeyError(reset, 'Token refresh')).toBeInstanceOf(NetworkError);
  });

  it('rejects with the signal reason when it aborts: a timeout is a network failure, a cancel a cancel', async () => {
    const started = Date.now();
    const timedOut = await nodeFetch(`${base}/slow`, { signal: AbortSignal.timeout(100) }).catch(
      (error: unknown) => error,
    );
    expect(Date.now() - started).toBeLessThan(1_500);
    expect((timedOut as Error).name).toBe('TimeoutError');
    expect(toLatchkeyError(timedOut, 'Token refresh')).toBeInstanceOf(NetworkError);

    const controller = new AbortController();
    controller.abort();
    const cancelled = await nodeFetch(`${base}/plain`, { signal: controller.signal }).catch(
      (error: unknown) => error,
    );
    expect((cancelled as Error).name).toBe('AbortError');
  });

  it('refuses what it cannot send rather than sending something else', async () => {
    await expect(nodeFetch('file:///etc/passwd')).rejects.toThrow(TypeError);
    await expect(
      nodeFetch(`${base}/plain`, { method: 'POST', body: new Blob(['x']) as unknown as BodyInit }),
    ).rejects.toThrow(/string, URLSearchParams or byte bodies/);
  });
});
