import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from './browser.js';
import { startTlsProxy, type TlsProxy } from './tls-proxy.js';

/** The test proxy itself: TLS clients trust it through its CA, and it forwards like nginx. */
describe('the TLS test proxy', () => {
  let echo: http.Server;
  let proxy: TlsProxy;
  beforeAll(async () => {
    echo = http.createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        response.setHeader('content-type', 'application/json');
        response.end(
          JSON.stringify({ method: request.method, url: request.url, headers: request.headers, body }),
        );
      });
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    proxy = await startTlsProxy({ target: `http://127.0.0.1:${(echo.address() as AddressInfo).port}` });
  });
  afterAll(async () => {
    await proxy?.close();
    await new Promise((resolve) => echo?.close(resolve));
  });

  it('forwards with Host, X-Forwarded-For (appended), -Proto and -Host, trusted through its CA', async () => {
    const response = await proxy.fetch(`${proxy.url}/a/b?c=d`, {
      method: 'POST',
      body: 'x=1',
      headers: {
        'x-forwarded-for': '203.0.113.9',
        'x-forwarded-proto': 'http',
        'content-type': 'text/plain',
      },
    });
    const seen = (await response.json()) as { url: string; body: string; headers: Record<string, string> };
    expect(seen.url).toBe('/a/b?c=d');
    expect(seen.body).toBe('x=1');
    expect(seen.headers.host).toBe(`127.0.0.1:${proxy.port}`);
    expect(seen.headers['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    expect(seen.headers['x-forwarded-host']).toBe(`127.0.0.1:${proxy.port}`);
    expect(proxy.requests.at(-1)?.status).toBe(200);
  });

  it('is refused by a client that does not trust its CA', async () => {
    await expect(fetch(proxy.url)).rejects.toThrow();
  });

  it('is trusted by a child Node process through childEnv', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '-e',
        `fetch(${JSON.stringify(proxy.url)}).then(r => r.json()).then(j => console.log(j.headers['x-forwarded-proto']))`,
      ],
      { env: { ...process.env, ...proxy.childEnv } },
    );
    expect(stdout.trim()).toBe('https');
  });

  it('is trusted by Chromium through its SPKI argument', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', proxy.chromiumArg],
    });
    try {
      const page = await browser.newPage();
      const response = await page.goto(`${proxy.url}/page`);
      expect(response?.status()).toBe(200);
    } finally {
      await browser.close();
    }
    // Without it, the certificate is refused.
    const plain = await launchBrowser();
    try {
      const page = await plain.newPage();
      await expect(page.goto(`${proxy.url}/page`)).rejects.toThrow(/ERR_CERT/);
    } finally {
      await plain.close();
    }
  }, 30_000);
});
