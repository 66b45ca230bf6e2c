// Acme Desktop's launch-to-signed-in time from the stored token (issue 23), beside a bare GTK
// window's start (bench/desktop-app-bare.cjs) on the same display. Never a timed test.
//
//   npx tsc -b packages/desktop-app packages/demo && node bench/desktop-app.mjs [--runs 9]
//
// Starts Xvfb, `latchkey serve` (SQLite, in its own process) and the demo's Acme API; signs Bob in
// once over HTTP (bench/lib.mjs) and puts his refresh token in a file store, as a first sign-in
// would; then starts `acme-desktop` and the bare window alternately and reads, from each process's
// stdout, when the signed-in view showed (account from the refresh) and when the API's list came.
// Times are from spawn to the line, measured by this process.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { freePort, here, httpSignIn, percentile } from './lib.mjs';

const { values: flags } = parseArgs({ options: { runs: { type: 'string', default: '9' } } });
const RUNS = Number(flags.runs);
const API = 'https://api.acme.test';
const BOB = { email: 'bob@beta.test', password: 'correct horse battery staple' };

const dir = await mkdtemp(path.join(os.tmpdir(), 'latchkey-bench-app-'));
const cleanups = [];
const cleanup = async () => {
  for (const fn of cleanups.reverse()) await fn().catch(() => {});
  await rm(dir, { recursive: true, force: true });
};
process.on('SIGINT', () => cleanup().then(() => process.exit(130)));

function startProcess(command, args, env) {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  return { child, output: () => output };
}

async function waitForHttp(url, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`${url} did not answer`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Spawns, resolves the ms (from spawn) at which each wanted trace line appeared. */
function timeLines(command, args, env, wanted) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const seen = {};
    let buffer = '';
    let errors = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out; seen ${JSON.stringify(seen)}\n${errors}`));
    }, 20_000);
    child.stderr.on('data', (chunk) => {
      errors += chunk;
    });
    child.stdout.on('data', (chunk) => {
      const now = performance.now() - started;
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop();
      for (const line of lines) {
        let event;
        try {
          event = JSON.parse(line);
        } catch {
          continue;
        }
        for (const [name, match] of Object.entries(wanted))
          if (!(name in seen) && match(event)) seen[name] = now;
      }
      if (Object.keys(wanted).every((name) => name in seen)) {
        clearTimeout(timer);
        child.kill('SIGTERM');
        child.once('close', () => resolve(seen));
      }
    });
    child.once('close', (code) => {
      if (!Object.keys(wanted).every((name) => name in seen)) {
        clearTimeout(timer);
        reject(
          new Error(`exited ${code} before ${Object.keys(wanted)}; seen ${JSON.stringify(seen)}\n${errors}`),
        );
      }
    });
  });
}

try {
  // The display.
  const xvfb = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1280x800x24', '-nolisten', 'tcp'], {
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
  });
  cleanups.push(async () => xvfb.kill('SIGTERM'));
  const display = await new Promise((resolve, reject) => {
    xvfb.stdio[3].once('data', (chunk) => resolve(`:${String(chunk).trim()}`));
    xvfb.once('exit', () => reject(new Error('Xvfb exited')));
  });

  // Latchkey and the API.
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const config = path.join(dir, 'latchkey.yaml');
  await writeFile(
    config,
    `clients:
  - id: acme-desktop
    name: Acme Desktop
    redirect_uris: [com.acme.desktop:/oauth2redirect, http://127.0.0.1/callback]
resources:
  - { id: ${API}, name: Acme API }
organizations:
  - { id: beta, name: Beta LLC, domains: [beta.test], connection: { type: local } }
users:
  - { email: ${BOB.email}, password: "${BOB.password}", name: Bob Builder }
argon2: { memory_cost: 1024, time_cost: 1, parallelism: 1 }
`,
  );
  const server = startProcess(process.execPath, [here('../packages/server/bin/latchkey.js'), 'serve'], {
    ...process.env,
    LATCHKEY_ISSUER: issuer,
    LATCHKEY_DATABASE_URL: `sqlite:${path.join(dir, 'latchkey.db')}`,
    LATCHKEY_SECRET: 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz',
    LATCHKEY_CONFIG: config,
    LATCHKEY_LOG_LEVEL: 'warn',
  });
  cleanups.push(async () => server.child.kill('SIGTERM'));
  await waitForHttp(`${issuer}/readyz`).catch((error) => {
    throw new Error(`${error.message}\n${server.output()}`);
  });
  const { startDemoApi } = await import('../packages/demo/dist/api.js');
  const api = await startDemoApi({ issuer, audience: API });
  cleanups.push(() => api.close());

  // Bob's first sign-in, stored as the SDK stores it.
  const tokens = await httpSignIn(issuer, {
    clientId: 'acme-desktop',
    redirectUri: 'http://127.0.0.1/callback',
    resource: API,
    ...BOB,
  });
  const claims = JSON.parse(Buffer.from(tokens.id_token.split('.')[1], 'base64url').toString());
  const { createFileStore } = await import('../packages/desktop/dist/index.js');
  const home = path.join(dir, 'home');
  const profile = {
    HOME: home,
    XDG_DATA_HOME: path.join(home, '.local', 'share'),
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_RUNTIME_DIR: path.join(home, 'run'),
    LATCHKEY_ISSUER: issuer,
    LATCHKEY_CLIENT_ID: 'acme-desktop',
    LATCHKEY_STORE: 'file',
    LATCHKEY_STORE_DIR: path.join(home, 'tokens'),
    LATCHKEY_CACHE_DIR: path.join(home, 'cache'),
    LATCHKEY_FILE_STORE_KEY: 'bench profile key',
    LATCHKEY_RESOURCES: API,
    ACME_API_URL: api.url,
  };
  const store = createFileStore({
    directory: profile.LATCHKEY_STORE_DIR,
    secret: profile.LATCHKEY_FILE_STORE_KEY,
    onWarning: () => {},
  });
  await store.write(
    `latchkey:acme-desktop@${new URL(issuer).href}`,
    JSON.stringify({
      version: 1,
      refreshToken: tokens.refresh_token,
      idToken: tokens.id_token,
      account: {
        issuer: new URL(issuer).href,
        clientId: 'acme-desktop',
        subject: claims.sub,
        email: BOB.email,
      },
      updatedAt: Date.now(),
    }),
  );

  const base = {};
  for (const [key, value] of Object.entries(process.env))
    if (!/^(LATCHKEY_|XDG_|DBUS_|WAYLAND_|DISPLAY$|BROWSER$)/.test(key)) base[key] = value;
  const env = { ...base, ...profile, DISPLAY: display, NO_AT_BRIDGE: '1', ACME_DESKTOP_TRACE: '1' };
  const app = [here('../packages/desktop-app/bin/acme-desktop.cjs')];
  const bare = [here('./desktop-app-bare.cjs')];
  const appLines = {
    window: (e) => e.event === 'view' && e.view === 'loading',
    signedIn: (e) => e.event === 'view' && e.view === 'main',
    loaded: (e) => e.event === 'view' && e.view === 'main' && e.loaded === true,
  };
  // Warm-up: the first start registers the scheme and fills the discovery cache.
  await timeLines(process.execPath, app, env, appLines);
  await timeLines(process.execPath, bare, env, { shown: (e) => e.event === 'shown' });
  // BENCH_DEBUG=1: one launch's trace lines (when each phase ended, ms from process start).
  if (process.env.BENCH_DEBUG) {
    const probe = startProcess(process.execPath, app, env);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    probe.child.kill('SIGTERM');
    console.error(probe.output());
  }
  const times = { bare: [], window: [], signedIn: [], loaded: [], loadedNoWorker: [] };
  const noWorker = { ...env, ACME_DESKTOP_EARLY: '0' };
  for (let i = 0; i < RUNS; i++) {
    const b = await timeLines(process.execPath, bare, env, { shown: (e) => e.event === 'shown' });
    times.bare.push(b.shown);
    const a = await timeLines(process.execPath, app, env, appLines);
    times.window.push(a.window);
    times.signedIn.push(a.signedIn);
    times.loaded.push(a.loaded);
    const c = await timeLines(process.execPath, app, noWorker, { loaded: appLines.loaded });
    times.loadedNoWorker.push(c.loaded);
  }
  for (const list of Object.values(times)) list.sort((x, y) => x - y);
  const median = (list) => percentile(list, 50);
  const fmt = (ms) => `${ms.toFixed(0)} ms`;
  const row = (label, list) =>
    console.log(
      `  ${label.padEnd(44)} ${fmt(median(list)).padStart(7)}  (min ${fmt(list[0])}, max ${fmt(list.at(-1))})${
        list === times.bare ? '' : `  +${fmt(median(list) - median(times.bare))} over the bare window`
      }`,
    );
  console.log(
    `Acme Desktop launch, stored sign-in, ${RUNS} runs each, interleaved, medians (spawn → line on stdout); load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} on ${os.cpus().length} CPUs:`,
  );
  row('bare GTK window shown', times.bare);
  row('acme-desktop: window shown (loading view)', times.window);
  row('acme-desktop: signed-in view (after refresh)', times.signedIn);
  row("acme-desktop: completely loaded (API's list)", times.loaded);
  row('  the same, no launch worker (ACME_DESKTOP_EARLY=0)', times.loadedNoWorker);
  const over = median(times.loaded) - median(times.bare);
  console.log(
    `  target: completely loaded within 150 ms of the bare window: ${over <= 150 ? 'met' : 'NOT met'} (${fmt(over)})`,
  );
} finally {
  await cleanup();
}
