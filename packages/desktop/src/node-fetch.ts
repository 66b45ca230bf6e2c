import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';

/**
 * The `fetch` the SDK gives oauth4webapi by default: one request over `node:http`/`node:https`,
 * its whole body read, answered as a WHATWG `Response`.
 *
 * Why not the global `fetch`: a desktop app's silent sign-in is often the first thing its process
 * does, and Node's `fetch` (undici) costs ~40 ms to load and start on every process start — more than
 * the refresh request itself on a loopback or LAN server (bench/run.mjs, the SDK rows). oauth4webapi's
 * requests are small, one-shot and never streamed, so a plain request does the same job. The contract
 * is fetch's where oauth4webapi and `toLatchkeyError` depend on it: a network failure rejects with a
 * `TypeError` whose `cause` is the socket error, an aborted signal rejects with its reason (the
 * `TimeoutError` of `AbortSignal.timeout`), redirects are not followed (oauth4webapi asks for
 * `redirect: 'manual'`), and every status is a resolved `Response`. An app that passes its own `fetch`
 * (a proxy, a company CA, Electron's `net.fetch`) gets that one instead.
 */
export async function nodeFetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
  const url = new URL(input);
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new TypeError(`fetch failed: unsupported protocol ${url.protocol}`);
  const body = requestBody(init.body);
  const headers = requestHeaders(init.headers);
  if (body !== undefined && !hasHeader(headers, 'content-length'))
    headers['content-length'] = String(body.byteLength);
  const signal = init.signal ?? undefined;
  if (signal?.aborted) throw signal.reason;

  // node:https (and TLS with it) only for an https URL: a loopback issuer in development never needs it.
  const send = url.protocol === 'https:' ? (await import('node:https')).request : httpRequest;
  return exchange(send, url, init.method ?? 'GET', headers, body, signal);
}

function exchange(
  send: typeof httpRequest,
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: Buffer | undefined,
  signal: AbortSignal | undefined,
): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    const request = send(url, { method, headers });
    const onAbort = () => {
      request.destroy();
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const settle = () => signal?.removeEventListener('abort', onAbort);
    request.on('error', (error) => {
      settle();
      reject(new TypeError('fetch failed', { cause: error }));
    });
    request.on('response', (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.on('error', (error) => {
        settle();
        reject(new TypeError('fetch failed', { cause: error }));
      });
      incoming.on('end', () => {
        settle();
        const status = incoming.statusCode ?? 0;
        try {
          resolve(
            new Response(NULL_BODY.has(status) ? null : Buffer.concat(chunks), {
              status,
              statusText: incoming.statusMessage ?? '',
              headers: responseHeaders(incoming.headers),
            }),
          );
        } catch (error) {
          // A status outside 200–599 (a Response cannot carry it): fetch fails the same way.
          reject(new TypeError('fetch failed', { cause: error }));
        }
      });
    });
    request.end(body);
  });
}

/** Statuses whose Response must have no body (Fetch standard, "null body status"). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

function requestBody(body: RequestInit['body']): Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof URLSearchParams) return Buffer.from(body.toString());
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  // oauth4webapi sends forms and JSON only; a stream or a FormData is a programming error here.
  throw new TypeError('nodeFetch sends string, URLSearchParams or byte bodies only');
}

function requestHeaders(init: RequestInit['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  if (!init) return out;
  const entries: Iterable<[string, string]> =
    Array.isArray(init) || Symbol.iterator in init
      ? (init as Iterable<[string, string]>)
      : Object.entries(init as Record<string, string>);
  for (const [name, value] of entries) out[name.toLowerCase()] = value;
  return out;
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.hasOwn(headers, name);
}

function responseHeaders(incoming: IncomingHttpHeaders): [string, string][] {
  const out: [string, string][] = [];
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) out.push([name, v]);
    else out.push([name, value]);
  }
  return out;
}
