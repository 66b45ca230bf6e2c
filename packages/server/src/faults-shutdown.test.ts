import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpSignIn, sleep } from '../../../bench/lib.mjs';
import { BASE_YAML, freePort, TEST_SECRET } from './test-support/server.js';

/**
 * Graceful stop of `latchkey serve` (the compiled CLI): on SIGTERM a request already in flight — here
 * a refresh whose body is still arriving — finishes with its normal answer, new connections are
 * refused, the process exits 0, and what the request wrote is whole (the rotated token works after a
 * restart).
 */
const CLI = new URL('../bin/latchkey.js', import.meta.url).pathname;
const CLIENT = { clientId: 'acme-desktop', redirectUri: 'http://127.0.0.1/callback' };

describe('SIGTERM with a request in flight', () => {
  let dir: string;
  let port: number;
  let issuer: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'latchkey-shutdown-'));
    writeFileSync(path.join(dir, 'latchkey.yaml'), BASE_YAML);
    port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    env = {
      ...process.env,
      LATCHKEY_ISSUER: issuer,
      LATCHKEY_DATABASE_URL: `sqlite:${path.join(dir, 'latchkey.db')}`,
      LATCHKEY_SECRET: TEST_SECRET,
      LATCHKEY_CONFIG: path.join(dir, 'latchkey.yaml'),
      LATCHKEY_LOG_LEVEL: 'warn',
    };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function serve(): Promise<{ child: ChildProcess; exit: Promise<number | null> }> {
    const child = spawn(process.execPath, [CLI, 'serve'], {
      env,
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const up = await fetch(`${issuer}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (up) return { child, exit };
      await sleep(100);
    }
    child.kill('SIGKILL');
    throw new Error('latchkey serve did not start');
  }

  it('finishes the in-flight request, refuses new ones, exits 0, leaves nothing half-written', async () => {
    const first = await serve();
    const tokens = await httpSignIn(issuer, {
      ...CLIENT,
      email: 'bob@beta.test',
      password: 'correct horse battery staple',
    });

    // A refresh whose body arrives in two parts, with the stop signal in between.
    const body = new URLSearchParams({
      grant_type: 'refresh_token',
      client_id: CLIENT.clientId,
      refresh_token: tokens.refresh_token,
    }).toString();
    const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        `${issuer}/token`,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            'content-length': Buffer.byteLength(body),
            accept: 'application/json',
          },
        },
        (res) => {
          let text = '';
          res.on('data', (chunk) => {
            text += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, 20));
      setTimeout(() => {
        first.child.kill('SIGTERM');
        setTimeout(() => req.end(body.slice(20)), 700);
      }, 200);
    });

    // While draining, the listener is closed: a new connection is refused.
    await sleep(500);
    const late = await fetch(`${issuer}/healthz`).then(
      (r) => r.status,
      () => 'refused',
    );
    expect(late === 'refused' || late === 503).toBe(true);

    const done = await response;
    expect(done.status).toBe(200);
    const rotated = JSON.parse(done.text) as { refresh_token: string; id_token: string };
    expect(rotated.id_token).toBeTruthy();
    expect(await first.exit).toBe(0);

    // Nothing half-written: after a restart the rotated token works and the old one is spent.
    const second = await serve();
    try {
      const use = (refreshToken: string) =>
        fetch(`${issuer}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'refresh_token',
            client_id: CLIENT.clientId,
            refresh_token: refreshToken,
          }),
        }).then((r) => r.status);
      expect(await use(rotated.refresh_token)).toBe(200);
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exit).toBe(0);
    }
  }, 60_000);
});
