import { randomUUID } from 'node:crypto';
import fastifyCookie from '@fastify/cookie';
import fastifyFormbody from '@fastify/formbody';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import { errors as engineErrors } from 'oidc-provider';
import type { LatchkeyConfig } from '../config/types.js';
import { isServerError } from '../errors/server-error.js';
import type { Brands } from '../pages/brand-assets.js';
import { errorPage } from '../pages/error-page.js';
import { format } from '../pages/index.js';
import { messages } from '../pages/messages.js';
import { messagePage } from '../pages/sign-in-pages.js';
import { isSignInOver, replayUrl, type SignInOverError } from '../sign-in/app-request.js';
import { isDatabaseUnavailable } from '../storage/unavailable.js';
import { stylesheet } from '../web/assets.js';
import { autoPostScript } from '../web/assets-auto-post.js';
import { countdownScript } from '../web/assets-countdown.js';
import { handoffScript } from '../web/assets-handoff.js';
import { localTimeScript } from '../web/assets-local-time.js';
import { passkeyScript } from '../web/assets-passkey.js';
import { securityHeaders } from '../web/security-headers.js';
import { type EngineHolder, mountEngine } from './provider-mount.js';

export type RouteSet = (app: FastifyInstance) => Promise<void> | void;

export interface AppDeps {
  config: Pick<LatchkeyConfig, 'env' | 'issuer' | 'trustedProxies' | 'logLevel'>;
  engine: EngineHolder;
  /** Database round trip for /readyz. */
  ping(): Promise<void>;
  /** The route sets (sign-in, account, reset, metrics), each registered in its own context. */
  routes: RouteSet[];
  logger?: FastifyServerOptions['logger'];
  /** The configured brands and their logo/stylesheet files (pages/brand-assets.ts). */
  brands?: Brands | undefined;
}

/** Paths orchestrators and scrapers reach by the process's own address (any Host). */
const ANY_HOST_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

const MISDIRECTED = (host: string) =>
  `This server answers only for ${host}. Check the address you are using, or the reverse proxy in front of it (it must pass the Host header through).`;

/** Query strings can carry codes and hints: logs keep the path only. */
function pathOnly(url: string | undefined): string {
  if (!url) return '';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

export function loggerOptions(config: Pick<LatchkeyConfig, 'logLevel'>): FastifyServerOptions['logger'] {
  return {
    level: config.logLevel,
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'],
      remove: true,
    },
    serializers: {
      req: (req: { method: string; url: string; ip?: string; id?: string }) => ({
        method: req.method,
        path: pathOnly(req.url),
        ip: req.ip,
      }),
    },
  };
}

/**
 * Assembles the HTTP server: the engine at the issuer's root for its own paths, the sign-in pages,
 * health checks, security headers on every page, and readable error pages for people.
 */
export async function createApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config } = deps;
  const https = config.issuer.startsWith('https:');
  const app = Fastify({
    logger: deps.logger ?? loggerOptions(config),
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w-]{8,64}$/.test(given) ? given : randomUUID();
    },
    requestIdHeader: false,
    trustProxy: config.trustedProxies.length > 0 ? config.trustedProxies : false,
    bodyLimit: 64 * 1024,
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  // In production every request must be for the issuer's host (behind a trusted proxy: the
  // forwarded host). Absolute URLs never come from the Host header anyway (provider-mount.ts); this
  // turns a misconfigured proxy or a DNS name pointed at us by someone else into a clear error.
  const issuerUrl = new URL(config.issuer);
  if (config.env === 'production') {
    const expected = issuerUrl.host.toLowerCase();
    app.addHook('onRequest', async (request, reply) => {
      if (ANY_HOST_PATHS.has(pathOnly(request.url))) return;
      if ((request.host ?? '').toLowerCase() === expected) return;
      request.log.info(
        { host: String(request.host ?? '').slice(0, 100) },
        'request for another host refused',
      );
      const wantsHtml = (request.headers.accept ?? '').includes('text/html');
      reply.code(421).header('cache-control', 'no-store');
      if (!wantsHtml)
        return reply.send({ error: 'misdirected_request', error_description: MISDIRECTED(expected) });
      return reply
        .type('text/html; charset=utf-8')
        .send(messagePage({ title: messages.errorTitle, message: MISDIRECTED(expected) }));
    });
  }
  app.addHook('onSend', async (_request, reply, payload) => {
    for (const [name, value] of Object.entries(securityHeaders(https))) {
      if (!reply.hasHeader(name)) reply.header(name, value);
    }
    return payload;
  });

  await app.register(fastifyCookie);
  await app.register(fastifyFormbody);

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    try {
      await deps.ping();
      return { status: 'ready' };
    } catch (error) {
      app.log.warn({ err: error }, 'readiness check failed');
      return reply.code(503).send({ status: 'unavailable' });
    }
  });
  app.get('/assets/latchkey.css', async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(stylesheet),
  );

  // Logos and accent stylesheets, named by their content's hash: cached for good. A logo (an SVG
  // may hold script) opened on its own runs nothing: it gets a sandboxing CSP of its own.
  app.get('/assets/brand/:name', async (request, reply) => {
    const asset = deps.brands?.asset((request.params as { name: string }).name);
    if (!asset) return reply.code(404).type('text/plain; charset=utf-8').send('Not found');
    return reply
      .type(asset.type)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; sandbox")
      .send(asset.body);
  });

  app.get('/assets/passkey.js', async (_request, reply) =>
    reply
      .type('text/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=3600')
      .send(passkeyScript),
  );

  app.get('/assets/countdown.js', async (_request, reply) =>
    reply
      .type('text/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=3600')
      .send(countdownScript),
  );

  app.get('/assets/local-time.js', async (_request, reply) =>
    reply
      .type('text/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=3600')
      .send(localTimeScript),
  );

  app.get('/assets/handoff.js', async (_request, reply) =>
    reply
      .type('text/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=3600')
      .send(handoffScript),
  );

  app.get('/assets/auto-post.js', async (_request, reply) =>
    reply
      .type('text/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=3600')
      .send(autoPostScript),
  );

  // The not-found and error handlers come before the route sets: Fastify binds them to a context's
  // routes when those are registered, so handlers set afterwards never cover them.
  app.setNotFoundHandler(async (request, reply) => {
    const wantsHtml = (request.headers.accept ?? '').includes('text/html');
    if (!wantsHtml) return reply.code(404).send({ error: 'not_found' });
    return reply
      .code(404)
      .type('text/html; charset=utf-8')
      .send(
        messagePage({
          brand: deps.brands?.instance,
          title: messages.errorTitle,
          message: messages.errorNotFound,
        }),
      );
  });

  app.setErrorHandler(async (error: Error & { statusCode?: number; code?: string }, request, reply) => {
    // A sign-in that is over or unknown (expired, finished, another browser, cookies cleared): the
    // person needs to start again from the app, not a stack trace.
    const expired =
      isServerError(error, 'sign_in_expired') ||
      error instanceof engineErrors.SessionNotFound ||
      error instanceof engineErrors.InvalidRequest;
    const unavailable = isDatabaseUnavailable(error);
    const status = unavailable ? 503 : expired ? 400 : (error.statusCode ?? 500);
    if (status >= 500 && !unavailable) request.log.error({ err: error }, 'request failed');
    else
      request.log.info(
        { err: { name: error.name, message: error.message, code: error.code } },
        'request refused',
      );
    const message = expired
      ? messages.errorExpired
      : unavailable
        ? messages.errorUnavailable
        : messages.errorGeneric;
    const wantsHtml =
      (request.headers.accept ?? '').includes('text/html') || request.url.startsWith('/interaction/');
    if (wantsHtml && isSignInOver(error)) return sendSignInOver(error, request.id, reply, deps.brands);
    if (!wantsHtml) {
      return reply
        .code(status)
        .send({ error: status >= 500 ? 'server_error' : 'invalid_request', request_id: request.id });
    }
    return reply
      .code(status)
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(
        errorPage({
          brand: deps.brands?.instance,
          title: messages.errorTitle,
          message,
          reference: request.id,
        }),
      );
  });

  mountEngine(app, deps.engine, issuerUrl);
  for (const routes of deps.routes) await app.register(async (scope) => routes(scope));

  return app;
}

/**
 * A sign-in that is over or unknown: what happened in words, "Start again" with the app's own
 * request when Latchkey still has it, and the reference of the log line.
 */
function sendSignInOver(
  error: SignInOverError,
  reference: string,
  reply: FastifyReply,
  brands: Brands | undefined,
) {
  const { request, appName } = error.known;
  // Back to a step of a sign-in that went on (its login done, the launch page next): go there.
  if (request?.next && !request.finishedAt)
    return reply.redirect(`/interaction/${encodeURIComponent(request.next)}`, 303);
  const app = appName ?? request?.clientId;
  const finished = Boolean(request?.finishedAt);
  const title = finished ? messages.signInFinishedTitle : messages.signInOverTitle;
  const message = !request
    ? messages.signInOverUnknown
    : format(finished ? messages.signInFinished : messages.signInOverApp, { app: app ?? '' });
  return reply
    .code(400)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .send(
      errorPage({
        brand: brands?.pick({ clientId: request?.clientId }),
        title,
        message,
        reference,
        startAgainUrl: request ? replayUrl(request) : undefined,
        details: 'sign_in_expired',
      }),
    );
}
