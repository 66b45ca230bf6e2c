import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { StandinUser } from './accounts.js';
import { type StandinClient, type StandinIdpOptions, startStandinIdp } from './standin-idp.js';

const USAGE = `Usage: latchkey-standin-idp [--config file.json] [--port 4100] [--host 127.0.0.1]
                            [--profile google|entra] [--tenant-id <tid>]
                            [--users users.json] [--client id:secret:redirect_uri]...

Starts a stand-in upstream IdP (OpenID Connect, imitating Google or Microsoft Entra ID) on loopback
and prints its issuer URL on stdout. --client may repeat; an empty secret makes a public client, and
repeating an id adds redirect URIs. The JSON config holds the same keys as the options of
startStandinIdp(): { port, host, profile, tenantId, users: [...], clients: [...] }.`;

const STANDIN_NAMES = { google: 'Stand-in Google IdP', entra: 'Stand-in Entra ID IdP' } as const;

function fail(message: string): never {
  process.stderr.write(`latchkey-standin-idp: ${message}\n\n${USAGE}\n`);
  process.exit(2);
}

function readJson(path: string, what: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    fail(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}

function parseClient(spec: string, clients: StandinClient[]): void {
  // id:secret:redirect_uri — the redirect URI itself contains colons, so split on the first two only.
  const first = spec.indexOf(':');
  const second = first < 0 ? -1 : spec.indexOf(':', first + 1);
  if (first <= 0 || second < 0 || second === spec.length - 1)
    fail(`--client ${spec}: expected id:secret:redirect_uri`);
  const id = spec.slice(0, first);
  const secret = spec.slice(first + 1, second);
  const redirectUri = spec.slice(second + 1);
  const existing = clients.find((c) => c.client_id === id);
  if (existing) existing.redirect_uris.push(redirectUri);
  else
    clients.push({
      client_id: id,
      ...(secret ? { client_secret: secret } : {}),
      redirect_uris: [redirectUri],
    });
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parse>;
  function parse() {
    return parseArgs({
      options: {
        config: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        profile: { type: 'string' },
        'tenant-id': { type: 'string' },
        users: { type: 'string' },
        client: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    });
  }
  try {
    parsed = parse();
  } catch (err) {
    fail((err as Error).message);
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const config = (values.config ? readJson(values.config, 'config') : {}) as Partial<StandinIdpOptions>;
  const clients: StandinClient[] = [...(config.clients ?? [])];
  for (const spec of values.client ?? []) parseClient(spec, clients);
  let users: StandinUser[] = config.users ?? [];
  if (values.users) {
    const file = readJson(values.users, 'users file') as StandinUser[] | { users: StandinUser[] };
    users = Array.isArray(file) ? file : file.users;
  }
  const port = values.port !== undefined ? Number(values.port) : (config.port ?? 0);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port ${values.port}: not a port number`);
  const profile = values.profile ?? config.profile ?? 'google';
  if (profile !== 'google' && profile !== 'entra') fail(`--profile ${profile}: expected google or entra`);
  if (clients.length === 0) fail('no clients: give --client id:secret:redirect_uri or a config with clients');
  if (!Array.isArray(users) || users.length === 0)
    fail('no users: give --users users.json or a config with users');

  const idp = await startStandinIdp({
    port,
    host: values.host ?? config.host,
    profile,
    tenantId: values['tenant-id'] ?? config.tenantId,
    users,
    clients,
  });
  process.stdout.write(`${idp.issuer}\n`);
  // One line instead of the engine's warning about its in-memory store: forgetting is the point here.
  process.stderr.write(
    `${STANDIN_NAMES[profile]} at ${idp.issuer}: a demo stand-in that keeps its state in memory (a restart forgets its sessions and tokens); ${users.length} ${users.length === 1 ? 'user' : 'users'}, clients: ${clients.map((c) => c.client_id).join(', ')}\n`,
  );
  const stop = () => {
    idp.close().finally(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

await main();
