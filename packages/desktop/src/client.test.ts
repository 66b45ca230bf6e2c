import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createClient,
  createMemoryStore,
  InteractionRequiredError,
  type LatchkeyClient,
  NetworkError,
  NoPendingSignInError,
  OAuthError,
  StoreUnavailableError,
  TimeoutError,
  type TokenStore,
  UnexpectedResponseError,
} from './index.js';
import { driveAuthorization } from './test-support/drive.js';
import {
  startTestOp,
  TEST_API,
  TEST_CLIENT_ID,
  TEST_SCHEME_REDIRECT,
  TEST_USER,
  type TestOp,
} from './test-support/test-op.js';

let op: TestOp;
const directories: string[] = [];
const clients: LatchkeyClient[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-sdk-'));
  directories.push(dir);
  return dir;
}

/** A browser that approves at once: follows the OP's redirects, then loads the loopback URL. */
async function approvingBrowser(url: string, rewrite: (redirect: URL) => URL = (u) => u): Promise<void> {
  const redirect = rewrite(new URL(await driveAuthorization(url)));
  // Loading the loopback page is what a browser does; don't await its (held) response here.
  void fetch(redirect)
    .then((r) => r.text())
    .catch(() => {});
}

async function newClient(
  overrides: Partial<Parameters<typeof createClient>[0]> & { store?: TokenStore; cacheDir?: string } = {},
) {
  const client = await createClient({
    issuer: op.issuer,
    clientId: TEST_CLIENT_ID,
    redirect: 'loopback',
    store: overrides.store ?? createMemoryStore(),
    cacheDir: overrides.cacheDir ?? (await tempDir()),
    openBrowser: (url) => approvingBrowser(url),
    resources: [TEST_API],
    ...overrides,
  });
  clients.push(client);
  return client;
}

beforeAll(async () => {
  op = await startTestOp();
});
afterEach(async () => {
  op.mode = 'approve';
  for (const client of clients.splice(0)) await client.close();
});
afterAll(async () => {
  await op.close();
  for (const dir of directories) await rm(dir, { recursive: true, force: true });
});

describe('interactive sign-in (loopback)', () => {
  it('signs in, stores only the refresh token, and passes the login hint', async () => {
    const store = createMemoryStore();
    const cacheDir = await tempDir();
    const client = await newClient({ store, cacheDir });
    const result = await client.signIn({ loginHint: 'ada@example.test' });
    expect(result.account).toMatchObject({
      subject: TEST_USER.sub,
      email: TEST_USER.email,
      name: TEST_USER.name,
    });
    expect(result.idTokenClaims?.nonce).toBeTypeOf('string');
    expect(op.authorizationRequests.at(-1)).toMatchObject({
      login_hint: 'ada@example.test',
      code_challenge_method: 'S256',
    });
    const stored = JSON.parse((await store.read(`latchkey:${TEST_CLIENT_ID}@${op.issuer}/`)) ?? '{}');
    expect(stored.refreshToken).toBeTypeOf('string');
    expect(JSON.stringify(stored)).not.toContain(result.accessToken);
    for (const name of await readdir(cacheDir, { recursive: true })) {
      const text = await readFile(join(cacheDir, name), 'utf8').catch(() => '');
      expect(text).not.toContain(result.accessToken);
      expect(text).not.toContain(stored.refreshToken);
    }
    expect(await client.getAccessToken()).toBe(result.accessToken);
  });

  it("shows the app's name on the loopback page, or the app's own page", async () => {
    const pageOf = async (overrides: Partial<Parameters<typeof createClient>[0]>) => {
      let html: Promise<string> | undefined;
      const client = await newClient({
        ...overrides,
        openBrowser: async (url) => {
          html = fetch(await driveAuthorization(url)).then((r) => r.text());
        },
      });
      await client.signIn();
      return (await html)?.replace(/<[^>]*>/g, '');
    };
    expect(await pageOf({ appName: 'Acme Desktop' })).toContain(
      'You are signed in — return to Acme Desktop.',
    );
    expect(
      await pageOf({
        appName: 'Acme',
        loopbackPages: { success: ({ appName }) => `<p>Hi from ${appName}</p>` },
      }),
    ).toMatch(/^Hi from Acmehistory\.replaceState/);
    // A template: the app's name goes in escaped.
    expect(
      await pageOf({
        appName: 'Acme & Co',
        loopbackPages: { success: '<!doctype html><body><h1>{{appName}} is ready</h1></body>' },
      }),
    ).toMatch(/^Acme &#38; Co is ready/);
  });

  it('checks the store before opening the browser (or showing a device code)', async () => {
    const broken: TokenStore = {
      ...createMemoryStore(),
      kind: 'broken',
      check: async () => {
        throw new StoreUnavailableError('no keychain here');
      },
    };
    const opened: string[] = [];
    const client = await newClient({ store: broken, openBrowser: (url) => void opened.push(url) });
    await expect(client.signIn()).rejects.toBeInstanceOf(StoreUnavailableError);
    const codes: unknown[] = [];
    await expect(client.signInWithDeviceCode((info) => void codes.push(info))).rejects.toBeInstanceOf(
      StoreUnavailableError,
    );
    const scheme = await newClient({
      store: broken,
      redirect: TEST_SCHEME_REDIRECT,
      openBrowser: (url) => void opened.push(url),
    });
    await expect(scheme.signIn()).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(opened).toEqual([]);
    expect(codes).toEqual([]);
  });

  it('answers only the callback path of the loopback receiver', async () => {
    let seen: string | undefined;
    const client = await newClient({
      openBrowser: async (url) => {
        const redirect = new URL(url).searchParams.get('redirect_uri') ?? '';
        seen = redirect;
        const other = new URL(redirect);
        other.pathname = '/elsewhere';
        expect((await fetch(other)).status).toBe(404);
        await approvingBrowser(url);
      },
    });
    await client.signIn();
    expect(seen).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
  });

  it('rejects a redirect with a wrong state', async () => {
    const client = await newClient({
      openBrowser: (url) =>
        approvingBrowser(url, (redirect) => {
          redirect.searchParams.set('state', 'forged');
          return redirect;
        }),
    });
    const error = await client.signIn().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnexpectedResponseError);
    expect((error as UnexpectedResponseError).message).toMatch(/state/);
  });

  it('rejects a redirect with a wrong iss (RFC 9207)', async () => {
    const client = await newClient({
      openBrowser: (url) =>
        approvingBrowser(url, (redirect) => {
          redirect.searchParams.set('iss', 'https://evil.example');
          return redirect;
        }),
    });
    const error = await client.signIn().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnexpectedResponseError);
    expect((error as UnexpectedResponseError).message).toMatch(/iss/);
  });

  it('rejects an ID token with a wrong nonce', async () => {
    const client = await newClient({
      openBrowser: (url) => {
        const changed = new URL(url);
        changed.searchParams.set('nonce', 'not-the-one-we-sent');
        return approvingBrowser(changed.href);
      },
    });
    const error = await client.signIn().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnexpectedResponseError);
    expect((error as UnexpectedResponseError).message).toMatch(/nonce/);
  });

  it('reports access_denied as an OAuthError', async () => {
    op.mode = 'deny';
    const client = await newClient();
    const error = await client.signIn().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect((error as OAuthError).error).toBe('access_denied');
  });

  it('times out when no redirect arrives', async () => {
    const client = await newClient({ openBrowser: () => {} });
    await expect(client.signIn({ timeoutMs: 300 })).rejects.toBeInstanceOf(TimeoutError);
  });

  it('cancels on an AbortSignal', async () => {
    const client = await newClient({ openBrowser: () => {} });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await expect(client.signIn({ signal: controller.signal })).rejects.toMatchObject({
      code: 'user_cancelled',
    });
  });
});

describe('silent sign-in', () => {
  it('signs in silently in a new client from the stored refresh token, rotating it', async () => {
    const store = createMemoryStore();
    const cacheDir = await tempDir();
    await (await newClient({ store, cacheDir })).signIn();
    const before = await store.read(`latchkey:${TEST_CLIENT_ID}@${op.issuer}/`);
    const later = await newClient({
      store,
      cacheDir,
      openBrowser: () => expect.fail('no browser for a silent sign-in'),
    });
    // One read of the store per silent sign-in, under the refresh lock: each read of a keychain is
    // a round trip to it on every app start.
    const read = store.read.bind(store);
    let reads = 0;
    store.read = (key) => {
      reads++;
      return read(key);
    };
    const result = await later.signInSilently();
    expect(reads).toBe(1);
    expect(result.account.email).toBe(TEST_USER.email);
    expect(result.fromCache).toBe(false);
    expect(JSON.parse(before ?? '{}').refreshToken).not.toBe(
      JSON.parse((await store.read(`latchkey:${TEST_CLIENT_ID}@${op.issuer}/`)) ?? '{}').refreshToken,
    );
    expect((await later.signInSilently()).fromCache).toBe(true);
  });

  it('sends one refresh for concurrent requests in one process', async () => {
    const store = createMemoryStore();
    const cacheDir = await tempDir();
    await (await newClient({ store, cacheDir })).signIn();
    const client = await newClient({ store, cacheDir });
    const before = op.tokenRequests.refresh_token ?? 0;
    const tokens = await Promise.all([
      client.getAccessToken(),
      client.getAccessToken(),
      client.getAccessToken(),
    ]);
    expect(new Set(tokens).size).toBe(1);
    expect((op.tokenRequests.refresh_token ?? 0) - before).toBe(1);
  });

  it('gets a JWT access token for a resource (RFC 8707)', async () => {
    const client = await newClient();
    await client.signIn();
    const token = await client.getAccessToken({ resource: TEST_API });
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString());
    expect(payload.aud).toBe(TEST_API);
    expect(payload.sub).toBe(TEST_USER.sub);
  });

  it('falls back to interaction with the last email as hint after revocation', async () => {
    const store = createMemoryStore();
    const client = await newClient({ store });
    await client.signIn();
    await op.revokeUser();
    const error = await client.getAccessToken({ forceRefresh: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InteractionRequiredError);
    expect((error as InteractionRequiredError).loginHint).toBe(TEST_USER.email);
    expect(await store.read(`latchkey:${TEST_CLIENT_ID}@${op.issuer}/`)).toBeUndefined();
    expect(await client.getState()).toEqual({ status: 'signed-out', loginHint: TEST_USER.email });
    await client.signIn();
    expect(op.authorizationRequests.at(-1)?.login_hint).toBe(TEST_USER.email);
  });

  it('reports interaction required when nothing is stored', async () => {
    const client = await newClient();
    await expect(client.signInSilently()).rejects.toBeInstanceOf(InteractionRequiredError);
    expect(await client.getState()).toEqual({ status: 'signed-out' });
  });

  it('retries once after a network failure mid-refresh (server grace window)', async () => {
    const graceOp = await startTestOp({ refreshGraceSeconds: 30 });
    try {
      const store = createMemoryStore();
      const cacheDir = await tempDir();
      const first = await newClient({ issuer: graceOp.issuer, store, cacheDir });
      await first.signIn();
      let failures = 0;
      const flaky: typeof fetch = async (input, init) => {
        const response = await fetch(input, init);
        const body = init?.body instanceof URLSearchParams ? init.body.get('grant_type') : undefined;
        if (body === 'refresh_token' && failures++ === 0) {
          // The server processed (and rotated) the token, but the answer is lost.
          await response.arrayBuffer();
          throw new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } });
        }
        return response;
      };
      const client = await newClient({ issuer: graceOp.issuer, store, cacheDir, fetch: flaky });
      const result = await client.signInSilently();
      expect(result.account.email).toBe(TEST_USER.email);
      expect(graceOp.tokenRequests.refresh_token).toBe(2);
    } finally {
      await graceOp.close();
    }
  });

  it('reports offline only when a token is needed: getState stays local', async () => {
    const offlineOp = await startTestOp();
    const store = createMemoryStore();
    const cacheDir = await tempDir();
    await (await newClient({ issuer: offlineOp.issuer, store, cacheDir })).signIn();
    await offlineOp.close();
    const client = await newClient({ issuer: offlineOp.issuer, store, cacheDir });
    const state = await client.getState();
    expect(state.status).toBe('signed-in');
    expect(state.status === 'signed-in' && state.account.email).toBe(TEST_USER.email);
    await expect(client.signInSilently()).rejects.toBeInstanceOf(NetworkError);
    expect(await client.getAccount()).toMatchObject({ email: TEST_USER.email });
  });
});

describe('getState (local, like MSAL getAllAccounts)', () => {
  const key = () => `latchkey:${TEST_CLIENT_ID}@${op.issuer}/`;

  it('spends no refresh token: no request, the stored token unchanged', async () => {
    const store = createMemoryStore();
    const cacheDir = await tempDir();
    await (await newClient({ store, cacheDir })).signIn();
    const stored = await store.read(key());
    const before = op.tokenRequests.refresh_token ?? 0;
    const requests: string[] = [];
    const client = await newClient({
      store,
      cacheDir,
      fetch: (input, init) => {
        requests.push(String(input));
        return fetch(input, init);
      },
    });
    expect(await client.getState()).toEqual({
      status: 'signed-in',
      account: expect.objectContaining({ email: TEST_USER.email, subject: TEST_USER.sub }),
    });
    expect(requests).toEqual([]);
    expect(op.tokenRequests.refresh_token ?? 0).toBe(before);
    expect(await store.read(key())).toBe(stored);
  });

  it('reports a stored sign-in past its expiry as signed out, with the email as hint', async () => {
    const store = createMemoryStore();
    const cacheDir = await tempDir();
    await (await newClient({ store, cacheDir })).signIn();
    const session = JSON.parse((await store.read(key())) ?? '{}');
    await store.write(key(), JSON.stringify({ ...session, expiresAt: Date.now() - 1000 }));
    const client = await newClient({ store, cacheDir });
    expect(await client.getState()).toEqual({ status: 'signed-out', loginHint: TEST_USER.email });
    const later = Date.now() + 3_600_000;
    await store.write(key(), JSON.stringify({ ...session, expiresAt: later }));
    expect(await client.getState()).toMatchObject({ status: 'signed-in', expiresOn: later });
  });
});

describe('private-use scheme', () => {
  it('finishes a sign-in when the app hands the URL to handleRedirect', async () => {
    let delivered: Promise<unknown> | undefined;
    const client = await newClient({
      redirect: TEST_SCHEME_REDIRECT,
      openBrowser: async (url) => {
        const redirect = await driveAuthorization(url);
        delivered = client.handleRedirect(redirect);
      },
    });
    const result = await client.signIn();
    expect(result.account.email).toBe(TEST_USER.email);
    expect(await delivered).toMatchObject({ handledBy: 'this-process' });
  });

  it('forwards the URL from another instance over the local socket', async () => {
    const cacheDir = await tempDir();
    let redirect: string | undefined;
    const app = await newClient({
      redirect: TEST_SCHEME_REDIRECT,
      cacheDir,
      openBrowser: async (url) => {
        redirect = await driveAuthorization(url);
      },
    });
    const signedIn = app.signIn();
    while (!redirect) await new Promise((r) => setTimeout(r, 10));
    const launched = await newClient({ redirect: TEST_SCHEME_REDIRECT, cacheDir });
    const outcome = await launched.handleRedirect(redirect);
    expect(outcome).toMatchObject({ handledBy: 'running-app', account: { email: TEST_USER.email } });
    expect((await signedIn).account.email).toBe(TEST_USER.email);
  });

  it('rejects a URL with no pending sign-in, and a URL for another redirect', async () => {
    const client = await newClient({ redirect: TEST_SCHEME_REDIRECT });
    await expect(
      client.handleRedirect(`${TEST_SCHEME_REDIRECT}?code=x&state=unknown`),
    ).rejects.toBeInstanceOf(NoPendingSignInError);
    await expect(client.handleRedirect('com.other.app:/cb?code=x&state=y')).rejects.toBeInstanceOf(
      NoPendingSignInError,
    );
  });
});

describe('device authorization grant (RFC 8628)', () => {
  it('signs in after approval, honouring slow_down', async () => {
    const client = await newClient();
    op.slowDownPolls = 1;
    const started = Date.now();
    const result = await client.signInWithDeviceCode(async (info) => {
      expect(info.verificationUriComplete).toContain(info.userCode);
      // Approve after the first poll, which the OP answers with slow_down.
      setTimeout(() => void op.approveDeviceCode(info.userCode), 1500);
    });
    expect(result.account.email).toBe(TEST_USER.email);
    // interval 1 s, then slow_down adds 5 s (RFC 8628 §3.5)
    expect(Date.now() - started).toBeGreaterThanOrEqual(6000);
    expect(await client.getAccessToken()).toBe(result.accessToken);
  }, 20_000);

  it('reports denial as access_denied', async () => {
    const client = await newClient();
    const error = await client
      .signInWithDeviceCode((info) => op.approveDeviceCode(info.userCode, 'deny'))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect((error as OAuthError).error).toBe('access_denied');
  });

  it('reports expiry as a timeout', async () => {
    const shortOp = await startTestOp({ deviceCodeTtl: 2 });
    try {
      const client = await newClient({ issuer: shortOp.issuer });
      await expect(client.signInWithDeviceCode(() => {})).rejects.toBeInstanceOf(TimeoutError);
    } finally {
      await shortOp.close();
    }
  });
});

describe('sign-out', () => {
  it('revokes the refresh token and clears the store; everywhere opens the end-session URL', async () => {
    const store = createMemoryStore();
    const opened: string[] = [];
    const client = await newClient({ store });
    await client.signIn();
    const stored = JSON.parse((await store.read(`latchkey:${TEST_CLIENT_ID}@${op.issuer}/`)) ?? '{}');
    const result = await client.signOut({ everywhere: true, openBrowser: (url) => void opened.push(url) });
    expect(result.revoked).toBe(true);
    expect(result.endSessionUrl).toContain('id_token_hint=');
    expect(opened).toEqual([result.endSessionUrl]);
    expect(await store.read(`latchkey:${TEST_CLIENT_ID}@${op.issuer}/`)).toBeUndefined();
    // The revoked token no longer works at the server.
    const response = await fetch(`${op.issuer}/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: stored.refreshToken,
        client_id: TEST_CLIENT_ID,
      }),
    });
    expect((await response.json()).error).toBe('invalid_grant');
    expect(result.revocation).toBe('revoked');
    expect(await client.getState()).toEqual({ status: 'signed-out' });
  });

  it('says what happened: nothing stored, server unreachable, no revocation endpoint', async () => {
    const nothing = await newClient();
    expect(await nothing.signOut()).toEqual({ revoked: false, revocation: 'not-signed-in' });

    const downOp = await startTestOp();
    const store = createMemoryStore();
    const cacheDir = await tempDir();
    await (await newClient({ issuer: downOp.issuer, store, cacheDir })).signIn();
    await downOp.close();
    const offline = await newClient({ issuer: downOp.issuer, store, cacheDir });
    expect(await offline.signOut()).toEqual({ revoked: false, revocation: 'server-unreachable' });
    expect(await offline.getState()).toEqual({ status: 'signed-out' });
    // Nothing stored and nobody answering: still "not signed in", not "server unreachable".
    expect(await offline.signOut()).toEqual({ revoked: false, revocation: 'not-signed-in' });
    // No metadata at all (none cached either): ending the browser session fails as offline, not "unsupported".
    const neverSeen = await newClient({ issuer: downOp.issuer, cacheDir: await tempDir() });
    await expect(neverSeen.signOut({ everywhere: true })).rejects.toBeInstanceOf(NetworkError);

    // A server that offers no revocation (RFC 7009 is optional; RFC 8414 §2 revocation_endpoint).
    const withoutRevocation: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (!String(input).endsWith('/.well-known/openid-configuration')) return response;
      const { revocation_endpoint: _dropped, ...metadata } = (await response.json()) as Record<
        string,
        unknown
      >;
      return new Response(JSON.stringify(metadata), { headers: { 'content-type': 'application/json' } });
    };
    const plain = await newClient({ fetch: withoutRevocation });
    await plain.signIn();
    expect(await plain.signOut()).toEqual({ revoked: false, revocation: 'unsupported' });
  });
});
