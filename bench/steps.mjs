// Where an interactive sign-in's server CPU goes, request by request: one browser's sign-in at a
// time (no concurrency), the server's own CPU (process.cpuUsage over IPC) read before and after
// every request, summed per step over many sign-ins, for the bare engine with its thin pages
// (bench/server.mjs) and for Latchkey (Argon2id m=1 MiB t=1, as the benchmark's "hashing aside").
// Sequential, so each request's CPU is its own; the same sign-ins every run, so two builds compare.
//
//   node bench/steps.mjs [--signins 200] [--profile [--top 12]]
//   node bench/steps.mjs --refresh [--signins 2000] [--profile]   the silent sign-in's refresh grant
//
// Each server's CPU is also split by thread (Linux /proc): the main thread, and the rest (libuv's pool
// for hashing and WebCrypto signatures, V8's helpers, SQLite's checkpoint thread).
//
// --profile: the servers run under V8's profiler and each step lists its main thread's sampled time
// by package and the functions with the most self time inside its requests; "(between requests)" is
// what ran while the client did its bookkeeping (the stats calls, timers, work after an answer). The
// profile's sample times and the requests' start and end share the machine's monotonic clock
// (process.hrtime), so a sample belongs to the request it fell in.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { codeLocation, here, httpSignIn, spawnChild } from './lib.mjs';

const { values: flags } = parseArgs({
  options: {
    signins: { type: 'string', default: '200' },
    profile: { type: 'boolean', default: false },
    top: { type: 'string', default: '12' },
    refresh: { type: 'boolean', default: false },
  },
});
const SIGNINS = Number(flags.signins);
const PASSWORD = 'correct horse battery staple';
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

/** A request's step: its method and path with ids taken out. */
function stepOf(method, url) {
  const pathname = new URL(url).pathname
    .replace(/\/[A-Za-z0-9_-]{16,}(?=\/|$)/g, '/:id')
    .replace(/\/interaction\/[^/]+/, '/interaction/:id');
  return `${method} ${pathname}`;
}

async function measure(mode) {
  const profileDir = flags.profile ? await mkdtemp(path.join(os.tmpdir(), 'latchkey-steps-')) : undefined;
  const server = spawnChild(here('./server.mjs'), {
    execArgv: ['--expose-gc', ...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [])],
    env: { BENCH_MODE: mode, BENCH_LOG_LEVEL: 'warn', BENCH_LABEL: 'steps' },
  });
  const { url } = await server.ready;
  const cpu = async () => {
    const { cpu: c } = await server.call('stats');
    return c.user + c.system;
  };
  const steps = new Map();
  let order = 0;
  let measuring = false;
  const timedFetch = async (input, init = {}) => {
    const before = await cpu();
    const start = nowUs();
    const response = await fetch(input, init);
    const body = await response.arrayBuffer();
    const end = nowUs();
    const after = await cpu();
    const key = stepOf(init.method ?? 'GET', String(input));
    const step = steps.get(key) ?? { order: order++, us: 0, n: 0, bytes: 0, windows: [] };
    step.us += after - before;
    step.n++;
    step.bytes += body.byteLength;
    if (measuring) step.windows.push([start, end]);
    steps.set(key, step);
    return new Response(response.status === 204 || response.status === 304 ? null : body, {
      status: response.status,
      headers: response.headers,
    });
  };
  const options = {
    clientId: 'acme-desktop',
    redirectUri: 'http://127.0.0.1/callback',
    email: 'bob@beta.test',
    password: PASSWORD,
  };
  // --refresh: one chain of refresh grants (rotation, ES256 ID token), as the silent sign-in.
  let refreshToken =
    flags.refresh &&
    (mode === 'baseline'
      ? (await server.call('mint', { n: 1 }))[0]
      : (await httpSignIn(url, options)).refresh_token);
  const refresh = async () => {
    const response = await timedFetch(new URL('/token', url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: `grant_type=refresh_token&client_id=${options.clientId}&refresh_token=${encodeURIComponent(refreshToken)}`,
    });
    const answer = await response.json();
    if (!answer.refresh_token || !answer.id_token)
      throw new Error(`refresh failed: ${JSON.stringify(answer)}`);
    refreshToken = answer.refresh_token;
  };
  const once = flags.refresh ? refresh : () => httpSignIn(url, { ...options, fetch: timedFetch });
  // Warm-up: the first requests compile the code paths.
  for (let i = 0; i < (flags.refresh ? 300 : 30); i++) await once();
  // A stats call's own CPU, measured alone, is taken off each request.
  let idle = 0;
  for (let i = 0; i < 50; i++) {
    const a = await cpu();
    idle += (await cpu()) - a;
  }
  const statsCost = idle / 50;
  steps.clear();
  order = 0;
  measuring = true;
  const threadsBefore = await threadTimes(server.child.pid);
  for (let i = 0; i < SIGNINS; i++) {
    // The bare engine's in-memory store scans a grant's every token on each save: a fresh chain
    // every 100 refreshes keeps it at its best, as the benchmark's rounds do.
    if (flags.refresh && mode === 'baseline' && i % 100 === 0)
      refreshToken = (await server.call('mint', { n: 1 }))[0];
    await once();
  }
  const threadsAfter = await threadTimes(server.child.pid);
  await server.stop();
  const threads = [...threadsAfter]
    .map(([name, t]) => [name, t - (threadsBefore.get(name) ?? 0)])
    .filter(([, t]) => t > 0)
    .sort((a, b) => b[1] - a[1]);
  let profile;
  if (profileDir) {
    const [file] = (await readdir(profileDir)).filter((f) => f.endsWith('.cpuprofile'));
    profile = JSON.parse(await readFile(path.join(profileDir, file), 'utf8'));
    await rm(profileDir, { recursive: true, force: true });
  }
  return {
    steps: [...steps].sort((a, b) => a[1].order - b[1].order),
    perSignIn: [...steps.values()].reduce((t, s) => t + s.us - s.n * statsCost, 0) / SIGNINS / 1000,
    statsCost,
    profile,
    threads,
  };
}

/**
 * CPU per thread of process `pid` (Linux: each task's stat under /proc/<pid>/task, user + system, in ms), summed by
 * thread name: the main thread, libuv's pool (crypto, hashing), V8's helpers, SQLite's checkpoint worker.
 */
async function threadTimes(pid) {
  const out = new Map();
  let tasks = [];
  try {
    tasks = await readdir(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  const tick = 1000 / 100; // USER_HZ
  for (const task of tasks) {
    try {
      const stat = await readFile(`/proc/${pid}/task/${task}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/\d+$/, 'N');
      // The main thread's id is the process's; other unnamed threads (libuv's pool, workers) are "node" too.
      const name = task === String(pid) ? 'main' : comm === 'node' ? 'other' : comm;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ms = (Number(fields[11]) + Number(fields[12])) * tick;
      out.set(name, (out.get(name) ?? 0) + ms);
    } catch {}
  }
  return out;
}

const BETWEEN = '(between requests)';

/** Self time per function of the samples inside each step's requests: step → [[name, µs]]. */
function slice(profile, steps) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const windows = steps.flatMap(([key, s]) => s.windows.map(([a, b]) => ({ a, b, key })));
  windows.sort((x, y) => x.a - y.a);
  const out = new Map(steps.map(([key]) => [key, new Map()]));
  // Between the requests (the client's bookkeeping and stats calls): what the server did after it
  // answered, timers and the collector.
  out.set(BETWEEN, new Map());
  let clock = profile.startTime;
  let w = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    clock += delta;
    if (windows.length === 0 || clock < windows[0].a) continue;
    while (w < windows.length && windows[w].b < clock) w++;
    if (w >= windows.length) break;
    const frame = nodes.get(profile.samples[i]).callFrame;
    if (frame.functionName === '(idle)') continue;
    const name = `${frame.functionName || '(anonymous)'} ${codeLocation(frame.url)}:${frame.lineNumber + 1}`;
    const perStep = out.get(clock < windows[w].a ? BETWEEN : windows[w].key);
    // A sample stands for the time since the one before it.
    perStep.set(name, (perStep.get(name) ?? 0) + delta);
  }
  return out;
}

for (const mode of ['baseline', 'latchkey']) {
  const { steps, perSignIn, statsCost, profile, threads } = await measure(mode);
  console.log(
    `\n${mode === 'baseline' ? 'bare engine, thin pages' : 'Latchkey (Argon2id m=1 MiB t=1)'}: ${perSignIn.toFixed(2)} ms server CPU per ${flags.refresh ? 'refresh' : 'sign-in'} (${SIGNINS} of them, one at a time; a stats call's ${(statsCost / 1000).toFixed(3)} ms taken off each request)`,
  );
  if (threads.length)
    console.log(
      `  CPU by thread, per ${flags.refresh ? 'refresh' : 'sign-in'}: ${threads.map(([name, t]) => `${name} ${(t / SIGNINS).toFixed(3)} ms`).join(', ')}`,
    );
  const sliced = profile ? slice(profile, steps) : undefined;
  const rows = sliced ? [...steps, [BETWEEN, { us: undefined, n: SIGNINS, bytes: 0 }]] : steps;
  for (const [key, s] of rows) {
    console.log(
      s.us === undefined
        ? `  ${key}`
        : `  ${((s.us / s.n - statsCost) / 1000).toFixed(3).padStart(7)} ms  ×${(s.n / SIGNINS).toFixed(0)}  ${String(Math.round(s.bytes / s.n)).padStart(6)} B  ${key}`,
    );
    if (!sliced) continue;
    const functions = [...sliced.get(key)].sort((a, b) => b[1] - a[1]);
    const byPackage = new Map();
    for (const [name, us] of functions) {
      const pkg = name.slice(name.indexOf(' ') + 1).replace(/:\d+$/, '');
      byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
    }
    const ms = (us) => (us / s.n / 1000).toFixed(3);
    const sampled = [...byPackage.values()].reduce((a, b) => a + b, 0);
    console.log(
      `        sampled on the main thread: ${ms(sampled)} ms; by package: ${[...byPackage]
        .sort((a, b) => b[1] - a[1])
        .slice(0, Number(process.env.STEPS_PACKAGES ?? 8))
        .map(([p, us]) => `${p} ${ms(us)}`)
        .join(', ')}`,
    );
    for (const [name, us] of functions.slice(0, Number(flags.top)))
      console.log(`        ${ms(us)} ms  ${name}`);
  }
}
