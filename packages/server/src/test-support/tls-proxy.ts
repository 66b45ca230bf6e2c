import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Agent, fetch as undiciFetch } from 'undici';

/**
 * A TLS-terminating reverse proxy for tests, doing what the README's nginx block does:
 *
 *   proxy_set_header Host $host;
 *   proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
 *   proxy_set_header X-Forwarded-Proto $scheme;
 *   proxy_set_header X-Forwarded-Host $host;
 *
 * It listens on https://127.0.0.1:<port> with a certificate issued by a throwaway CA made with the
 * openssl CLI (no network, no new dependency). Clients trust it through the returned CA:
 * - this process: `proxy.fetch` (undici with the CA), `proxy.httpsAgent` for node:https;
 * - child processes: `proxy.childEnv` (NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, REQUESTS_CA_BUNDLE);
 * - Chromium: `--ignore-certificate-errors-spki-list=${proxy.spkiSha256}` or the context's
 *   `ignoreHTTPSErrors: true`.
 *
 * The proxy usually has to exist before the server (the issuer is the proxy's URL), so `target` may
 * be left out and set later with `setTarget()`; several targets are used round-robin (a fleet).
 */
export interface TlsProxyOptions {
  /** Upstream origin(s), e.g. `http://127.0.0.1:4001`. Several: round-robin, like nginx's upstream. */
  target?: string | string[];
  /** Port to listen on (default: one the OS picks). */
  port?: number;
  /**
   * The client address the proxy appends to X-Forwarded-For (default: the real peer address, as
   * nginx's `$proxy_add_x_forwarded_for`). Every test client is on loopback, so a test that wants
   * the server to see a remote client names one here.
   */
  clientAddress?: string | ((request: http.IncomingMessage) => string);
  /**
   * `append` (default, `$proxy_add_x_forwarded_for`): keep the client's X-Forwarded-For and add the
   * peer; `replace` (`$remote_addr`): send only the peer.
   */
  forwardedFor?: 'append' | 'replace';
  /** Local address the proxy connects to the upstream from (e.g. `127.0.0.2`). Default: the OS's. */
  upstreamLocalAddress?: string;
}

export interface ForwardedRequest {
  method: string;
  /** Path and query as the client sent them. */
  url: string;
  /** The forwarding headers the upstream received. */
  forwarded: { for: string; proto: string; host: string };
  /** The upstream origin it went to. */
  upstream: string;
  status?: number;
}

export interface TlsProxy {
  /** `https://127.0.0.1:<port>` (no trailing slash): use it as the issuer. */
  url: string;
  port: number;
  /** The CA certificate (PEM) that issued the proxy's certificate. */
  ca: string;
  /** The CA certificate as a file, for NODE_EXTRA_CA_CERTS and friends. */
  caPath: string;
  /** base64(SHA-256(SubjectPublicKeyInfo)) of the server certificate, for Chromium's SPKI list. */
  spkiSha256: string;
  /** Chromium's launch argument that trusts exactly this certificate. */
  chromiumArg: string;
  /** Environment for child processes (Node, Python, Go, curl) to trust the CA. */
  childEnv: Record<string, string>;
  /** `fetch` that trusts the CA (undici's; same API as the global one). */
  fetch: typeof globalThis.fetch;
  /** For node:https / libraries that take an agent. */
  httpsAgent: https.Agent;
  /** Every request the proxy forwarded, in order. */
  requests: ForwardedRequest[];
  setTarget(target: string | string[]): void;
  close(): Promise<void>;
}

const run = promisify(execFile);

interface Certificates {
  dir: string;
  ca: string;
  caPath: string;
  key: string;
  cert: string;
}

let certificates: Promise<Certificates> | undefined;

/** One CA and server certificate per test process (P-256: openssl makes them in milliseconds). */
function testCertificates(): Promise<Certificates> {
  certificates ??= makeCertificates();
  return certificates;
}

async function makeCertificates(): Promise<Certificates> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'latchkey-tls-'));
  const file = (name: string) => path.join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.pem'),
    '-days',
    '7',
    '-subj',
    '/CN=Latchkey test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await run('openssl', [
    'req',
    ...ec,
    '-keyout',
    file('server.key'),
    '-out',
    file('server.csr'),
    '-subj',
    '/CN=127.0.0.1',
  ]);
  await writeFile(
    file('server.ext'),
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      'subjectKeyIdentifier=hash',
      'authorityKeyIdentifier=keyid:always',
      '',
    ].join('\n'),
  );
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-days',
    '7',
    '-sha256',
    '-extfile',
    file('server.ext'),
    '-out',
    file('server.pem'),
  ]);
  const [ca, key, cert] = await Promise.all(
    ['ca.pem', 'server.key', 'server.pem'].map((name) => readFile(file(name), 'utf8')),
  );
  process.once('exit', () => void rm(dir, { recursive: true, force: true }));
  return { dir, ca: ca as string, caPath: file('ca.pem'), key: key as string, cert: cert as string };
}

function spkiHash(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
];

export async function startTlsProxy(options: TlsProxyOptions = {}): Promise<TlsProxy> {
  const certs = await testCertificates();
  let targets: URL[] = [];
  let next = 0;
  const setTarget = (target: string | string[]) => {
    targets = (Array.isArray(target) ? target : [target]).map((t) => new URL(t));
    next = 0;
  };
  if (options.target) setTarget(options.target);

  const upstreamAgent = new http.Agent({ keepAlive: true });
  const requests: ForwardedRequest[] = [];

  const server = https.createServer({ key: certs.key, cert: certs.cert }, (incoming, outgoing) => {
    const target = targets[next++ % Math.max(targets.length, 1)];
    if (!target) {
      outgoing.writeHead(502, { 'content-type': 'text/plain' }).end('tls-proxy: no upstream set\n');
      return;
    }
    const peer =
      typeof options.clientAddress === 'function'
        ? options.clientAddress(incoming)
        : (options.clientAddress ?? incoming.socket.remoteAddress ?? '');
    const prior = incoming.headers['x-forwarded-for'];
    const forwardedFor =
      options.forwardedFor !== 'replace' && prior ? `${[prior].flat().join(', ')}, ${peer}` : peer;
    const host = incoming.headers.host ?? `127.0.0.1:${port}`;
    const headers: http.OutgoingHttpHeaders = { ...incoming.headers };
    for (const name of HOP_BY_HOP) delete headers[name];
    // nginx sets these three (and keeps Host); whatever the client sent under these names is replaced.
    headers.host = host;
    headers['x-forwarded-for'] = forwardedFor;
    headers['x-forwarded-proto'] = 'https';
    headers['x-forwarded-host'] = host;
    const record: ForwardedRequest = {
      method: incoming.method ?? 'GET',
      url: incoming.url ?? '/',
      forwarded: { for: forwardedFor, proto: 'https', host },
      upstream: target.origin,
    };
    requests.push(record);
    const upstream = http.request(
      {
        protocol: 'http:',
        hostname: target.hostname,
        port: target.port,
        method: incoming.method,
        path: incoming.url,
        headers,
        agent: upstreamAgent,
        ...(options.upstreamLocalAddress ? { localAddress: options.upstreamLocalAddress } : {}),
      },
      (response) => {
        record.status = response.statusCode;
        const back = { ...response.headers };
        for (const name of HOP_BY_HOP) delete back[name];
        outgoing.writeHead(response.statusCode ?? 502, response.statusMessage, back);
        response.pipe(outgoing);
      },
    );
    upstream.on('error', (error) => {
      if (!outgoing.headersSent) {
        outgoing.writeHead(502, { 'content-type': 'text/plain' }).end(`tls-proxy: ${error.message}\n`);
      } else outgoing.destroy(error);
    });
    incoming.pipe(upstream);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `https://127.0.0.1:${port}`;

  const dispatcher = new Agent({ connect: { ca: certs.ca } });
  const trustingFetch = ((input: Parameters<typeof fetch>[0], init?: RequestInit) =>
    undiciFetch(input as never, { ...(init as object), dispatcher } as never)) as unknown as typeof fetch;
  const httpsAgent = new https.Agent({ ca: certs.ca, keepAlive: true });
  const spkiSha256 = spkiHash(certs.cert);

  return {
    url,
    port,
    ca: certs.ca,
    caPath: certs.caPath,
    spkiSha256,
    chromiumArg: `--ignore-certificate-errors-spki-list=${spkiSha256}`,
    childEnv: {
      NODE_EXTRA_CA_CERTS: certs.caPath,
      SSL_CERT_FILE: certs.caPath,
      REQUESTS_CA_BUNDLE: certs.caPath,
      CURL_CA_BUNDLE: certs.caPath,
    },
    fetch: trustingFetch,
    httpsAgent,
    requests,
    setTarget,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      upstreamAgent.destroy();
      httpsAgent.destroy();
      await dispatcher.close();
    },
  };
}
