import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpSignIn, spawnChild } from '../../../bench/lib.mjs';
import { openDatabase } from './storage/database.js';
import { createTestDatabaseUrl } from './test-support/databases.js';
import { freePort } from './test-support/server.js';

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
