import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import { REQUEST_RECEIVED_AT } from '../storage/oidc-adapter.js';
import { applySecurityHeaders } from '../web/security-headers.js';

/**
 * The paths the protocol engine owns, at the issuer's root (no visible prefix). Anything else is
 * Fastify's. Handing the engine only its own paths keeps Koa's 404 from swallowing our routes
 * (oidc-provider is a Koa app: mounted at "/" it would answer every path).
 */
export const ENGINE_PATHS = [
  '/.well-known/openid-configuration',
  '/.well-known/oauth-authorization-server',
  '/auth',
  '/auth/:uid',
  '/token',
  '/token/revocation',
  '/token/introspection',
  '/jwks',
  '/me',
  '/session/end',
  '/session/end/confirm',
  '/session/end/success',
  '/device',
  '/device/auth',
  '/device/:uid',
  '/request',
] as const;

const FORWARDED = [
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'forwarded',
];

/**
 * Koa trusts X-Forwarded-* from anyone once `proxy` is on, so we rewrite them: the client address
 * from Fastify's `trustProxy` verdict, and the host and scheme from the configured issuer only. The
 * engine builds every absolute URL (discovery, `verification_uri`, redirects) from `ctx.host` and
 * `ctx.protocol`; taken from the request, a forged Host header would be reflected into them (a
 * cached discovery document or a device code pointing people at another site).
 *
 * Fastify's `request.ip` is a getter that walks X-Forwarded-For on every read: it must be read
 * before the headers are deleted, or the engine (and its per-address throttles) sees the proxy.
 */
export function normalizeForwarded(request: FastifyRequest, issuer: URL): void {
  const clientAddress = request.ip;
  const headers = request.raw.headers;
  for (const name of FORWARDED) delete headers[name];
  headers['x-forwarded-for'] = clientAddress;
  headers['x-forwarded-proto'] = issuer.protocol.slice(0, -1);
  headers['x-forwarded-host'] = issuer.host;
  headers.host = issuer.host;
}

export interface EngineHolder {
  current(): Provider;
}

export function mountEngine(app: FastifyInstance, engine: EngineHolder, issuer: URL): void {
  const https = issuer.protocol === 'https:';
  const callbacks = new WeakMap<Provider, (req: IncomingMessage, res: ServerResponse) => unknown>();
  const callbackOf = (provider: Provider) => {
    let cb = callbacks.get(provider);
    if (!cb) {
      cb = provider.callback();
      callbacks.set(provider, cb);
    }
    return cb;
  };

  app.register(async (scope) => {
    // The engine reads and limits request bodies itself; Fastify must leave the stream untouched.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    for (const url of ENGINE_PATHS) {
      scope.route({
        method: ['GET', 'POST', 'OPTIONS', 'HEAD'],
        url,
        handler: async (request, reply) => {
          // When the request arrived: a refresh that arrives while another use of the same token is
          // still being answered is a race, never a retry (storage/refresh-reuse-grace.ts).
          (request.raw as unknown as Record<symbol, unknown>)[REQUEST_RECEIVED_AT] = Date.now();
          normalizeForwarded(request, issuer);
          applySecurityHeaders(reply.raw, https);
          // Hijacked replies skip Fastify's hooks: the engine's error pages show this id as the reference.
          reply.raw.setHeader('x-request-id', request.id);
          reply.hijack();
          await callbackOf(engine.current())(request.raw, reply.raw);
        },
      });
    }
  });
}
