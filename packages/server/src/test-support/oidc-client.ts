import * as client from 'openid-client';
import type { BrowserContext, Page } from 'playwright-core';

/** openid-client (a standard RP library, not our SDK) configured for a public native client. */
export async function discover(issuer: string, clientId: string): Promise<client.Configuration> {
  return client.discovery(new URL(issuer), clientId, { token_endpoint_auth_method: 'none' }, client.None(), {
    execute: [client.allowInsecureRequests],
  });
}

export interface PendingAuth {
  url: URL;
  verifier: string;
  state: string;
  nonce: string;
  redirectUri: string;
}

export async function buildAuth(
  config: client.Configuration,
  redirectUri: string,
  extra: Record<string, string> = {},
): Promise<PendingAuth> {
  const verifier = client.randomPKCECodeVerifier();
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid email profile offline_access',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });
  return { url, verifier, state, nonce, redirectUri };
}

export async function exchange(config: client.Configuration, pending: PendingAuth, callbackUrl: string) {
  return client.authorizationCodeGrant(config, new URL(callbackUrl), {
    pkceCodeVerifier: pending.verifier,
    expectedState: pending.state,
    expectedNonce: pending.nonce,
    idTokenExpected: true,
  });
}

/**
 * Captures the redirect that hands the code to the app. The engine answers the handoff click with a
 * 303 to the app's URI; the Location header is exactly what the OS (scheme) or the app's loopback
 * listener would receive. Loopback requests are fulfilled so the browser does not show an error.
 */
export function captureRedirects(context: BrowserContext, prefix: string) {
  const seen: string[] = [];
  const waiters: ((url: string) => void)[] = [];
  const deliver = (url: string) => {
    const waiter = waiters.shift();
    if (waiter) waiter(url);
    else seen.push(url);
  };
  context.on('response', (response) => {
    const location = response.headers().location;
    if (location?.startsWith(prefix)) deliver(location);
  });
  return {
    next(timeoutMs = 15_000): Promise<string> {
      const ready = seen.shift();
      if (ready) return Promise.resolve(ready);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no redirect to ${prefix} within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push((url) => {
          clearTimeout(timer);
          resolve(url);
        });
      });
    },
  };
}

/** Email page → password page (the local-account path). Leaves the browser on the handoff page. */
export async function signInWithPassword(
  page: Page,
  url: URL | string,
  email: string,
  password: string,
): Promise<void> {
  await page.goto(url.toString());
  await page.getByLabel('Work email').fill(email);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#handoff').waitFor();
}

/** What a test user types on the sign-in pages. */
export interface TestUser {
  email: string;
  password: string;
}

export interface IssuedCode {
  pending: PendingAuth;
  /** The URL the app's redirect URI receives (code, state, iss). */
  callback: string;
  code: string;
}

/**
 * Obtains codes and tokens quickly for protocol tests: the browser signs in once (email + password),
 * then every further code costs one handoff click in the same browser context (each click mints a
 * new code; RFC 8252 §8.6). Uses a loopback redirect URI whose requests the browser context fulfils
 * itself, so no listener is needed and the tab ends on a normal page. Each code is minted in a new
 * tab, as the SDK opens one per sign-in.
 */
/**
 * Stands in for an app's loopback receiver in the browser: the whole origin answers, as a real
 * receiver does, because the Launch page first asks whether anything still listens there
 * (web/assets-handoff.ts) and only then sends the redirect; `onRedirect` gets each redirect to
 * `redirectUri` (any port's `http://127.0.0.1/callback` means port 80 here).
 */
export async function routeLoopback(
  context: BrowserContext,
  redirectUri: string,
  onRedirect: (url: string) => void,
): Promise<void> {
  await context.route(`${new URL(redirectUri).origin}/**`, async (route) => {
    const url = route.request().url();
    await route.fulfill({ status: 200, contentType: 'text/plain', body: 'ok' });
    if (url.startsWith(redirectUri)) onRedirect(url);
  });
}

export class BrowserTokenSource {
  readonly redirectUri: string;
  #signedIn = false;
  #waiters: ((url: string) => void)[] = [];
  #routed = false;

  constructor(
    readonly context: BrowserContext,
    readonly config: client.Configuration,
    readonly user: TestUser,
    options: { loopbackPort?: number } = {},
  ) {
    // Any port matches the registered http://127.0.0.1/callback (RFC 8252 §7.3).
    const port = options.loopbackPort ?? 40_000 + Math.floor(Math.random() * 20_000);
    this.redirectUri = `http://127.0.0.1:${port}/callback`;
  }

  async #route(): Promise<void> {
    if (this.#routed) return;
    this.#routed = true;
    await routeLoopback(this.context, this.redirectUri, (url) => this.#waiters.shift()?.(url));
  }

  /** Runs one browser sign-in (or just the handoff click when the session exists) and returns the code. */
  async code(extra: Record<string, string> = {}): Promise<IssuedCode> {
    await this.#route();
    const pending = await buildAuth(this.config, this.redirectUri, extra);
    const page = await this.context.newPage();
    try {
      const arrived = new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no code reached the loopback URI')), 15_000);
        this.#waiters.push((url) => {
          clearTimeout(timer);
          resolve(url);
        });
      });
      if (this.#signedIn) {
        await page.goto(pending.url.toString());
        await page.locator('#handoff').waitFor();
      } else {
        await signInWithPassword(page, pending.url, this.user.email, this.user.password);
        this.#signedIn = true;
      }
      await page.locator('#handoff').click();
      const callback = await arrived;
      const code = new URL(callback).searchParams.get('code');
      if (!code) throw new Error(`no code in ${callback}`);
      return { pending, callback, code };
    } finally {
      await page.close();
    }
  }

  /** A code exchanged by openid-client: ID token checked, refresh token present. */
  async tokens(extra: Record<string, string> = {}) {
    const issued = await this.code(extra);
    return exchange(this.config, issued.pending, issued.callback);
  }
}

export interface RawResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON when the response is JSON, else undefined. */
  json: Record<string, unknown> | undefined;
  text: string;
}

/**
 * A form POST to an endpoint without any client library, so tests can send what a library would
 * refuse to (wrong verifier, replayed code, someone else's refresh token) and see the raw answer.
 */
export async function postForm(
  url: string | URL,
  form: Record<string, string> | string,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const body = typeof form === 'string' ? form : new URLSearchParams(form).toString();
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body,
    redirect: 'manual',
  });
  return readRaw(response);
}

export async function readRaw(response: Response): Promise<RawResponse> {
  const text = await response.text();
  let json: Record<string, unknown> | undefined;
  if ((response.headers.get('content-type') ?? '').includes('json')) {
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      json = undefined;
    }
  }
  return { status: response.status, headers: response.headers, json, text };
}

/** A refresh-token grant for a public client, as raw HTTP (status + body). */
export function refreshRaw(
  issuer: string,
  clientId: string,
  refreshToken: string,
  extra: Record<string, string> = {},
): Promise<RawResponse> {
  return postForm(`${issuer}/token`, {
    grant_type: 'refresh_token',
    client_id: clientId,
    refresh_token: refreshToken,
    ...extra,
  });
}

/**
 * Form POSTs that reach the server at the same moment: one connection each is opened first, then
 * every request is written in the same tick. (With fetch, a server in the test's own process may
 * finish the first request before the second one's bytes are even sent.) Connection: close; the
 * answer is read to the end.
 */
export async function simultaneousPosts(
  url: string | URL,
  forms: Record<string, string>[],
): Promise<RawResponse[]> {
  const net = await import('node:net');
  const target = new URL(url);
  const sockets = await Promise.all(
    forms.map(
      () =>
        new Promise<import('node:net').Socket>((resolve, reject) => {
          const socket = net.connect(Number(target.port), target.hostname, () => resolve(socket));
          socket.once('error', reject);
        }),
    ),
  );
  const answers = sockets.map(
    (socket) =>
      new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        socket.on('data', (chunk: Buffer) => chunks.push(chunk));
        socket.once('end', () => resolve(Buffer.concat(chunks)));
        socket.once('error', reject);
      }),
  );
  forms.forEach((form, i) => {
    const body = new URLSearchParams(form).toString();
    sockets[i]?.write(
      `POST ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\n` +
        'Content-Type: application/x-www-form-urlencoded\r\nAccept: application/json\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  return Promise.all(
    answers.map(async (answer) => {
      const raw = (await answer).toString('utf8');
      const split = raw.indexOf('\r\n\r\n');
      const head = raw.slice(0, split).split('\r\n');
      const status = Number(head[0]?.split(' ')[1]);
      const headers = new Headers();
      for (const line of head.slice(1)) {
        const colon = line.indexOf(':');
        headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
      }
      let body = raw.slice(split + 4);
      if (headers.get('transfer-encoding') === 'chunked') {
        let out = '';
        for (;;) {
          const eol = body.indexOf('\r\n');
          const size = Number.parseInt(body.slice(0, eol), 16);
          if (!size) break;
          out += body.slice(eol + 2, eol + 2 + size);
          body = body.slice(eol + 2 + size + 2);
        }
        body = out;
      }
      return readRaw(new Response(body, { status, headers }));
    }),
  );
}
