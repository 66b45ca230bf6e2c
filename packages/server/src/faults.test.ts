import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Child, httpSignIn, sleep, spawnChild } from '../../../bench/lib.mjs';
import { freePort } from './test-support/server.js';

/**
 * Faults: PostgreSQL stopped under load. Against a cluster this test creates itself
 * (initdb and pg_ctl refuse to run as root, so they run as `postgres` in a folder it owns), never the
 * shared one. The server is the compiled one in its own process (bench/server.mjs).
 */
const RUNNER = new URL('../../../bench/server.mjs', import.meta.url).pathname;
const CLIENT = { clientId: 'acme-desktop', redirectUri: 'http://127.0.0.1/callback' };

function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(path.join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(root, versions[0], 'bin') : undefined;
}

const bin = postgresBin();
const canRun = Boolean(bin) && process.getuid?.() === 0;

describe.skipIf(!canRun)('PostgreSQL stopped under load', () => {
  let dir: string;
  let port: number;
  let server: Child & { url: string };

  const asPostgres = (tool: string, args: string[]) =>
    execFileSync('runuser', ['-u', 'postgres', '--', path.join(bin as string, tool), ...args], {
      stdio: 'pipe',
      timeout: 60_000,
    });
  const pgCtl = (action: 'start' | 'stop') =>
    asPostgres('pg_ctl', [
      '-D',
      path.join(dir, 'data'),
      '-l',
      path.join(dir, 'postgres.log'),
      '-w',
      ...(action === 'start'
        ? ['-o', `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off`, 'start']
        : ['-m', 'fast', 'stop']),
    ]);

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'latchkey-faults-'));
    execFileSync('chown', ['postgres:postgres', dir]);
    asPostgres('initdb', ['-D', path.join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync']);
    port = await freePort();
    pgCtl('start');
    const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
    await admin.connect();
    await admin.query('CREATE DATABASE latchkey');
    await admin.end();
    const node = spawnChild(RUNNER, {
      env: {
        BENCH_MODE: 'latchkey',
        BENCH_DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/latchkey`,
      },
    });
    const { url } = (await node.ready) as { url: string };
    server = { ...node, url };
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    try {
      pgCtl('stop');
    } catch {
      // already stopped
    }
    rmSync(dir, { recursive: true, force: true });
  });

  async function refresh(refreshToken: string) {
    const started = Date.now();
    const response = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        client_id: CLIENT.clientId,
        refresh_token: refreshToken,
      }),
    });
    const body = (await response.json()) as Record<string, string>;
    return { status: response.status, body, ms: Date.now() - started };
  }

  it('fails fast with 503 while the database is down, stays up, and recovers by itself', async () => {
    const signIn = () =>
      httpSignIn(server.url, { ...CLIENT, email: 'bob@beta.test', password: 'correct horse battery staple' });
    const chains = await Promise.all([signIn(), signIn(), signIn(), signIn()]);
    const tokens = chains.map((c) => c.refresh_token);

    // Load: four apps refreshing in a loop for the whole test.
    const seen: { status: number; ms: number; error?: string }[] = [];
    let running = true;
    const load = Promise.all(
      tokens.map(async (_t, i) => {
        while (running) {
          const r: { status: number; ms: number; body: Record<string, string> } = await refresh(
            tokens[i] as string,
          ).catch((error: unknown) => ({
            status: 0,
            ms: 0,
            body: { error: String(error) },
          }));
          seen.push({ status: r.status, ms: r.ms, error: r.body.error });
          if (r.status === 200) tokens[i] = r.body.refresh_token as string;
          else await sleep(20);
        }
      }),
    );
    await sleep(500);
    expect(seen.some((r) => r.status === 200)).toBe(true);

    pgCtl('stop');
    const outageStart = seen.length;
    await sleep(1_500);

    // Apps: 503 with an OAuth error, quickly. (One retry on a transport error: the client's pooled
    // keep-alive connection can be one the server closed as it was reused; the load loop below
    // still requires every answer during the outage to be a 503 or a 200.)
    const during = await refresh(tokens[0] as string).catch((error: unknown) => {
      console.warn('refresh during the outage: transport error, retrying once', error);
      return refresh(tokens[0] as string);
    });
    expect(during.status).toBe(503);
    expect(during.body.error).toBe('temporarily_unavailable');
    expect(during.ms).toBeLessThan(2_000);
    // People: a readable page, not a stack trace.
    const page = await fetch(
      `${server.url}/auth?client_id=acme-desktop&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(CLIENT.redirectUri)}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`,
      { headers: { accept: 'text/html' }, redirect: 'manual' },
    );
    expect(page.status).toBe(503);
    const html = await page.text();
    expect(html).toContain('temporarily unavailable');
    expect(html).not.toMatch(/ECONNREFUSED|at .*\.js:\d+/);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(503);
    await ready.arrayBuffer();

    const outage = seen.slice(outageStart);
    expect(outage.length).toBeGreaterThan(0);
    expect(outage.every((r) => r.status === 503 || r.status === 200)).toBe(true);
    expect(Math.max(...outage.filter((r) => r.status === 503).map((r) => r.ms))).toBeLessThan(2_000);
    expect(server.child.exitCode).toBeNull();

    pgCtl('start');
    // Back by itself: the pool reconnects on the next query; no restart of the server.
    const deadline = Date.now() + 15_000;
    let recovered = false;
    while (Date.now() < deadline && !recovered) {
      await sleep(200);
      recovered = seen.slice(-4).some((r) => r.status === 200);
    }
    expect(recovered).toBe(true);
    running = false;
    await load;
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    const fresh = await signIn();
    expect((await refresh(fresh.refresh_token)).status).toBe(200);
    expect(server.child.exitCode).toBeNull();
  }, 90_000);
});
