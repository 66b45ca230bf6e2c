// Shared helpers of the benchmarks: child processes, statistics, and an HTTP driver for the sign-in
// forms (fetch + a cookie jar, no browser).
import { fork } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** Where a profile frame's code lives: `node_modules/<pkg>/…` → `<pkg>`, a project file → its path under dist/ or src/. */
export function codeLocation(url) {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  const own = /\/(?:dist|src)\/(.*)$/.exec(url);
  return own ? own[1] : url || '(native)';
}

export const here = (file) => fileURLToPath(new URL(file, import.meta.url));

/** Latchkey's client at the stand-in IdP of the federated case (bench/upstream.mjs). */
export const UPSTREAM_CLIENT = { id: 'latchkey-bench', secret: 'bench-upstream-secret' };
/** The person who signs in there (an acme.test account, no 2-step verification, like bob at Latchkey). */
export const UPSTREAM_USER = {
  email: 'alice@acme.test',
  password: 'alice upstream password',
  name: 'Alice Liddell',
};

/** A TCP port free on loopback right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Percentile of a sorted array (nearest rank). */
export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export function summarize(latencies, seconds) {
  const sorted = Float64Array.from(latencies).sort();
  return {
    count: sorted.length,
    perSecond: sorted.length / seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : Number.NaN,
  };
}

/**
 * A child process speaking a tiny request/response protocol over IPC: `call(cmd, args)` sends
 * `{ id, cmd, ...args }` and resolves the child's `{ id, result }` (or rejects on `{ id, error }`).
 * The first message `{ type: 'ready', ... }` resolves `ready`.
 */
export function spawnChild(script, { args = [], env = {}, execArgv = [], quiet = true } = {}) {
  const child = fork(script, args, {
    env: { ...process.env, ...env },
    execArgv,
    stdio: quiet ? ['ignore', 'ignore', 'pipe', 'ipc'] : ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr = (stderr + chunk.toString()).slice(-8000);
  });
  const pending = new Map();
  let nextId = 1;
  let readyResolve;
  let readyReject;
  const ready = new Promise((resolve, reject) => {
    readyResolve = resolve;
    readyReject = reject;
  });
  child.on('message', (message) => {
    if (message?.type === 'ready') return readyResolve(message);
    const waiter = pending.get(message?.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.error) waiter.reject(new Error(message.error));
    else waiter.resolve(message.result);
  });
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      const error = new Error(`${script} exited (${code ?? signal})\n${stderr}`);
      readyReject(error);
      for (const waiter of pending.values()) waiter.reject(error);
      pending.clear();
      resolve({ code, signal });
    });
  });
  return {
    child,
    ready,
    exited,
    stderr: () => stderr,
    call(cmd, payload = {}) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.send({ id, cmd, ...payload });
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** Answers `{ id, cmd }` messages from the parent with `handlers[cmd](message)`. */
export function serveIpc(handlers) {
  process.on('message', async (message) => {
    const handler = handlers[message?.cmd];
    try {
      if (!handler) throw new Error(`unknown command ${message?.cmd}`);
      const result = await handler(message);
      process.send?.({ id: message.id, result });
    } catch (error) {
      process.send?.({ id: message.id, error: error instanceof Error ? error.stack : String(error) });
    }
  });
  process.on('disconnect', () => process.exit(0));
}

/** A minimal cookie jar for one host: enough for the sign-in forms. */
export class CookieJar {
  #cookies = new Map();
  store(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /max-age=0|expires=thu, 01 jan 1970/i.test(a.trim()));
      if (expired || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }
  header() {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

const CSRF = /name="_csrf" value="([^"]+)"/;
const ACTION = /<form[^>]*action="([^"]+)"/;

function decodeHtml(text) {
  return text.replaceAll('&amp;', '&').replaceAll('&#x2F;', '/').replaceAll('&#47;', '/');
}

/**
 * One browser's sign-in at Latchkey, driven over HTTP: the authorization request with PKCE, its
 * cookie jar, redirects followed, forms posted with their CSRF field, and at the end the Launch
 * Application click and the code exchange.
 */
function signInSession(
  issuer,
  { clientId, redirectUri, scope, resource, origins, fetch = globalThis.fetch },
) {
  const jar = new CookieJar();
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const auth = new URL('/auth', issuer);
  auth.search = new URLSearchParams({
    client_id: clientId,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: scope ?? 'openid email profile offline_access',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: randomBytes(8).toString('hex'),
    nonce: randomBytes(8).toString('hex'),
    ...(resource ? { resource } : {}),
  }).toString();

  const request = async (url, init = {}) => {
    const response = await fetch(new URL(url, issuer), {
      ...init,
      redirect: 'manual',
      headers: { accept: 'text/html', cookie: jar.header(), ...(init.headers ?? {}) },
    });
    jar.store(response);
    return response;
  };
  // Latchkey's origins: where the requests go, and the issuer's own when they go to one process of a
  // fleet by its address (its absolute redirects name the issuer, as behind a load balancer).
  const latchkey = new Set([issuer, ...(origins ?? [])].map((o) => new URL(o).origin));
  /** Follows redirects within Latchkey; stops at the app's redirect URI or at another site. */
  const follow = async (response) => {
    let current = response;
    for (let hops = 0; hops < 10; hops++) {
      const location = current.headers.get('location');
      if (current.status < 300 || current.status >= 400 || !location) return current;
      await current.arrayBuffer();
      if (location.startsWith(redirectUri) || !latchkey.has(new URL(location, issuer).origin)) return current;
      current = await request(location);
    }
    throw new Error('too many redirects');
  };
  const post = async (page, fields) => {
    const html = await page.text();
    if (page.status >= 400) throw new Error(`sign-in page answered ${page.status}: ${html.slice(0, 300)}`);
    const csrf = CSRF.exec(html)?.[1];
    const action = ACTION.exec(html)?.[1];
    if (!csrf || !action) throw new Error(`no form on page (status ${page.status}): ${html.slice(0, 300)}`);
    return follow(
      await request(decodeHtml(action), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: csrf, ...fields }).toString(),
      }),
    );
  };
  /** Launch Application, then the app's code exchange; resolves the token response. */
  const launch = async (handoffPage) => {
    const toApp = await post(handoffPage, {});
    const location = toApp.headers.get('location') ?? '';
    const code = new URL(location).searchParams.get('code');
    if (!code) throw new Error(`no code in redirect (status ${toApp.status}): ${location}`);
    const token = await fetch(new URL('/token', issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: redirectUri,
        client_id: clientId,
        code_verifier: verifier,
      }).toString(),
    });
    const body = await token.json();
    if (!token.ok) throw new Error(`code exchange failed: ${JSON.stringify(body)}`);
    return body;
  };
  return { start: () => request(auth.toString()).then(follow), request, follow, post, launch };
}

/**
 * One complete local sign-in over HTTP, as a browser would do it: authorization request with PKCE,
 * email page, password page, the Launch Application click, the redirect with the code, and the code
 * exchange at the token endpoint. Resolves the token response.
 */
export async function httpSignIn(issuer, options) {
  const session = signInSession(issuer, options);
  const emailPage = await session.start();
  const passwordPage = await session.post(emailPage, { email: options.email });
  const handoffPage = await session.post(passwordPage, { password: options.password });
  return session.launch(handoffPage);
}

/**
 * One complete federated sign-in over HTTP: the email page at Latchkey sends the browser to the
 * organization's IdP, `upstream(url)` signs in there and resolves the URL it redirects back to
 * (Latchkey's callback), then the Launch Application click and the code exchange.
 */
export async function httpFederatedSignIn(issuer, options, upstream) {
  const session = signInSession(issuer, options);
  const emailPage = await session.start();
  const away = await session.post(emailPage, { email: options.email });
  const location = away.headers.get('location');
  if (!location) throw new Error(`the email page did not lead to the IdP (status ${away.status})`);
  const callback = await upstream(new URL(location, issuer).href);
  const handoffPage = await session.follow(await session.request(callback));
  return session.launch(handoffPage);
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A new, empty database on the PostgreSQL at `adminUrl`: its `url`, and `drop()` to remove it. */
export async function createScratchPostgres(adminUrl) {
  // Imported here, not at the top: bench/server.mjs imports this file, and the server under test
  // (Latchkey on SQLite, and the bare engine) must not carry a PostgreSQL driver it never uses in
  // its measured memory.
  const { default: pg } = await import('pg');
  const name = `latchkey_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
