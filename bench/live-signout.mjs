// Live sign-out: how long from an administrator's action to the app's event, and what an open
// stream costs the server.
//
//   node bench/live-signout.mjs                 30 runs, 1,000 connected apps
//   node bench/live-signout.mjs --runs 100 --apps 2000
//
// Two server processes (the compiled server, bench/server.mjs) share one scratch PostgreSQL
// database and one issuer. Every app holds `GET /session/events` open on process B; the revocation
// is made where an administrator makes it: the admin operation `disableUser` (what
// `latchkey admin users disable` runs) in this process, its own database pool, outside both servers.
// Time runs from the call until the app has the Security Event Token and has verified it against
// the JWKS (jose). A few runs spawn the real CLI and time from its exit (its commit).
// Memory: server B's RSS and V8 heap (after GC) with N apps connected, minus before, per app.

import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { createScratchPostgres, freePort, here, httpSignIn, percentile, sleep, spawnChild } from './lib.mjs';

const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string', default: '30' },
    'cli-runs': { type: 'string', default: '3' },
    apps: { type: 'string', default: '1000' },
    postgres: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const RUNS = Number(flags.runs);
const CLI_RUNS = Number(flags['cli-runs']);
const APPS = Number(flags.apps);
const POSTGRES_ADMIN =
  flags.postgres ??
  process.env.LATCHKEY_BENCH_POSTGRES_URL ??
  process.env.LATCHKEY_TEST_POSTGRES_URL ??
  'postgres://postgres@127.0.0.1:5432/test';
/** A new database on the benchmark's PostgreSQL (dropped by `drop()`). */
const scratchPostgres = () => createScratchPostgres(POSTGRES_ADMIN);
const SECRET = 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
const PASSWORD = 'correct horse battery staple';
const CLIENT = { clientId: 'acme-desktop', redirectUri: 'http://127.0.0.1/callback' };
const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
const dist = new URL('../packages/server/dist/', import.meta.url);
const fmt = (n, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '–');

/**
 * One app's stream: resolves `event` with the SET when it arrives. `opened` resolves when the
 * server has answered 200 (the app is subscribed).
 */
function openStream(url, token) {
  const controller = new AbortController();
  let resolveEvent;
  const event = new Promise((resolve) => {
    resolveEvent = resolve;
  });
  const opened = fetch(`${url}/session/events`, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
    signal: controller.signal,
  }).then((response) => {
    if (response.status !== 200) throw new Error(`stream refused: ${response.status}`);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    (async () => {
      for (;;) {
        const { done, value } = await reader.read().catch(() => ({ done: true }));
        if (done) return resolveEvent(undefined);
        buffer += decoder.decode(value, { stream: true });
        const match = /event: session-revoked\nid: [^\n]*\ndata: ([^\n]+)\n\n/.exec(buffer);
        if (match) {
          const at = performance.now();
          reader.cancel().catch(() => {});
          return resolveEvent({ set: match[1], at });
        }
      }
    })();
  });
  return { opened, event, close: () => controller.abort() };
}

async function main() {
  const database = await scratchPostgres();
  console.error(`scratch database ${new URL(database.url).pathname.slice(1)}`);
  const portA = await freePort();
  const issuer = `http://127.0.0.1:${portA}`;
  const start = async (port) => {
    const node = spawnChild(here('./server.mjs'), {
      execArgv: ['--expose-gc'],
      env: {
        BENCH_MODE: 'latchkey',
        BENCH_DATABASE_URL: database.url,
        BENCH_ISSUER: issuer,
        BENCH_PORT: String(port),
      },
    });
    const { url } = await node.ready;
    return { ...node, url };
  };
  const a = await start(portA);
  const b = await start(await freePort());
  const { loadConfig } = await import(new URL('config/load.js', dist).href);
  const { openAdmin } = await import(new URL('main/open-admin.js', dist).href);
  const { disableUser, enableUser, addUser, setPassword } = await import(
    new URL('admin/users.js', dist).href
  );
  const { createScimToken } = await import(new URL('admin/scim-tokens.js', dist).href);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'latchkey-live-bench-'));
  const config = await loadConfig({
    cwd: dir,
    env: { LATCHKEY_DATABASE_URL: database.url, LATCHKEY_SECRET: SECRET, LATCHKEY_ISSUER: issuer },
  });
  const admin = await openAdmin(config, { applyConfig: false, actor: 'bench' });
  const jwks = createLocalJWKSet(await (await fetch(`${a.url}/jwks`)).json());
  const results = { runs: RUNS, apps: APPS };
  try {
    // ---- latency: admin disable → the app on process B has the verified event ----
    const signInBob = () =>
      httpSignIn(a.url, { ...CLIENT, email: 'bob@beta.test', password: PASSWORD, origins: [issuer] });
    const latencies = [];
    for (let run = 0; run < RUNS; run++) {
      const tokens = await signInBob();
      const stream = openStream(b.url, tokens.access_token);
      await stream.opened;
      const started = performance.now();
      await disableUser(admin, 'bob@beta.test');
      const got = await Promise.race([stream.event, sleep(10_000).then(() => undefined)]);
      if (!got) throw new Error(`run ${run}: no event within 10 s`);
      const { payload } = await jwtVerify(got.set, jwks, {
        issuer,
        audience: CLIENT.clientId,
        typ: 'secevent+jwt',
      });
      if (!payload.events?.[SESSION_REVOKED]) throw new Error('not a session-revoked event');
      latencies.push(performance.now() - started);
      await enableUser(admin, 'bob@beta.test');
    }
    latencies.sort((x, y) => x - y);
    results.adminDisable = {
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies.at(-1),
    };
    console.error(
      `admin disable → app event (B), ${RUNS} runs: p50 ${fmt(results.adminDisable.p50, 1)} ms, p99 ${fmt(results.adminDisable.p99, 1)} ms, max ${fmt(results.adminDisable.max, 1)} ms (target p99 < 2000 ms)`,
    );

    // ---- SCIM: PATCH active "False" (as Entra ID sends it) to process A → the app on B ----
    const scimToken = await createScimToken(admin, { organizationId: 'beta' });
    const scimBase = `${a.url}/scim/v2/beta`;
    const scim = (path, method, body) =>
      fetch(`${scimBase}${path}`, {
        method,
        headers: { authorization: `Bearer ${scimToken.token}`, 'content-type': 'application/scim+json' },
        body: JSON.stringify(body),
      });
    const scimEmail = 'scim-bench@beta.test';
    const created = await scim('/Users', 'POST', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: scimEmail,
      active: true,
      emails: [{ value: scimEmail, type: 'work', primary: true }],
    });
    if (created.status !== 201) throw new Error(`SCIM create: ${created.status} ${await created.text()}`);
    const scimId = (await created.json()).id;
    await setPassword(admin, scimEmail, PASSWORD);
    const active = (value) =>
      scim(`/Users/${scimId}`, 'PATCH', {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'Replace', path: 'active', value }],
      });
    const scimLatencies = [];
    for (let run = 0; run < RUNS; run++) {
      const tokens = await httpSignIn(a.url, {
        ...CLIENT,
        email: scimEmail,
        password: PASSWORD,
        origins: [issuer],
      });
      const stream = openStream(b.url, tokens.access_token);
      await stream.opened;
      const started = performance.now();
      const response = await active('False');
      if (response.status !== 200) throw new Error(`SCIM deactivate: ${response.status}`);
      const got = await Promise.race([stream.event, sleep(10_000).then(() => undefined)]);
      if (!got) throw new Error(`SCIM run ${run}: no event within 10 s`);
      await jwtVerify(got.set, jwks, { issuer, audience: CLIENT.clientId, typ: 'secevent+jwt' });
      scimLatencies.push(performance.now() - started);
      await (await active('True')).arrayBuffer();
    }
    scimLatencies.sort((x, y) => x - y);
    results.scimDeactivate = {
      p50: percentile(scimLatencies, 50),
      p99: percentile(scimLatencies, 99),
      max: scimLatencies.at(-1),
    };
    console.error(
      `SCIM active:false (to A) → app event (B), ${RUNS} runs: p50 ${fmt(results.scimDeactivate.p50, 1)} ms, p99 ${fmt(results.scimDeactivate.p99, 1)} ms (target p99 < 2000 ms)`,
    );

    // ---- the real CLI, timed from its exit (its commit) ----
    const cli = [];
    for (let run = 0; run < CLI_RUNS; run++) {
      const tokens = await signInBob();
      const stream = openStream(b.url, tokens.access_token);
      await stream.opened;
      const spawnedAt = performance.now();
      const exitedAt = await new Promise((resolve, reject) => {
        const child = spawn(
          process.execPath,
          [here('../packages/server/bin/latchkey.js'), 'admin', 'users', 'disable', 'bob@beta.test'],
          {
            env: {
              PATH: process.env.PATH,
              HOME: process.env.HOME,
              LATCHKEY_DATABASE_URL: database.url,
              LATCHKEY_SECRET: SECRET,
            },
            stdio: 'ignore',
          },
        );
        child.on('error', reject);
        child.on('exit', (code) =>
          code === 0 ? resolve(performance.now()) : reject(new Error(`cli exit ${code}`)),
        );
      });
      const got = await Promise.race([stream.event, sleep(10_000).then(() => undefined)]);
      if (!got) throw new Error('no event after the CLI');
      // From the command's start (a Node process: most of it is start-up), and relative to its
      // exit (negative: the event was there before the process had finished exiting).
      cli.push({ fromStart: got.at - spawnedAt, afterExit: got.at - exitedAt });
      await enableUser(admin, 'bob@beta.test');
    }
    results.cliDisable = cli;
    console.error(
      `latchkey admin users disable (CLI process) → app event: ${cli.map((c) => `${fmt(c.fromStart, 0)} ms from its start (${fmt(c.afterExit, 0)} ms from its exit)`).join('; ')}`,
    );

    // ---- memory: APPS apps connected to process B ----
    const perAccount = 25;
    const accounts = Math.ceil(APPS / perAccount);
    const tokens = [];
    for (let i = 0; i < accounts; i++) {
      const email = `app${i}@beta.test`;
      await addUser(admin, { email, password: PASSWORD, organizationId: 'beta' }).catch(() => {});
      const first = await httpSignIn(a.url, { ...CLIENT, email, password: PASSWORD, origins: [issuer] });
      tokens.push({ email, token: first.access_token });
      let refresh = first.refresh_token;
      for (let j = 1; j < perAccount && tokens.length < APPS; j++) {
        const response = await fetch(`${a.url}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'refresh_token',
            client_id: CLIENT.clientId,
            refresh_token: refresh,
          }),
        });
        const body = await response.json();
        if (!response.ok) throw new Error(`refresh: ${JSON.stringify(body)}`);
        refresh = body.refresh_token;
        tokens.push({ email, token: body.access_token });
      }
    }
    const memory = () => b.call('memory');
    // Warm the route (first stream compiles its code paths), then measure from a settled heap.
    const warm = openStream(b.url, tokens[0].token);
    await warm.opened;
    warm.close();
    await sleep(500);
    const before = await memory();
    const streams = [];
    // The first fifth warms up what any traffic grows once (allocator arenas, JIT code, the
    // statement caches of the token lookups); the cost per app is the slope from there to all of
    // them, the total delta is reported beside it.
    const warmCount = Math.floor(tokens.length / 5);
    let warmed;
    for (let i = 0; i < tokens.length; i += 50) {
      const batch = tokens.slice(i, i + 50).map(({ token }) => openStream(b.url, token));
      await Promise.all(batch.map((s) => s.opened));
      streams.push(...batch);
      if (!warmed && streams.length >= warmCount) {
        await sleep(500);
        warmed = { n: streams.length, ...(await memory()) };
      }
    }
    await sleep(1_000);
    const after = await memory();
    const n = streams.length;
    const marginal = n - warmed.n;
    results.memory = {
      apps: n,
      rssBefore: before.rss,
      rssAfter: after.rss,
      heapBefore: before.heapUsed,
      heapAfter: after.heapUsed,
      rssPerApp: (after.rss - warmed.rss) / marginal,
      heapPerApp: (after.heapUsed - warmed.heapUsed) / marginal,
      rssTotalPerApp: (after.rss - before.rss) / n,
      heapTotalPerApp: (after.heapUsed - before.heapUsed) / n,
    };
    console.error(
      `${n} apps connected to B: RSS ${fmt(before.rss / 2 ** 20, 1)} → ${fmt(after.rss / 2 ** 20, 1)} MB, V8 heap ${fmt(before.heapUsed / 2 ** 20, 1)} → ${fmt(after.heapUsed / 2 ** 20, 1)} MB; per app from ${warmed.n} to ${n}: ${fmt(results.memory.rssPerApp / 1024, 1)} KB RSS, ${fmt(results.memory.heapPerApp / 1024, 1)} KB heap; over all ${n} (with warm-up): ${fmt(results.memory.rssTotalPerApp / 1024, 1)} KB RSS, ${fmt(results.memory.heapTotalPerApp / 1024, 1)} KB heap (target < 20 KB per connection)`,
    );

    // The floor: a bare node:http server holding as many SSE responses (bench/sse-baseline.mjs).
    results.baseline = await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--expose-gc', here('./sse-baseline.mjs'), String(n)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (chunk) => {
        out += chunk;
      });
      child.on('exit', (code) =>
        code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`baseline exit ${code}`)),
      );
    });
    console.error(
      `bare node:http holding ${n} SSE responses: ${fmt(results.baseline.rssPerApp / 1024, 1)} KB RSS, ${fmt(results.baseline.heapPerApp / 1024, 1)} KB heap per connection`,
    );

    // ---- fan-out: every account disabled, every app told ----
    const fanStart = performance.now();
    const emails = [...new Set(tokens.map((t) => t.email))];
    // One after the other, as an administrator's script would (the admin context has a small pool).
    for (const email of emails) await disableUser(admin, email);
    const arrivals = await Promise.all(
      streams.map((s) => Promise.race([s.event, sleep(20_000).then(() => undefined)])),
    );
    const told = arrivals.filter(Boolean);
    const last = Math.max(...told.map((t) => t.at)) - fanStart;
    results.fanOut = { apps: n, told: told.length, lastMs: last };
    console.error(
      `fan-out: ${emails.length} accounts disabled one after the other → ${told.length}/${n} apps told, the last after ${fmt(last, 0)} ms`,
    );
    for (const s of streams) s.close();
  } finally {
    await admin.close();
    await Promise.all([a.stop(), b.stop()]);
    await database.drop();
  }
  const ok = (v) => (v ? 'yes' : 'NO');
  console.log('\n| measurement | result | target | met |');
  console.log('| --- | --- | --- | --- |');
  console.log(
    `| Live sign-out: admin disable → app's verified event, app on the other process (PostgreSQL, 2 processes, ${RUNS} runs) | p50 ${fmt(results.adminDisable.p50, 1)} ms, p99 ${fmt(results.adminDisable.p99, 1)} ms | p99 < 2 s | ${ok(results.adminDisable.p99 < 2000)} |`,
  );
  console.log(
    `| Live sign-out: SCIM PATCH active "False" to process A → app's verified event on B (${RUNS} runs) | p50 ${fmt(results.scimDeactivate.p50, 1)} ms, p99 ${fmt(results.scimDeactivate.p99, 1)} ms | p99 < 2 s | ${ok(results.scimDeactivate.p99 < 2000)} |`,
  );
  console.log(
    `| Live sign-out: \`latchkey admin users disable\` (the CLI process) → event | ${results.cliDisable.map((c) => `${fmt(c.fromStart, 0)} ms from its start`).join(', ')} (Node start-up included; the event precedes the process's exit) | | |`,
  );
  console.log(
    `| Live sign-out: memory per connected app (server B, after GC, ${results.memory.apps} apps) | ${fmt(results.memory.rssPerApp / 1024, 1)} KB RSS, ${fmt(results.memory.heapPerApp / 1024, 1)} KB heap (all ${results.memory.apps} incl. warm-up: ${fmt(results.memory.rssTotalPerApp / 1024, 1)} KB RSS, ${fmt(results.memory.heapTotalPerApp / 1024, 1)} KB heap) | < 20 KB | ${ok(results.memory.rssPerApp < 20 * 1024)} |`,
  );
  console.log(
    `| Floor: bare node:http holding ${results.memory.apps} SSE responses (bench/sse-baseline.mjs) | ${fmt(results.baseline.rssPerApp / 1024, 1)} KB RSS, ${fmt(results.baseline.heapPerApp / 1024, 1)} KB heap per connection | | |`,
  );
  console.log(
    `| Live sign-out: fan-out, ${results.fanOut.apps} apps of ${Math.ceil(APPS / 25)} accounts disabled one after the other | ${results.fanOut.told} told, last after ${fmt(results.fanOut.lastMs, 0)} ms | | |`,
  );
  if (flags.json) console.log(JSON.stringify(results));
  return results;
}

export const liveSignOut = main;
if (import.meta.url === `file://${process.argv[1]}`) await main();
