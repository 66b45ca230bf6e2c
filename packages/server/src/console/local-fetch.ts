import type { FastifyInstance } from 'fastify';

/**
 * A `fetch` that hands requests for this very server to Fastify in-process (`app.inject`), so the
 * console reaches its own token endpoint without a network round trip: behind a reverse proxy a
 * server often cannot reach its public address (no hairpin NAT, split DNS), and nothing here should
 * depend on that. The Host header is the issuer's, as a browser's would be.
 */
export function localFetch(app: FastifyInstance, issuer: URL): typeof fetch {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.origin !== issuer.origin)
      throw new Error(`the console only calls its own server, not ${url.origin}`);
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((value, name) => {
      headers[name] = value;
    });
    headers.host = issuer.host;
    const body = init?.body;
    const response = await app.inject({
      method: (init?.method ?? 'GET') as 'GET' | 'POST',
      url: `${url.pathname}${url.search}`,
      headers,
      ...(body !== undefined && body !== null ? { payload: String(body) } : {}),
    });
    const answer = new Headers();
    for (const [name, value] of Object.entries(response.headers)) {
      if (value === undefined) continue;
      for (const one of Array.isArray(value) ? value : [value]) answer.append(name, String(one));
    }
    const empty = response.statusCode === 204 || response.statusCode === 304;
    return new Response(empty ? null : new Uint8Array(response.rawPayload), {
      status: response.statusCode,
      headers: answer,
    });
  };
}
