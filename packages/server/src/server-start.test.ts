import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from './config/load.js';
import { startServer } from './main/server.js';
import { BASE_YAML, freePort, TEST_SECRET } from './test-support/server.js';

let dir: string | undefined;
let blocker: Server | undefined;

afterEach(async () => {
  await new Promise((resolve) => (blocker ? blocker.close(resolve) : resolve(undefined)));
  blocker = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('starting a server', () => {
  it('whose port is taken fails with the reason and leaves its database closed', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'latchkey-start-'));
    const port = await freePort();
    blocker = createServer();
    await new Promise<void>((resolve) => blocker?.listen(port, '127.0.0.1', resolve));
    const configPath = path.join(dir, 'latchkey.yaml');
    await writeFile(configPath, BASE_YAML);
    const database = path.join(dir, 'latchkey.db');
    const config = await loadConfig({
      cwd: dir,
      configPath,
      env: {
        LATCHKEY_ISSUER: `http://127.0.0.1:${port}`,
        LATCHKEY_PORT: String(port),
        LATCHKEY_DATABASE_URL: `sqlite:${database}`,
        LATCHKEY_SECRET: TEST_SECRET,
        LATCHKEY_LOG_LEVEL: 'silent',
      },
    });
    await expect(startServer(config)).rejects.toMatchObject({ code: 'EADDRINUSE' });
    // Closed: the last connection to close folds the write-ahead log into the file and removes it
    // (and the checkpoint thread is gone with it).
    expect(existsSync(`${database}-wal`)).toBe(false);
  });

  it('quiet, stops the SQLite checkpoint thread (the writer checkpoints); the next request starts a new one', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'latchkey-start-'));
    const port = await freePort();
    const configPath = path.join(dir, 'latchkey.yaml');
    await writeFile(configPath, BASE_YAML);
    const config = await loadConfig({
      cwd: dir,
      configPath,
      env: {
        LATCHKEY_ISSUER: `http://127.0.0.1:${port}`,
        LATCHKEY_PORT: String(port),
        LATCHKEY_DATABASE_URL: `sqlite:${path.join(dir, 'latchkey.db')}`,
        LATCHKEY_SECRET: TEST_SECRET,
        LATCHKEY_LOG_LEVEL: 'silent',
      },
    });
    const server = await startServer(config, { idleHeap: { idleMs: 200, checkMs: 50 } });
    try {
      // 0 while the thread checkpoints, SQLite's 1,000 pages when the writer does it itself.
      const writerCheckpoints = async () =>
        (
          await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(
            server.parts.database.db,
          )
        ).rows[0]?.wal_autocheckpoint;
      const eventually = async (expected: number) => {
        const end = Date.now() + 5_000;
        while (Date.now() < end && (await writerCheckpoints()) !== expected)
          await new Promise((resolve) => setTimeout(resolve, 25));
        return writerCheckpoints();
      };
      expect(await writerCheckpoints()).toBe(0);
      expect(await eventually(1000)).toBe(1000);
      expect((await fetch(`${server.url}/.well-known/openid-configuration`)).status).toBe(200);
      expect(await eventually(0)).toBe(0);
    } finally {
      await server.close();
    }
  });
});

/**
 * What a server loads at start decides its resident memory for its whole life (README, Performance:
 * < 110 MB idle). The PostgreSQL driver, the Redis client, the passkey, SAML, QR-code, TOTP, SCIM
 * and OpenID Connect client libraries load when first used; this keeps a stray static import from
 * bringing them back. CommonJS packages (these, or their dependencies) show in `require.cache`, ES
 * modules in a resolve hook's log; compiled code, as the server runs it.
 */
describe('a default server (SQLite, no Redis, no SAML connection)', () => {
  it('loads no optional library at start, and each with its first use', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'latchkey-lazy-'));
    const dist = new URL('../dist/', import.meta.url).href;
    const script = `
      import { createRequire, register } from 'node:module';
      import { MessageChannel } from 'node:worker_threads';
      const { port1, port2 } = new MessageChannel();
      const esm = [];
      port1.on('message', (url) => esm.push(url));
      port1.unref();
      const hooks = 'let port; export function initialize(data) { port = data.port; }' +
        ' export async function resolve(s, c, next) { const r = await next(s, c); port.postMessage(r.url); return r; }';
      register('data:text/javascript,' + encodeURIComponent(hooks), { data: { port: port2 }, transferList: [port2] });
      const require = createRequire(${JSON.stringify(`${dist}main/server.js`)});
      const settled = () => new Promise((resolve) => setTimeout(resolve, 100));
      const loaded = async () => { await settled(); return [...Object.keys(require.cache), ...esm]; };
      const { loadConfig } = await import(${JSON.stringify(`${dist}config/load.js`)});
      const { startServer } = await import(${JSON.stringify(`${dist}main/server.js`)});
      const config = await loadConfig({
        cwd: ${JSON.stringify(dir)},
        configPath: ${JSON.stringify(path.join(dir, 'latchkey.yaml'))},
        env: {
          LATCHKEY_ISSUER: 'http://127.0.0.1:4999',
          LATCHKEY_DATABASE_URL: ${JSON.stringify(`sqlite:${path.join(dir, 'latchkey.db')}`)},
          LATCHKEY_SECRET: ${JSON.stringify(TEST_SECRET)},
          LATCHKEY_LOG_LEVEL: 'silent',
        },
      });
      const server = await startServer(config, { listen: false });
      const atStart = await loaded();
      const { registrationOptions } = await import(${JSON.stringify(`${dist}domain/two-step/webauthn.js`)});
      await registrationOptions({ rpId: 'sso.test', rpName: 'Latchkey', user: { id: 'u1', email: 'a@b.test' } });
      const { verifyTotp } = await import(${JSON.stringify(`${dist}domain/two-step/totp.js`)});
      await verifyTotp({ secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', code: '000000' });
      const { scimmy } = await import(${JSON.stringify(`${dist}scim/scimmy.js`)});
      scimmy();
      const { loadOpenId } = await import(${JSON.stringify(`${dist}federation/connectors/openid.js`)});
      await loadOpenId();
      const afterUse = await loaded();
      await server.close();
      console.log(JSON.stringify({ atStart, afterUse }));
    `;
    await writeFile(path.join(dir, 'latchkey.yaml'), BASE_YAML);
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const files = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as {
      atStart: string[];
      afterUse: string[];
    };
    const packages = (paths: string[]) =>
      new Set(paths.flatMap((file) => /node_modules[/\\]((?:@[^/\\]+[/\\])?[^/\\]+)/.exec(file)?.[1] ?? []));
    const atStart = [...packages(files.atStart)];
    const afterUse = [...packages(files.afterUse)];
    // The check itself works: the SQLite driver is a CommonJS package the server did load, the
    // engine an ES module.
    expect(atStart).toContain('better-sqlite3');
    expect(atStart).toContain('oidc-provider');
    const optional = [
      'pg',
      'ioredis',
      '@node-saml/node-saml',
      'xml-crypto',
      'qrcode',
      '@peculiar/asn1-schema',
      'otplib',
      'scimmy',
      'openid-client',
    ];
    expect(atStart.filter((name) => optional.includes(name))).toEqual([]);
    for (const used of ['@peculiar/asn1-schema', 'otplib', 'scimmy', 'openid-client'])
      expect(afterUse).toContain(used);
  });
});
