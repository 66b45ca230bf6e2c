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
  const answer = await httpExchange(input, {
    method: init.method ?? 'GET',
    headers: requestHeaders(init.headers),
    body: requestBody(init.body),
    signal: init.signal ?? undefined,
  });
  try {
    return new Response(NULL_BODY.has(answer.status) ? null : new Uint8Array(answer.body), {
      status: answer.status,
      statusText: answer.statusText,
      headers: responseHeaders(answer.headers),
    });
  } catch (error) {
    // A status outside 200–599 (a Response cannot carry it): fetch fails the same way.
    throw new TypeError('fetch failed', { cause: error });
  }
}

/** What {@link httpExchange} sends. */
export interface HttpRequest {
  method: string;
  /** Lower-case names. */
  headers: Record<string, string>;
  body?: Buffer | undefined;
  signal?: AbortSignal | undefined;
}

/** What {@link httpExchange} received: the whole body. */
export interface HttpAnswer {
  status: number;
  statusText: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * One request over node:http or node:https, its answer read whole, with fetch's failures (see
 * {@link nodeFetch}): the transport of nodeFetch and of the silent sign-in's refresh
 * (flows/plain-refresh.ts), which needs no WHATWG `Response` at all.
 */
export async function httpExchange(input: string | URL, request: HttpRequest): Promise<HttpAnswer> {
  const url = new URL(input);
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new TypeError(`fetch failed: unsupported protocol ${url.protocol}`);
  const { body, signal } = request;
  const headers = { ...request.headers };
  if (body !== undefined && !Object.hasOwn(headers, 'content-length'))
    headers['content-length'] = String(body.byteLength);
  if (signal?.aborted) throw signal.reason;
  // node:https (and TLS with it) only for an https URL: a loopback issuer in development never needs it.
  const send = url.protocol === 'https:' ? (await import('node:https')).request : httpRequest;

  return new Promise<HttpAnswer>((resolve, reject) => {
    const outgoing = send(url, { method: request.method, headers });
    const onAbort = () => {
      outgoing.destroy();
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const settle = () => signal?.removeEventListener('abort', onAbort);
    const fail = (error: Error) => {
      settle();
      reject(new TypeError('fetch failed', { cause: error }));
    };
    outgoing.on('error', fail);
    outgoing.on('response', (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.on('error', fail);
      incoming.on('end', () => {
        settle();
        resolve({
          status: incoming.statusCode ?? 0,
          statusText: incoming.statusMessage ?? '',
          headers: incoming.headers,
          body: Buffer.concat(chunks),
        });
      });
    });
    outgoing.end(body);
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

function responseHeaders(incoming: IncomingHttpHeaders): [string, string][] {
  const out: [string, string][] = [];
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) out.push([name, v]);
    else out.push([name, value]);
  }
  return out;
}
