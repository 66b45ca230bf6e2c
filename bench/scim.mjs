// SCIM provisioning latency: a real Latchkey server (packages/server/dist, in this process) on a fresh
// SQLite file or the PostgreSQL database given, and a SCIM client doing what Entra ID does per person:
// POST /Users, GET /Users?filter=userName eq, PATCH active "False" (offboarding: disable + revoke +
// audit in one transaction). Prints p50/p99 per request.
//   npm run build && node bench/scim.mjs [postgres://postgres@127.0.0.1:5432/db] [--users 200]
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { freePort, summarize } from './lib.mjs';

const args = process.argv.slice(2);
const usersFlag = args.indexOf('--users');
const users = usersFlag >= 0 ? Number(args[usersFlag + 1]) : 200;
const databaseArg = args.find((a) => a.startsWith('postgres'));

const dist = new URL('../packages/server/dist/', import.meta.url);
const { loadConfig } = await import(new URL('config/load.js', dist).href);
const { startServer } = await import(new URL('main/server.js', dist).href);
const { newScimToken } = await import(new URL('domain/scim-tokens.js', dist).href);

const dir = await mkdtemp(path.join(os.tmpdir(), 'latchkey-bench-scim-'));
const configPath = path.join(dir, 'latchkey.yaml');
await writeFile(
  configPath,
  'organizations:\n  - { id: contoso, name: Contoso, domains: [contoso.test], connection: { type: local } }\n',
);
const port = await freePort();
const issuer = `http://127.0.0.1:${port}`;
const config = await loadConfig({
  cwd: dir,
  configPath,
  env: {
    LATCHKEY_ISSUER: issuer,
    LATCHKEY_DATABASE_URL: databaseArg ?? `sqlite:${path.join(dir, 'latchkey.db')}`,
    LATCHKEY_SECRET: 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz',
    LATCHKEY_LOG_LEVEL: 'warn',
  },
});
const server = await startServer(config, { logger: { level: 'warn' }, pollIntervalMs: 60_000 });
const { token, hash } = newScimToken();
await server.parts.repos.scim.tokens.create({ organizationId: 'contoso', tokenHash: hash, label: 'bench' });
const base = `${issuer}/scim/v2/contoso`;
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' };

async function timed(samples, method, url, body) {
  const started = performance.now();
  const response = await fetch(url, { method, headers, body: body && JSON.stringify(body) });
  const json = response.status === 204 ? undefined : await response.json();
  samples.push(performance.now() - started);
  if (response.status >= 300) throw new Error(`${method} ${url}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

const create = [];
const filter = [];
const deactivate = [];
const started = performance.now();
const nonce = Date.now().toString(36);
for (let i = 0; i < users; i += 1) {
  const userName = `user${i}-${nonce}@contoso.test`;
  const user = await timed(create, 'POST', `${base}/Users`, {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
    userName,
    externalId: `ext-${nonce}-${i}`,
    active: true,
    emails: [{ primary: true, type: 'work', value: userName }],
    name: { givenName: 'User', familyName: String(i) },
  });
  await timed(filter, 'GET', `${base}/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`);
  await timed(deactivate, 'PATCH', `${base}/Users/${user.id}`, {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
    Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
  });
}
const seconds = (performance.now() - started) / 1000;
const row = (name, samples) => {
  const s = summarize(samples, seconds);
  console.log(`${name.padEnd(28)} n=${s.count}  p50 ${s.p50.toFixed(1)} ms  p99 ${s.p99.toFixed(1)} ms`);
};
console.log(`SCIM on ${databaseArg ? 'PostgreSQL' : 'SQLite'}, ${users} users, ${seconds.toFixed(1)} s`);
row('POST /Users', create);
row('GET /Users?filter=userName', filter);
row('PATCH active "False"', deactivate);
await server.close();
await rm(dir, { recursive: true, force: true });
