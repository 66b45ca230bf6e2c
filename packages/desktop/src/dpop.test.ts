import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createDpopVerifier, DpopRefusal } from '../../../docs/examples/verify-dpop.js';
import {
  type ClientOptions,
  createClient,
  createMemoryStore,
  InteractionRequiredError,
  type LatchkeyClient,
  type StoredSession,
  type TokenStore,
} from './index.js';
import { driveAuthorization } from './test-support/drive.js';
import {
  startTestOp,
  TEST_API,
  TEST_CLIENT_ID,
  type TestOp,
  type TestOpOptions,
} from './test-support/test-op.js';

const directories: string[] = [];
const clients: LatchkeyClient[] = [];
const ops: TestOp[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-dpop-'));
  directories.push(dir);
  return dir;
}

async function startOp(options: TestOpOptions = {}): Promise<TestOp> {
  const op = await startTestOp(options);
  ops.push(op);
  return op;
}

async function newClient(op: TestOp, store: TokenStore, overrides: Partial<ClientOptions> = {}) {
  const client = await createClient({
    issuer: op.issuer,
    clientId: TEST_CLIENT_ID,
    redirect: 'loopback',
    store,
    cacheDir: await tempDir(),
    openBrowser: async (url) => {
      void fetch(await driveAuthorization(url))
        .then((r) => r.text())
        .catch(() => {});
    },
    resources: [TEST_API],
    ...overrides,
  });
  clients.push(client);
  return client;
}

/** The one session a store holds. */
async function storedSession(store: TokenStore): Promise<{ key: string; session: StoredSession }> {
  const probe = store as TokenStore & { entries?: () => [string, string][] };
  const key = `latchkey:${TEST_CLIENT_ID}@${ops.at(-1)?.issuer}/`;
  const text = (await store.read(key)) ?? (await store.read(key.slice(0, -1)));
  if (!text) throw new Error(`nothing stored (${probe.kind})`);
  return {
    key: (await store.read(key)) ? key : key.slice(0, -1),
    session: JSON.parse(text) as StoredSession,
  };
}

async function rawRefresh(op: TestOp, refreshToken: string) {
  const response = await fetch(`${op.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      client_id: TEST_CLIENT_ID,
      refresh_token: refreshToken,
    }),
  });
  return { status: response.status, body: (await response.json()) as { error?: string } };
}

afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
});
afterAll(async () => {
  for (const op of ops) await op.close();
  for (const dir of directories) await rm(dir, { recursive: true, force: true });
});

describe('DPoP-bound sessions (RFC 9449)', () => {
  it('sign-in makes a key kept with the session; the refresh token taken from the store without the key fails, with the key it works', async () => {
    const op = await startOp({ dpopRequired: true });
    const store = createMemoryStore();
    const signedIn = await (await newClient(op, store)).signIn();
    expect(signedIn.tokenType).toBe('DPoP');

    const { key, session } = await storedSession(store);
    expect(session.dpopKey?.alg).toBe('ES256');
    expect(session.dpopKey?.privateJwk.d).toBeTruthy();
    // The access token is never stored; the refresh token is bound to the stored key.
    expect(JSON.stringify(session)).not.toContain(signedIn.accessToken);

    // The refresh token alone (a log line, a copy of the value without the key): refused.
    expect(await rawRefresh(op, session.refreshToken)).toEqual({
      status: 400,
      body: expect.objectContaining({ error: 'invalid_grant' }),
    });
    const { dpopKey: _left, ...withoutKey } = session;
    const thief = createMemoryStore();
    await thief.write(key, JSON.stringify(withoutKey));
    await expect((await newClient(op, thief)).signInSilently({ forceRefresh: true })).rejects.toBeInstanceOf(
      InteractionRequiredError,
    );

    // The whole session, key included (the app on the same machine): works, and stays bound.
    const copy = createMemoryStore();
    await copy.write(key, JSON.stringify(session));
    const refreshed = await (await newClient(op, copy)).signInSilently({
      forceRefresh: true,
      resource: TEST_API,
    });
    expect(refreshed.tokenType).toBe('DPoP');
    const thumbprintOfStored = decodeJwt(refreshed.accessToken).cnf as { jkt: string };
    expect(thumbprintOfStored.jkt).toBeTruthy();
    const after = (await storedSession(copy)).session;
    expect(after.dpopKey).toEqual(session.dpopKey);
    expect(after.refreshToken).not.toBe(session.refreshToken);
  });

  it('use_dpop_nonce: the code exchange and the refresh are retried once with the server’s nonce', async () => {
    const op = await startOp({ dpopRequireNonce: true });
    const client = await newClient(op, createMemoryStore());
    expect((await client.signIn()).tokenType).toBe('DPoP');
    // The first exchange was answered use_dpop_nonce; the retry carried the nonce.
    expect(op.tokenRequests.authorization_code).toBe(2);
    await client.signInSilently({ forceRefresh: true });
    // The handle kept the nonce of the last answer: no second round trip.
    expect(op.tokenRequests.refresh_token).toBe(1);
  });

  it('a session stored before DPoP keeps working, and the new SDK gives it a key at its first refresh', async () => {
    const op = await startOp();
    const store = createMemoryStore();
    const legacy = await (await newClient(op, store, { dpop: false })).signIn();
    expect(legacy.tokenType).toBe('Bearer');
    expect((await storedSession(store)).session.dpopKey).toBeUndefined();

    const upgraded = await (await newClient(op, store)).signInSilently({ forceRefresh: true });
    expect(upgraded.tokenType).toBe('DPoP');
    const { session } = await storedSession(store);
    expect(session.dpopKey).toBeDefined();
    // (That the server then binds the refresh token itself is Latchkey's doing, not the bare engine's
    // this OP runs: packages/server/src/protocol/dpop.test.ts, "migration".) The key stays.
    expect((await (await newClient(op, store)).signInSilently({ forceRefresh: true })).tokenType).toBe(
      'DPoP',
    );
  });
});

describe('client.fetch', () => {
  let api: Server;

  afterEach(async () => {
    await new Promise((resolve) => api?.close(resolve));
  });

  /** An API guarded by the docs' verifier that first asks for its own nonce (RFC 9449 §9). */
  async function startApi(op: TestOp) {
    const verify = createDpopVerifier({ issuer: op.issuer, audience: TEST_API });
    const seen: { authorization?: string; nonce?: unknown; jwk?: unknown }[] = [];
    api = createServer(async (req, res) => {
      const dpop = typeof req.headers.dpop === 'string' ? req.headers.dpop : undefined;
      seen.push({
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
        ...(dpop ? { nonce: decodeJwt(dpop).nonce, jwk: decodeProtectedHeader(dpop).jwk } : {}),
      });
      if (dpop && decodeJwt(dpop).nonce !== 'api-nonce-1') {
        res
          .writeHead(401, { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': 'api-nonce-1' })
          .end();
        return;
      }
      try {
        const claims = await verify({
          method: req.method ?? 'GET',
          url: `http://${req.headers.host}${req.url}`,
          authorization: req.headers.authorization,
          dpop,
        });
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sub: claims.sub }));
      } catch (error) {
        if (!(error instanceof DpopRefusal)) throw error;
        res.writeHead(401, { 'www-authenticate': `DPoP error="${error.error}"` }).end(error.message);
      }
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    return { url: `http://127.0.0.1:${(api.address() as AddressInfo).port}/calls`, seen };
  }

  it('calls an API with Authorization: DPoP and a proof of the session key, answering the API’s nonce challenge', async () => {
    const op = await startOp();
    const client = await newClient(op, createMemoryStore());
    await client.signIn();
    const { url, seen } = await startApi(op);
    const response = await client.fetch(url, { resource: TEST_API });
    expect(response.status, await response.clone().text()).toBe(200);
    expect(((await response.json()) as { sub: string }).sub).toBe('user-ada');
    expect(seen).toHaveLength(2);
    expect(seen[0]?.authorization).toMatch(/^DPoP /);
    expect(seen[1]?.nonce).toBe('api-nonce-1');
  });

  it('hands back the API’s refusal as a response: a bearer token (dpop: false) is refused by a DPoP API', async () => {
    const op = await startOp();
    const client = await newClient(op, createMemoryStore(), { dpop: false });
    await client.signIn();
    const { url, seen } = await startApi(op);
    const response = await client.fetch(url, { resource: TEST_API });
    expect(response.status).toBe(401);
    expect(seen[0]?.authorization).toMatch(/^Bearer /);
  });
});
