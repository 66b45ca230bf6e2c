import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpSignIn, spawnChild } from '../../../bench/lib.mjs';
import { openDatabase } from './storage/database.js';
import { createTestDatabaseUrl } from './test-support/databases.js';
import { freePort } from './test-support/server.js';
import { startTlsProxy, type TlsProxy } from './test-support/tls-proxy.js';

/**
 * Past one machine: two server processes (the compiled server, via bench/server.mjs) on
 * different ports, with the same issuer, on one PostgreSQL. Nothing but the database is shared.
 */
const RUNNER = new URL('../../../bench/server.mjs', import.meta.url).pathname;
const CLIENT = { clientId: 'acme-desktop', redirectUri: 'http://127.0.0.1/callback' };

type Node = ReturnType<typeof spawnChild> & { url: string };

async function refresh(node: Node, refreshToken: string) {
  const response = await fetch(`${node.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      client_id: CLIENT.clientId,
      refresh_token: refreshToken,
    }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, string> };
}

describe('a fleet of two processes on one PostgreSQL', () => {
  let database: Awaited<ReturnType<typeof createTestDatabaseUrl>>;
  let a: Node;
  let b: Node;
  let issuer: string;

  async function start(issuer: string, port: number): Promise<Node> {
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
    // One after the other: the first one migrates and applies the configuration file.
    a = await start(issuer, portA);
    b = await start(issuer, await freePort());
  }, 60_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await database?.drop();
  });

  const signIn = (node: Node) =>
    httpSignIn(node.url, {
      ...CLIENT,
      email: 'bob@beta.test',
      password: 'correct horse battery staple',
      origins: [issuer],
    });

  it('a refresh token issued by one process is rotated by the other, and back', async () => {
    const first = await signIn(a);
    const second = await refresh(b, first.refresh_token);
    expect(second.status).toBe(200);
    expect(second.body.refresh_token).not.toBe(first.refresh_token);
    const third = await refresh(a, second.body.refresh_token as string);
    expect(third.status).toBe(200);
    expect(third.body.id_token).toBeTruthy();
  });

  it('reuse of a rotated token is detected whichever process serves it, and revokes the family', async () => {
    const first = await signIn(b);
    const second = await refresh(a, first.refresh_token);
    const third = await refresh(b, second.body.refresh_token as string);
    expect(third.status).toBe(200);
    // The first token's successor has itself been used: presenting the first token again is a replay.
    const replay = await refresh(a, first.refresh_token);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
    // …and the whole family is gone on both processes.
    expect((await refresh(b, third.body.refresh_token as string)).status).toBe(400);
    const again = await signIn(a);
    const rotated = await refresh(b, again.refresh_token);
    expect((await refresh(b, rotated.body.refresh_token as string)).status).toBe(200);
    expect((await refresh(a, again.refresh_token)).body.error).toBe('invalid_grant');
  });

  it('one token refreshed on both processes at the same moment: exactly one wins, the winner’s chain lives on', async () => {
    for (let round = 0; round < 3; round += 1) {
      const first = await signIn(round % 2 === 0 ? a : b);
      const answers = await Promise.all([refresh(a, first.refresh_token), refresh(b, first.refresh_token)]);
      expect(answers.map((r) => r.status).sort()).toEqual([200, 400]);
      const loser = answers.find((r) => r.status === 400);
      const winner = answers.find((r) => r.status === 200);
      expect(loser?.body.error).toBe('invalid_grant');
      // A race is not a replay: nothing was revoked, and the winner goes on on either process.
      const next = await refresh(round % 2 === 0 ? b : a, winner?.body.refresh_token as string);
      expect(next.status).toBe(200);
      expect((await refresh(a, next.body.refresh_token as string)).status).toBe(200);
    }
  });

  it('a fork of the grace window across processes: the app’s superseded token revokes the family, the thief’s chain included, audited', async () => {
    const stolen = (await signIn(a)).refresh_token;
    const apps = await refresh(b, stolen);
    expect(apps.status).toBe(200);
    // The thief presents the copied token to the other process, inside the grace window.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const thiefs = await refresh(a, stolen);
    expect(thiefs.status).toBe(200);
    // The app's next refresh (its own successor, now superseded) on either process ends the family.
    const appNext = await refresh(a, apps.body.refresh_token as string);
    expect(appNext.body.error).toBe('invalid_grant');
    expect((await refresh(b, thiefs.body.refresh_token as string)).body.error).toBe('invalid_grant');
    const db = await openDatabase(database.url);
    try {
      const events = await db.db
        .selectFrom('audit_events')
        .select(['client_id', 'details'])
        .where('action', '=', 'refresh_family_revoked')
        .execute();
      const forks = events.filter((e) => JSON.parse(e.details).reason === 'fork_detected');
      expect(forks).toHaveLength(1);
      expect(forks[0]?.client_id).toBe(CLIENT.clientId);
    } finally {
      await db.close();
    }
  });

  it('a key rotated on one process signs on both once they reload', async () => {
    const before = await signIn(a);
    const oldKid = decodeProtectedHeader(before.id_token).kid;
    const kids = (await a.call('rotateKeys')) as string[];
    expect(kids).not.toContain(oldKid);
    // The other process picks the new keys up on its next poll; here, at once.
    expect(await b.call('reloadKeys')).toEqual(kids);

    const fromB = await refresh(b, before.refresh_token);
    expect(fromB.status).toBe(200);
    const newKid = decodeProtectedHeader(fromB.body.id_token as string).kid;
    expect(newKid).not.toBe(oldKid);
    expect(kids).toContain(newKid);
    const fromA = await refresh(a, fromB.body.refresh_token as string);
    expect(decodeProtectedHeader(fromA.body.id_token as string).kid).toBe(newKid);

    // Both publish the new key and keep the old one for tokens it signed.
    for (const node of [a, b]) {
      const jwks = (await (await fetch(`${node.url}/jwks`)).json()) as { keys: { kid: string }[] };
      const published = jwks.keys.map((k) => k.kid);
      expect(published).toContain(newKid);
      expect(published).toContain(oldKid);
    }
  });
});

/**
 * The README's deployment of a fleet: nginx-like TLS termination in front of two processes
 * (round-robin, so one sign-in's requests hop between them), an https issuer, and
 * LATCHKEY_TRUSTED_PROXIES naming the proxy. Nothing reaches the processes but through the proxy.
 */
describe('a fleet of two processes behind a TLS-terminating proxy', () => {
  const CLIENT_ADDRESS = '198.51.100.77';
  let database: Awaited<ReturnType<typeof createTestDatabaseUrl>>;
  let proxy: TlsProxy;
  let nodes: Node[] = [];

  async function start(issuer: string): Promise<Node> {
    const node = spawnChild(RUNNER, {
      env: {
        BENCH_MODE: 'latchkey',
        BENCH_DATABASE_URL: database.url,
        BENCH_ISSUER: issuer,
        BENCH_PORT: String(await freePort()),
        LATCHKEY_TRUSTED_PROXIES: '127.0.0.1',
      },
    });
    const { url } = (await node.ready) as { url: string };
    return { ...node, url };
  }

  beforeAll(async () => {
    database = await createTestDatabaseUrl('postgres');
    proxy = await startTlsProxy({ clientAddress: CLIENT_ADDRESS });
    nodes.push(await start(proxy.url));
    nodes.push(await start(proxy.url));
    proxy.setTarget(nodes.map((n) => n.url));
  }, 60_000);

  afterAll(async () => {
    await proxy?.close();
    await Promise.all(nodes.map((n) => n.stop()));
    nodes = [];
    await database?.drop();
  });

  async function refreshViaProxy(refreshToken: string) {
    const response = await proxy.fetch(`${proxy.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        client_id: CLIENT.clientId,
        refresh_token: refreshToken,
      }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, string> };
  }

  it('both processes publish https endpoints under the https issuer', async () => {
    for (let i = 0; i < 2; i += 1) {
      const metadata = (await (
        await proxy.fetch(`${proxy.url}/.well-known/openid-configuration`)
      ).json()) as Record<string, string>;
      expect(metadata.issuer).toBe(proxy.url);
      for (const key of [
        'authorization_endpoint',
        'token_endpoint',
        'jwks_uri',
        'device_authorization_endpoint',
      ])
        expect(metadata[key]?.startsWith(`${proxy.url}/`), `${key}: ${metadata[key]}`).toBe(true);
    }
    expect(new Set(proxy.requests.map((r) => r.upstream))).toEqual(new Set(nodes.map((n) => n.url)));
  });

  it('a sign-in whose requests alternate between the processes, then rotations through the proxy', async () => {
    const first = await httpSignIn(proxy.url, {
      ...CLIENT,
      email: 'bob@beta.test',
      password: 'correct horse battery staple',
      fetch: proxy.fetch,
    });
    // The sign-in's own requests went to both processes.
    expect(new Set(proxy.requests.map((r) => r.upstream)).size).toBe(2);
    let token = first.refresh_token;
    for (let i = 0; i < 4; i += 1) {
      const next = await refreshViaProxy(token);
      expect(next.status, JSON.stringify(next.body)).toBe(200);
      token = next.body.refresh_token as string;
    }
    // A replay of the first token is caught whichever process it reaches.
    expect((await refreshViaProxy(first.refresh_token)).body.error).toBe('invalid_grant');
    // The processes saw the client's address from X-Forwarded-For, not the proxy's.
    const db = await openDatabase(database.url);
    try {
      const events = await db.db
        .selectFrom('audit_events')
        .select(['ip'])
        .where('action', '=', 'sign_in')
        .execute();
      expect(events.length).toBeGreaterThan(0);
      expect(events.every((e) => e.ip === CLIENT_ADDRESS)).toBe(true);
    } finally {
      await db.close();
    }
  });
});
