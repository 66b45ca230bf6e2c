import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../config/load.js';
import type { LatchkeyConfig } from '../config/types.js';
import { loggerOptions } from '../http/app.js';
import { type RunningServer, startServer } from '../main/server.js';
import { createTestDatabaseUrl, type TestDatabaseKind } from './databases.js';
import { startTlsProxy, type TlsProxy, type TlsProxyOptions } from './tls-proxy.js';

export const TEST_SECRET = 'test-secret-0123456789-abcdefghijklmnopqrstuvwxyz';

/** A configuration file for protocol tests: two native apps, one resource, one local organization. */
export const BASE_YAML = `
clients:
  - id: acme-desktop
    name: Acme Desktop
    redirect_uris: [com.acme.desktop:/oauth2redirect, http://127.0.0.1/callback]
    device_flow: true
    download_url: https://downloads.acme.test/desktop
    id_token_signed_response_alg: ES256
  - id: acme-meetings
    name: Acme Meetings
    redirect_uris: [com.acme.meetings:/oauth2redirect, http://127.0.0.1/callback]
resources:
  - { id: https://api.acme.test, name: Acme API, scopes: [calls, messages] }
organizations:
  - id: beta
    name: Beta LLC
    domains: [beta.test]
    connection: { type: local }
users:
  - { email: bob@beta.test, password: "correct horse battery staple", name: Bob Builder }
  - { email: carol@beta.test, password: "carol's long password", name: Carol }
argon2: { memory_cost: 1024, time_cost: 1, parallelism: 1 }
`;

export interface TestServer extends RunningServer {
  config: LatchkeyConfig;
  issuer: string;
  /** The server's own http://127.0.0.1:<port> (equal to `issuer` unless behind the TLS proxy). */
  directUrl: string;
  /** The TLS-terminating proxy in front, when `tlsProxy` was asked for; `issuer` is its URL. */
  proxy?: TlsProxy;
  logLines: string[];
  dispose(): Promise<void>;
}

/**
 * Starts a real Latchkey server on 127.0.0.1 with an OS-picked port and a fresh database, capturing
 * its JSON log lines (tests assert that no secret reaches the log).
 */
export async function startTestServer(
  options: {
    kind?: TestDatabaseKind;
    yaml?: string;
    env?: Record<string, string>;
    databaseUrl?: string;
    /** The server's log level (default info). */
    logLevel?: 'trace' | 'debug' | 'info' | 'warn';
    /**
     * Put a TLS-terminating proxy (test-support/tls-proxy.ts) in front: the issuer becomes its
     * https URL and LATCHKEY_TRUSTED_PROXIES defaults to 127.0.0.1 (override through `env`).
     */
    tlsProxy?: boolean | TlsProxyOptions;
  } = {},
): Promise<TestServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'latchkey-test-'));
  const kind = options.kind ?? 'sqlite';
  const database = options.databaseUrl
    ? { url: options.databaseUrl, drop: async () => {} }
    : await createTestDatabaseUrl(kind, dir);
  const configPath = path.join(dir, 'latchkey.yaml');
  await writeFile(configPath, options.yaml ?? BASE_YAML);
  // Reserve a port first so the issuer carries it.
  const port = await freePort();
  const directUrl = `http://127.0.0.1:${port}`;
  const proxy = options.tlsProxy
    ? await startTlsProxy(options.tlsProxy === true ? {} : options.tlsProxy)
    : undefined;
  const issuer = proxy?.url ?? directUrl;
  const config = await loadConfig({
    cwd: dir,
    configPath,
    env: {
      LATCHKEY_ISSUER: issuer,
      ...(proxy ? { LATCHKEY_PORT: String(port), LATCHKEY_TRUSTED_PROXIES: '127.0.0.1' } : {}),
      LATCHKEY_DATABASE_URL: database.url,
      LATCHKEY_SECRET: TEST_SECRET,
      LATCHKEY_LOG_LEVEL: 'info',
      ...options.env,
    },
  });
  const logLines: string[] = [];
  const stream = { write: (line: string) => void logLines.push(line) };
  proxy?.setTarget(directUrl);
  const server = await startServer(config, {
    // The production logger options (redaction, path-only request serializer), into a buffer.
    logger: { ...(loggerOptions(config) as object), level: options.logLevel ?? 'info', stream } as never,
    pollIntervalMs: 60_000,
  });
  return {
    ...server,
    config,
    issuer,
    directUrl,
    ...(proxy ? { proxy } : {}),
    logLines,
    async dispose() {
      await proxy?.close();
      await server.close();
      await database.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
