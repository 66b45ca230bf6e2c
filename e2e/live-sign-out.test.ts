/**
 * Live sign-out end to end: the desktop SDK (`client.on('signed-out')`) signed in to a real
 * Latchkey server, and the server ending the session — `latchkey admin users disable` (the admin
 * CLI, its own process), the account's password reset, the app's grant revoked — on SQLite and
 * PostgreSQL, and across two server processes on one PostgreSQL (the app connected to one, the
 * revocation made through the other). The event arrives within seconds, verified against the
 * server's keys, and the store is cleared.
 */
import { createClient, createMemoryStore, type LatchkeyClient, type SignedOutEvent } from '@latchkey/desktop';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnChild } from '../bench/lib.mjs';
import { baseEnv, buildServer, latchkey } from '../packages/server/src/cli/test-support/run-latchkey.js';
import { createTestDatabaseUrl, testDatabaseKinds } from '../packages/server/src/test-support/databases.js';
import {
  freePort,
  startTestServer,
  TEST_SECRET,
  type TestServer,
} from '../packages/server/src/test-support/server.js';
import { httpBrowser } from './support/http-browser.js';

const BOB = { email: 'bob@beta.test', password: 'correct horse battery staple' };
async function signedInClient(
  issuer: string,
  rewrite?: (url: string) => string,
  customFetch?: typeof fetch,
  who: { email: string; password: string } = BOB,
): Promise<LatchkeyClient & { refreshToken(): Promise<string> }> {
  const store = createMemoryStore();
  const { mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const cacheDir = await mkdtemp(join(tmpdir(), 'latchkey-live-'));
  const client = await createClient({
    issuer,
    clientId: 'acme-desktop',
    redirect: 'loopback',
    store,
    cacheDir,
    openBrowser: httpBrowser(who, rewrite),
    ...(rewrite || customFetch
      ? {
          fetch: (url: string | URL | Request, init?: RequestInit) =>
            (customFetch ?? fetch)(rewrite ? rewrite(String(url)) : url, init),
        }
      : {}),
  });
  await client.signIn({ timeoutMs: 20_000 });
  return Object.assign(client, {
    // What the app holds (the store's one entry), to revoke it the way another party would.
    async refreshToken() {
      const text = await store.read(`latchkey:acme-desktop@${new URL(issuer).href}`);
      return (JSON.parse(text ?? '{}') as { refreshToken: string }).refreshToken;
    },
  });
}

/** Registers a `signed-out` listener and resolves the first event (with when it came). */
function nextSignedOut(client: LatchkeyClient) {
  let resolve: (value: { event: SignedOutEvent; at: number }) => void = () => {};
  const promise = new Promise<{ event: SignedOutEvent; at: number }>((r) => {
    resolve = r;
  });
  const off = client.on('signed-out', (event) => resolve({ event, at: Date.now() }));
  return { promise: promise.finally(off), off };
}

/**
 * A provisioning client (as Entra ID's): a SCIM token for the organization from the admin CLI, a
 * user created over SCIM, given a password (a local organization) so that the SDK can sign in.
 */
async function provisionOverScim(issuerUrl: string, env: Record<string, string>, email: string) {
  const created = await latchkey(['admin', 'scim-tokens', 'create', '--org', 'beta', '--json'], {
    cwd: process.cwd(),
    env: { ...env, LATCHKEY_ISSUER: issuerUrl },
  });
  expect(created.code, created.stderr).toBe(0);
  const { token, url } = JSON.parse(created.stdout) as { token: string; url: string };
  const scim = (path: string, init: RequestInit & { to?: string } = {}) =>
    fetch(`${(init.to ?? url).replace(/\/$/, '')}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
    });
  const user = await scim('/Users', {
    method: 'POST',
    body: JSON.stringify({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: email,
      active: true,
      emails: [{ value: email, type: 'work', primary: true }],
    }),
  });
  expect(user.status, await user.clone().text()).toBe(201);
  const id = ((await user.json()) as { id: string }).id;
  const password = `${email} has a long password`;
  const set = await latchkey(['admin', 'users', 'set-password', email], {
    cwd: process.cwd(),
    env,
    input: `${password}\n`,
  });
  expect(set.code, set.stderr).toBe(0);
  return {
    who: { email, password },
    /** PATCH active "False", as Entra ID sends it; `to` sends it to another process of the fleet. */
    deactivate: (to?: string) =>
      scim(`/Users/${id}`, {
        method: 'PATCH',
        ...(to ? { to } : {}),
        body: JSON.stringify({
          schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
          Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
        }),
      }),
  };
}

beforeAll(async () => {
  await buildServer();
}, 240_000);

for (const kind of testDatabaseKinds()) {
  describe(`the SDK hears of the end of its session (${kind})`, () => {
    let server: TestServer;
    let env: Record<string, string>;

    beforeAll(async () => {
      server = await startTestServer({ kind });
      env = baseEnv({ LATCHKEY_DATABASE_URL: server.config.databaseUrl, LATCHKEY_SECRET: TEST_SECRET });
    }, 60_000);
    afterAll(async () => {
      await server?.dispose();
    });

    it('latchkey admin users disable → signed-out within seconds, verified, store cleared, login hint given', async () => {
      const client = await signedInClient(server.issuer);
      try {
        const signedOut = nextSignedOut(client);
        // Let the watcher connect (it gets an access token first).
        await new Promise((r) => setTimeout(r, 1_000));
        const result = await latchkey(['admin', 'users', 'disable', BOB.email], { cwd: process.cwd(), env });
        expect(result.code, result.stderr).toBe(0);
        const committed = Date.now();
        const { event, at } = await signedOut.promise;
        expect(at - committed).toBeLessThan(2_000);
        expect(event).toMatchObject({
          reason: 'user_disabled',
          initiatingEntity: 'admin',
          verified: true,
          loginHint: BOB.email,
        });
        expect(event.token?.split('.')).toHaveLength(3);
        expect(await client.getState()).toMatchObject({ status: 'signed-out' });
      } finally {
        await latchkey(['admin', 'users', 'enable', BOB.email], { cwd: process.cwd(), env });
        await client.close();
      }
    }, 60_000);

    it('revoking the app’s grant elsewhere (admin sessions revoke) → signed-out; a new sign-in is watched again', async () => {
      const client = await signedInClient(server.issuer);
      try {
        const first = nextSignedOut(client);
        await new Promise((r) => setTimeout(r, 1_000));
        await latchkey(['admin', 'sessions', 'revoke', BOB.email], { cwd: process.cwd(), env });
        expect((await first.promise).event).toMatchObject({ reason: 'sessions_revoked', verified: true });
        // Signed in again: the next end is reported as well.
        await client.signIn({ timeoutMs: 20_000 });
        const second = nextSignedOut(client);
        await new Promise((r) => setTimeout(r, 1_000));
        await latchkey(['admin', 'users', 'set-password', BOB.email], {
          cwd: process.cwd(),
          env,
          input: `${BOB.password}\n`,
        });
        expect((await second.promise).event).toMatchObject({ reason: 'password_changed', verified: true });
      } finally {
        await client.close();
      }
    }, 60_000);

    it('a SCIM deactivation (PATCH active "False") → signed-out within seconds', async () => {
      const dana = await provisionOverScim(server.issuer, env, 'dana@beta.test');
      const client = await signedInClient(server.issuer, undefined, undefined, dana.who);
      try {
        const signedOut = nextSignedOut(client);
        await new Promise((r) => setTimeout(r, 1_000));
        const sent = Date.now();
        const response = await dana.deactivate();
        expect(response.status, await response.text()).toBe(200);
        const { event, at } = await signedOut.promise;
        expect(at - sent).toBeLessThan(2_000);
        expect(event).toMatchObject({ reason: 'user_disabled', verified: true, loginHint: 'dana@beta.test' });
        expect(await client.getState()).toMatchObject({ status: 'signed-out' });
      } finally {
        await client.close();
      }
    }, 60_000);

    it('where the stream is unavailable (an older server, a proxy refusing it), the next refresh reports signed-out', async () => {
      const events: SignedOutEvent[] = [];
      let streamAttempts = 0;
      const noStream: typeof fetch = async (url, init) => {
        if (String(url).endsWith('/session/events')) {
          streamAttempts += 1;
          return new Response('not found', { status: 404 });
        }
        return fetch(url, init);
      };
      const client = await signedInClient(server.issuer, undefined, noStream);
      try {
        const off = client.on('signed-out', (event) => events.push(event));
        await new Promise((r) => setTimeout(r, 1_000));
        expect(streamAttempts).toBeGreaterThan(0);
        await latchkey(['admin', 'sessions', 'revoke', BOB.email], { cwd: process.cwd(), env });
        await new Promise((r) => setTimeout(r, 1_000));
        // Nothing pushed: there is no stream.
        expect(events).toEqual([]);
        // The app's next refresh finds out, and the listener hears it once, with the login hint.
        await expect(client.getAccessToken({ forceRefresh: true })).rejects.toMatchObject({
          code: 'interaction_required',
        });
        await expect(client.getAccessToken()).rejects.toMatchObject({ code: 'interaction_required' });
        expect(events).toHaveLength(1);
        expect(events[0]).toMatchObject({
          reason: 'refresh_rejected',
          verified: false,
          loginHint: BOB.email,
        });
        off();
      } finally {
        await client.close();
      }
    }, 60_000);
  });
}

describe('two server processes on one PostgreSQL', () => {
  let database: Awaited<ReturnType<typeof createTestDatabaseUrl>>;
  let a: ReturnType<typeof spawnChild> & { url: string };
  let b: ReturnType<typeof spawnChild> & { url: string };
  let issuer: string;
  const RUNNER = new URL('../bench/server.mjs', import.meta.url).pathname;

  async function start(port: number) {
    const node = spawnChild(RUNNER, {
      env: {
        BENCH_MODE: 'latchkey',
        BENCH_DATABASE_URL: database.url,
        BENCH_ISSUER: issuer,
        BENCH_PORT: String(port),
      },
    });
    const { url } = (await node.ready) as { url: string };
    return { ...node, url };
  }

  beforeAll(async () => {
    database = await createTestDatabaseUrl('postgres');
    const portA = await freePort();
    issuer = `http://127.0.0.1:${portA}`;
    a = await start(portA);
    b = await start(await freePort());
  }, 90_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await database?.drop();
  });

  it('the app holds its stream on process B; the admin CLI and a revocation through process A reach it', async () => {
    // Everything the SDK sends goes to B (the issuer names A, as behind a load balancer).
    const toB = (url: string) => url.replace(issuer, b.url);
    const client = await signedInClient(issuer, toB);
    const env = baseEnv({
      LATCHKEY_DATABASE_URL: database.url,
      LATCHKEY_SECRET: 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz',
    });
    try {
      const signedOut = nextSignedOut(client);
      await new Promise((r) => setTimeout(r, 1_000));
      const result = await latchkey(['admin', 'users', 'disable', BOB.email], { cwd: process.cwd(), env });
      expect(result.code, result.stderr).toBe(0);
      const committed = Date.now();
      const { event, at } = await signedOut.promise;
      expect(at - committed).toBeLessThan(2_000);
      expect(event).toMatchObject({ reason: 'user_disabled', verified: true, loginHint: BOB.email });
    } finally {
      await latchkey(['admin', 'users', 'enable', BOB.email], { cwd: process.cwd(), env });
      await client.close();
    }

    // A SCIM deactivation sent to process A, the app's stream on B.
    const erin = await provisionOverScim(issuer, env, 'erin@beta.test');
    const scimApp = await signedInClient(issuer, toB, undefined, erin.who);
    try {
      const signedOut = nextSignedOut(scimApp);
      await new Promise((r) => setTimeout(r, 1_000));
      const sent = Date.now();
      const response = await erin.deactivate(`${a.url}/scim/v2/beta`);
      expect(response.status, await response.text()).toBe(200);
      const { event, at } = await signedOut.promise;
      expect(at - sent).toBeLessThan(2_000);
      expect(event).toMatchObject({ reason: 'user_disabled', verified: true, loginHint: 'erin@beta.test' });
    } finally {
      await scimApp.close();
    }

    // The app's grant revoked through process A (RFC 7009 at A's revocation endpoint: the engine
    // of process A revokes it), while the app's stream is on B.
    const again = await signedInClient(issuer, toB);
    try {
      const signedOut = nextSignedOut(again);
      await new Promise((r) => setTimeout(r, 1_000));
      const revoked = await fetch(`${a.url}/token/revocation`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          token: await again.refreshToken(),
          token_type_hint: 'refresh_token',
          client_id: 'acme-desktop',
        }),
      });
      expect(revoked.status).toBe(200);
      const sent = Date.now();
      const { event, at } = await signedOut.promise;
      expect(at - sent).toBeLessThan(2_000);
      expect(event).toMatchObject({ reason: 'grant_revoked', verified: true });
    } finally {
      await again.close();
    }
  }, 90_000);
});
