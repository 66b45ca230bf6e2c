/**
 * What every client-library interop test shares: a real `latchkey serve` with one registered native
 * client per library and short-lived access tokens (so each library's own refresh logic runs), a
 * Debian Chromium that signs the local password user in, and a loopback listener for the libraries
 * that leave receiving the redirect to the app (RFC 8252 §7.3).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, waitForText } from '../../../packages/server/src/test-support/browser.js';
import type { TlsProxy } from '../../../packages/server/src/test-support/tls-proxy.js';
import { buildAll } from '../../support/build.js';
import { cleanUp, type LatchkeyProcess, queue, shoot, startLatchkey } from '../../support/harness.js';

export const USER = { email: 'bob@beta.test', password: 'correct horse battery staple', name: 'Bob Builder' };

/**
 * Access-token lifetime in seconds. Short, so a test can wait for expiry and watch the library refresh;
 * long enough for a code exchange and one API call on a loaded machine.
 */
export const ACCESS_TOKEN_SECONDS = 5;

/** The registered loopback redirect: any port (RFC 8252 §7.3), this path. */
export const CALLBACK_PATH = '/callback';

/** One native client per library, so a failure names the library. */
export const CLIENT_IDS = {
  openidClient: 'interop-openid-client',
  oauth4webapi: 'interop-oauth4webapi',
  msal: 'interop-msal',
  appauth: 'interop-appauth',
  authlib: 'interop-authlib',
} as const;

export function interopYaml(): string {
  const clients = Object.values(CLIENT_IDS)
    .map(
      (id) => `  - id: ${id}
    name: ${id}
    redirect_uris: [http://127.0.0.1${CALLBACK_PATH}]`,
    )
    .join('\n');
  return `
clients:
${clients}
lifetimes:
  access_token: ${ACCESS_TOKEN_SECONDS}s
organizations:
  - id: beta
    name: Beta LLC
    domains: [beta.test]
    connection: { type: local }
users:
  - { email: ${USER.email}, password: "${USER.password}", name: ${USER.name} }
argon2: { memory_cost: 1024, time_cost: 1, parallelism: 1 }
`;
}

export interface Interop {
  server: LatchkeyProcess;
  /** The issuer the libraries are given. */
  issuer: string;
  /** With `tls`: the TLS-terminating proxy in front (its CA, a trusting `fetch`, `childEnv`). */
  proxy?: TlsProxy;
  browser: Browser;
  context: BrowserContext;
  /**
   * Plays the person in the browser: opens the library's authorization URL, enters the password
   * (and the email when the page asks), presses Continue, and waits until the browser has reached the
   * app's loopback redirect. Resolves that redirect URL as the browser loaded it, and whether the
   * person had to enter the password (no browser session).
   */
  signIn(authorizationUrl: string, suite: string): Promise<{ redirect: URL; askedForPassword: boolean }>;
  /** Opens an end-session URL, confirms "Sign out", and waits for the signed-out page. */
  endSession(endSessionUrl: string, suite: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts Latchkey and Chromium. `tls`: behind a TLS-terminating proxy (the README's nginx setup), the
 * issuer `https://127.0.0.1:<port>`; Chromium trusts exactly the proxy's certificate.
 */
export async function startInterop(options: { tls?: boolean } = {}): Promise<Interop> {
  await buildAll();
  const server = await startLatchkey({ yaml: interopYaml(), tlsProxy: options.tls ?? false });
  const proxy = server.proxy;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [...CHROMIUM_ARGS, ...(proxy ? [proxy.chromiumArg] : [])],
  });
  const context = await browser.newContext();
  const issuer = server.issuer;

  async function signIn(authorizationUrl: string, suite: string) {
    const page = await context.newPage();
    try {
      await page.goto(authorizationUrl);
      const askedForPassword = await enterCredentials(page);
      await shoot(page, suite, 'continue');
      await Promise.all([
        page.waitForURL((url) => url.hostname === '127.0.0.1' && url.pathname === CALLBACK_PATH, {
          waitUntil: 'commit',
        }),
        page.locator('#handoff').click(),
      ]);
      return { redirect: new URL(page.url()), askedForPassword };
    } finally {
      await page.close();
    }
  }

  async function endSession(endSessionUrl: string, suite: string): Promise<void> {
    const page = await context.newPage();
    try {
      await page.goto(endSessionUrl);
      await waitForText(page.locator('h1'), 'Sign out?');
      await page.getByRole('button', { name: 'Sign out' }).click();
      await waitForText(page.locator('h1'), 'Signed out');
      await shoot(page, suite, 'signed-out');
    } finally {
      await page.close();
    }
  }

  return {
    server,
    issuer,
    ...(proxy ? { proxy } : {}),
    browser,
    context,
    signIn,
    endSession,
    async close() {
      await browser.close();
      await server.dispose();
      await cleanUp();
    },
  };
}

/** Email page (when there is no login hint and no session), password page, until the handoff button. */
async function enterCredentials(page: Page): Promise<boolean> {
  const email = page.getByLabel('Work email');
  const password = page.getByLabel('Password');
  const handoff = page.locator('#handoff');
  await email.or(password).or(handoff).first().waitFor();
  if (await handoff.count()) return false;
  if (await email.count()) {
    await email.fill(USER.email);
    await page.getByRole('button', { name: 'Continue' }).click();
    await password.waitFor();
  }
  await password.fill(USER.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await handoff.waitFor();
  return true;
}

export interface LoopbackListener {
  /** `http://127.0.0.1:<port>/callback` */
  redirectUri: string;
  /** The next redirect the browser delivered (its full URL, with `code`, `state`, `iss`). */
  next(timeoutMs?: number): Promise<URL>;
  close(): Promise<void>;
}

/**
 * The app side of a loopback redirect, for libraries that leave it to the app (openid-client,
 * oauth4webapi): listens on 127.0.0.1 on a port of the OS's choosing, as RFC 8252 §7.3 describes.
 */
export async function startLoopback(): Promise<LoopbackListener> {
  const received = queue<URL>('loopback redirect');
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    if (url.pathname !== CALLBACK_PATH) {
      res.writeHead(404).end();
      return;
    }
    received.push(url);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>Signed in</title><h1>Signed in</h1><p>You can close this window.</p>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    redirectUri: `http://127.0.0.1:${port}${CALLBACK_PATH}`,
    next: (timeoutMs) => received.next(timeoutMs),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Waits until an access token that arrived with `expires_in` seconds has certainly expired. */
export async function waitForExpiry(receivedAt: number, expiresInSeconds: number): Promise<void> {
  const wait = receivedAt + expiresInSeconds * 1000 + 1000 - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}

/** Calls the UserInfo endpoint with a bearer token; resolves the status and body. */
export async function userinfo(
  endpoint: string,
  accessToken: string,
  fetchImpl: typeof fetch = fetch,
): Promise<{ status: number; body: Record<string, unknown> | undefined; wwwAuthenticate: string | null }> {
  const response = await fetchImpl(endpoint, { headers: { authorization: `Bearer ${accessToken}` } });
  const text = await response.text();
  let body: Record<string, unknown> | undefined;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = undefined;
  }
  return { status: response.status, body, wwwAuthenticate: response.headers.get('www-authenticate') };
}
