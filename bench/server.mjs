// A server under test, in its own process. BENCH_MODE=latchkey runs the compiled Latchkey server
// (packages/server/dist) on BENCH_DATABASE_URL; BENCH_MODE=baseline runs the bare oidc-provider with
// its in-memory adapter, configured for the same grant (same client, ES256 ID tokens, rotation).
// Talks to the parent over IPC: `ready`, then `stats` / `resetPeak` / `mint` / `userId`.
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, serveIpc, UPSTREAM_CLIENT } from './lib.mjs';

const mode = process.env.BENCH_MODE ?? 'latchkey';
const port = Number(process.env.BENCH_PORT) || (await freePort());
// Several processes of one fleet share one issuer (BENCH_ISSUER) while listening on their own ports.
const issuer = process.env.BENCH_ISSUER ?? `http://127.0.0.1:${port}`;
const url = `http://127.0.0.1:${port}`;

export const CLIENT = {
  id: 'acme-desktop',
  redirectUri: 'http://127.0.0.1/callback',
};

// Resident memory: sampled every 50 ms, peak kept until the parent resets it. `memoryUsage.rss()`
// alone: the full `memoryUsage()` also walks the V8 heap, about 1% of a busy server's CPU.
let peakRss = process.memoryUsage.rss();
setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
}, 50).unref();

let close = async () => {};
let mint = async () => {
  throw new Error('mint is for the baseline');
};
let userId = async () => undefined;
let keys = {};

if (mode === 'latchkey') {
  const dist = new URL('../packages/server/dist/', import.meta.url);
  const { loadConfig } = await import(new URL('config/load.js', dist).href);
  const { startServer } = await import(new URL('main/server.js', dist).href);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'latchkey-bench-'));
  const configPath = path.join(dir, 'latchkey.yaml');
  const argon =
    process.env.BENCH_ARGON2 === 'owasp' ? '' : 'argon2: { memory_cost: 1024, time_cost: 1, parallelism: 1 }';
  // BENCH_UPSTREAM: a stand-in Google (bench/upstream.mjs) for the organization acme.test.
  const upstreamOrganization = process.env.BENCH_UPSTREAM
    ? `  - id: acme
    name: Acme Corp
    domains: [acme.test]
    connection:
      type: google
      issuer: ${process.env.BENCH_UPSTREAM}
      client_id: ${UPSTREAM_CLIENT.id}
      client_secret: ${UPSTREAM_CLIENT.secret}
`
    : '';
  await writeFile(
    configPath,
    `
clients:
  - id: acme-desktop
    name: Acme Desktop
    redirect_uris: [com.acme.desktop:/oauth2redirect, http://127.0.0.1/callback]
    id_token_signed_response_alg: ES256
    device_flow: true
organizations:
  - id: beta
    name: Beta LLC
    domains: [beta.test]
    connection: { type: local }
${upstreamOrganization}users:
  - { email: bob@beta.test, password: "correct horse battery staple", name: Bob Builder }
${argon}
`,
  );
  const config = await loadConfig({
    cwd: dir,
    configPath,
    env: {
      LATCHKEY_ISSUER: issuer,
      LATCHKEY_PORT: String(port),
      LATCHKEY_DATABASE_URL: process.env.BENCH_DATABASE_URL ?? `sqlite:${path.join(dir, 'latchkey.db')}`,
      LATCHKEY_SECRET: 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz',
      LATCHKEY_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
      ...(process.env.LATCHKEY_METRICS ? { LATCHKEY_METRICS: process.env.LATCHKEY_METRICS } : {}),
      // Behind a TLS-terminating proxy (the fleet test's proxied variant).
      ...(process.env.LATCHKEY_TRUSTED_PROXIES
        ? { LATCHKEY_TRUSTED_PROXIES: process.env.LATCHKEY_TRUSTED_PROXIES }
        : {}),
    },
  });
  const server = await startServer(config, { pollIntervalMs: Number(process.env.BENCH_POLL_MS) || 60_000 });
  close = () => server.close();
  keys = {
    rotateKeys: async () => {
      await server.keys.rotate({ activateInMs: 0, keepOldForMs: 3_600_000 });
      await server.reloadKeys();
      return server.keys.activeKids();
    },
    reloadKeys: async () => {
      await server.reloadKeys();
      return server.keys.activeKids();
    },
  };
  userId = async ({ email }) => (await server.parts.repos.users.findByEmail(email))?.id;
} else {
  const { default: Provider } = await import('oidc-provider');
  const { generateKeyPair, exportJWK } = await import('jose');
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'bench-es256', alg: 'ES256', use: 'sig' };
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT.id,
        client_name: 'Acme Desktop',
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        redirect_uris: [CLIENT.redirectUri],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: ['bench-cookie-key-0123456789abcdef'] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    findAccount: async (_ctx, sub) => ({
      accountId: sub,
      claims: async () => ({ sub, email: 'bob@beta.test', email_verified: true, name: 'Bob Builder' }),
    }),
    features: { devInteractions: { enabled: false } },
    pkce: { required: () => true },
    rotateRefreshToken: true,
    expiresWithSession: async () => false,
    issueRefreshToken: async () => true,
  });
  provider.on('server_error', (_ctx, error) => console.error(error));
  provider.use(bareInteractions(provider));
  const httpServer = provider.listen(port);
  await new Promise((resolve) => httpServer.once('listening', resolve));
  close = () => new Promise((resolve) => httpServer.close(() => resolve()));
  mint = async ({ n }) => {
    const client = await provider.Client.find(CLIENT.id);
    const scope = 'openid email profile offline_access';
    const tokens = [];
    for (let i = 0; i < n; i++) {
      const grant = new provider.Grant({ accountId: 'bob', clientId: CLIENT.id });
      grant.addOIDCScope(scope);
      const grantId = await grant.save();
      const now = Math.floor(Date.now() / 1000);
      const token = new provider.RefreshToken({
        accountId: 'bob',
        client,
        grantId,
        scope,
        gty: 'authorization_code',
        iiat: now,
        authTime: now,
        expiresWithSession: false,
      });
      tokens.push(await token.save());
    }
    return tokens;
  };
}

/**
 * The sign-in pages of the bare engine, as thin as they can be while doing what a sign-in must: the
 * same requests as Latchkey's local sign-in (email page, password page, Launch Application page,
 * redirect with the code), the engine's interaction and grant APIs, a CSRF-shaped form field, no
 * database, no hashing. `httpSignIn` drives both, so the pair measures what our sign-in adds to the
 * engine's own share of a sign-in.
 */
function bareInteractions(provider) {
  const form = (action, fields) =>
    `<!doctype html><title>Sign in</title><form method="post" action="${action}"><input type="hidden" name="_csrf" value="bare">${fields}<button>Continue</button></form>`;
  const readForm = async (req) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    return new URLSearchParams(body);
  };
  return async (ctx, next) => {
    const match = /^\/interaction\/([^/]+)(?:\/(email|password|confirm))?$/.exec(ctx.path);
    if (!match) return next();
    const [, uid, step] = match;
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.uid !== uid) ctx.throw(400, 'interaction mismatch');
    ctx.type = 'html';
    if (!step) {
      ctx.body =
        details.prompt.name === 'login'
          ? form(`/interaction/${uid}/email`, '<input name="email">')
          : form(`/interaction/${uid}/confirm`, '');
      return;
    }
    const fields = await readForm(ctx.req);
    if (fields.get('_csrf') !== 'bare') ctx.throw(403, 'csrf');
    if (step === 'email') {
      ctx.body = form(`/interaction/${uid}/password`, '<input name="password" type="password">');
      return;
    }
    let result;
    if (step === 'password') {
      if (!fields.get('password')) ctx.throw(400, 'password');
      result = { login: { accountId: 'bob' } };
    } else {
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
      grant.addOIDCScope(details.params.scope);
      result = { consent: { grantId: await grant.save() } };
    }
    const to = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
    ctx.status = 303;
    ctx.redirect(to);
  };
}

serveIpc({
  stats: () => ({ cpu: process.cpuUsage(), rss: process.memoryUsage().rss, peakRss }),
  resetPeak: () => {
    peakRss = process.memoryUsage.rss();
    return peakRss;
  },
  gc: () => {
    globalThis.gc?.();
    return process.memoryUsage().rss;
  },
  // Settled memory (after two collections) for per-connection costs (bench/live-signout.mjs).
  memory: () => {
    globalThis.gc?.();
    globalThis.gc?.();
    const { rss, heapUsed, external } = process.memoryUsage();
    return { rss, heapUsed, external };
  },
  mint,
  userId,
  ...keys,
});

// SIGTERM: stop cleanly so --cpu-prof can write its profile.
process.on('SIGTERM', () => {
  close().finally(() => process.exit(0));
});

process.send?.({ type: 'ready', url, issuer, pid: process.pid });
