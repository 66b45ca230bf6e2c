/**
 * The demo's Acme API (`https://api.acme.test`, served on 127.0.0.1): what a desktop app calls with its
 * access token once it is signed in. It trusts nothing but the token: an RFC 9068 JWT (`typ: at+jwt`)
 * signed by the issuer's keys (fetched from `/jwks` and cached by jose), whose audience is this API
 * (RFC 8707), and answers with the caller's organization's list of projects.
 */

import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { calculateJwkThumbprint, createRemoteJWKSet, EmbeddedJWK, errors, jwtVerify } from 'jose';

export interface DemoApiOptions {
  /** Latchkey's issuer identifier: its `/jwks` signs the access tokens. */
  issuer: string;
  /** This API's resource indicator: the audience the tokens must carry. */
  audience: string;
  /** Port on 127.0.0.1; 0 (default) lets the OS pick. */
  port?: number;
}

export interface DemoApi {
  /** `http://127.0.0.1:<port>`: where the API listens (its resource indicator stays `audience`). */
  url: string;
  /** Requests answered, newest last (for tests). */
  requests: { path: string; status: number; subject?: string }[];
  close(): Promise<void>;
}

const ORGANIZATIONS: Record<string, { name: string; projects: string[] }> = {
  acme: { name: 'Acme Corp', projects: ['Rocket skates', 'Giant magnet', 'Portable hole'] },
  beta: { name: 'Beta LLC', projects: ['Beta launch', 'Onboarding revamp'] },
};

export async function startDemoApi(options: DemoApiOptions): Promise<DemoApi> {
  const jwks = createRemoteJWKSet(new URL('/jwks', options.issuer));
  const requests: DemoApi['requests'] = [];
  const usedProofs = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://api').pathname;
    const answer = (
      status: number,
      body: unknown,
      subject?: string,
      headers: Record<string, string> = {},
    ) => {
      requests.push({ path, status, ...(subject ? { subject } : {}) });
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET' || path !== '/v1/projects') return answer(404, { error: 'not_found' });
    const [, scheme, token] = /^(Bearer|DPoP) ([\w.~+/-]+=*)$/i.exec(req.headers.authorization ?? '') ?? [];
    const challenge = (error: string) => ({
      'www-authenticate': `DPoP realm="${options.audience}", error="${error}", algs="ES256"`,
    });
    if (!token) return answer(401, { error: 'invalid_token' }, undefined, challenge('invalid_request'));
    jwtVerify(token, jwks, { issuer: options.issuer, audience: options.audience, typ: 'at+jwt' }).then(
      async ({ payload }) => {
        // RFC 9449 §7.1: a DPoP-bound token (cnf.jkt) only as `DPoP`, with a proof of its key
        // (docs/dpop.md explains each check); an unbound one as `Bearer`.
        const refusal = await checkDpop(req, token, scheme ?? '', payload.cnf, usedProofs);
        if (refusal) return answer(401, { error: refusal }, undefined, challenge(refusal));
        const orgId = typeof payload.org_id === 'string' ? payload.org_id : undefined;
        const org = orgId ? ORGANIZATIONS[orgId] : undefined;
        answer(
          200,
          {
            organization: { id: orgId ?? null, name: org?.name ?? orgId ?? null },
            projects: (org?.projects ?? []).map((name, index) => ({ id: `${orgId}-${index + 1}`, name })),
          },
          payload.sub,
        );
      },
      (error: unknown) => {
        // RFC 6750 §3.1: an expired, forged or misdirected token is `invalid_token` alike.
        const reason = error instanceof errors.JWTExpired ? 'expired' : 'rejected';
        answer(401, { error: 'invalid_token', reason }, undefined, challenge('invalid_token'));
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The DPoP checks of RFC 9449 §4.3 for a request with `token`; the OAuth error, or undefined when it passes. */
async function checkDpop(
  req: IncomingMessage,
  token: string,
  scheme: string,
  cnf: unknown,
  used: Map<string, number>,
): Promise<'invalid_token' | 'invalid_dpop_proof' | undefined> {
  const jkt = (cnf as { jkt?: unknown } | undefined)?.jkt;
  if (typeof jkt !== 'string') return scheme.toLowerCase() === 'bearer' ? undefined : 'invalid_token';
  if (scheme.toLowerCase() !== 'dpop') return 'invalid_token';
  const header = req.headers.dpop;
  if (typeof header !== 'string') return 'invalid_dpop_proof';
  try {
    const { payload, protectedHeader } = await jwtVerify(header, EmbeddedJWK, {
      typ: 'dpop+jwt',
      algorithms: ['ES256', 'EdDSA'],
    });
    const url = new URL(typeof payload.htu === 'string' ? payload.htu : 'x:');
    url.search = '';
    url.hash = '';
    const now = Date.now();
    for (const [id, expires] of used) if (expires < now) used.delete(id);
    const fresh =
      (await calculateJwkThumbprint(protectedHeader.jwk ?? {}, 'sha256')) === jkt &&
      payload.htm === req.method &&
      url.href === new URL(req.url ?? '/', `http://${req.headers.host}`).href.split('?')[0] &&
      typeof payload.iat === 'number' &&
      Math.abs(now / 1000 - payload.iat) <= 60 &&
      payload.ath === createHash('sha256').update(token).digest('base64url') &&
      typeof payload.jti === 'string' &&
      !used.has(`${jkt}:${payload.jti}`);
    if (!fresh) return 'invalid_dpop_proof';
    used.set(`${jkt}:${payload.jti}`, now + 120_000);
    return undefined;
  } catch {
    return 'invalid_dpop_proof';
  }
}
