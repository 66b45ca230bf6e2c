import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type Provider from 'oidc-provider';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { AuditInput } from '../domain/audit.js';
import { ENGINE_PATHS } from './provider-mount.js';

/**
 * Prometheus metrics at `/metrics` (text exposition format):
 * - `latchkey_http_request_duration_seconds{method,route,status}`: every response, the engine's
 *   included (its requests are hijacked from Fastify, so timing hangs off the raw server's
 *   `request` event and the response's `finish`); `route` is the route pattern, never a raw path;
 * - `latchkey_grants_total{grant_type,result}`: token endpoint outcomes from the engine's
 *   `grant.success` / `grant.error` events (`result` is `success` or the OAuth error code);
 * - `latchkey_sign_ins_total{method,result}`: the end of every sign-in attempt, from the audit
 *   events the sign-in pages already write (success, wrong password, throttled, second factor…);
 * - `latchkey_throttled_total{limited_by}` and `latchkey_upstream_errors_total{reason}`;
 * - Node.js process metrics (CPU, memory, event loop lag, GC) with the `latchkey_` prefix.
 *
 * Exposure (README "Metrics"): off the public internet by default. `/metrics` answers only a
 * scraper on the same host that talks to the process directly (a loopback peer and no forwarding
 * header — Forwarded, X-Forwarded-*, X-Real-IP, X-Client-IP, True-Client-IP, CF-Connecting-IP, Via… —
 * so a request relayed by a local reverse proxy does not count), or any peer presenting
 * `Authorization: Bearer <LATCHKEY_METRICS_TOKEN>`. Everyone else gets 404. `LATCHKEY_METRICS=off`
 * removes the endpoint and the collection.
 */
export interface MetricsOptions {
  /** Environment (LATCHKEY_METRICS, LATCHKEY_METRICS_TOKEN); defaults to process.env. */
  env?: NodeJS.ProcessEnv;
}

export interface Metrics {
  registry: Registry;
  observeAudit(event: AuditInput): void;
  watchProvider(provider: Provider): void;
  observeResponse(req: IncomingMessage, res: ServerResponse, seconds: number): void;
}

const GRANT_TYPES = new Set([
  'authorization_code',
  'refresh_token',
  'client_credentials',
  'urn:ietf:params:oauth:grant-type:device_code',
]);

/** Label values from data: short snake-case words only, so nothing unbounded or secret leaks in. */
function word(value: unknown, fallback = 'other'): string {
  return typeof value === 'string' && /^[a-z][a-z0-9_]{0,39}$/.test(value) ? value : fallback;
}

function methodOf(amr: unknown): string {
  const list = Array.isArray(amr) ? amr.filter((m): m is string => typeof m === 'string') : [];
  if (list.includes('fed')) return 'federated';
  if (list.includes('hwk') || list.includes('swk')) return list.includes('pwd') ? 'password_2sv' : 'passkey';
  if (list.length > 1) return 'password_2sv';
  return 'password';
}

/** Route patterns for labels: the engine's own paths, interaction steps, then Fastify's routes. */
const ENGINE_PATTERNS = ENGINE_PATHS.map((p) => ({
  pattern: p,
  regex: new RegExp(`^${p.replace(/[.]/g, '\\.').replace(/:[a-z]+/g, '[^/]+')}$`),
}));

function routeOf(url: string | undefined, status: number): string {
  const path = (url ?? '').split('?')[0] ?? '';
  if (path.startsWith('/interaction/')) {
    const step = path.split('/')[3];
    return step ? `/interaction/:uid/${word(step, ':step')}` : '/interaction/:uid';
  }
  for (const { pattern, regex } of ENGINE_PATTERNS) if (regex.test(path)) return pattern;
  if (status === 404) return 'unmatched';
  // Fastify routes without parameters are bounded; anything with an id-like segment is folded.
  return path
    .split('/')
    .map((s) => (/^[A-Za-z0-9_-]{16,}$/.test(s) ? ':id' : s))
    .join('/')
    .slice(0, 80);
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'latchkey_' });
  const http = new Histogram({
    name: 'latchkey_http_request_duration_seconds',
    help: 'HTTP request latency by route pattern, method and status code',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const grants = new Counter({
    name: 'latchkey_grants_total',
    help: 'Token endpoint requests by grant type and result (success or the OAuth error code)',
    labelNames: ['grant_type', 'result'] as const,
    registers: [registry],
  });
  const signIns = new Counter({
    name: 'latchkey_sign_ins_total',
    help: 'Finished sign-in attempts by method and result',
    labelNames: ['method', 'result'] as const,
    registers: [registry],
  });
  const throttled = new Counter({
    name: 'latchkey_throttled_total',
    help: 'Password and 2-step verification attempts refused by throttling, by the limit that applied',
    labelNames: ['limited_by'] as const,
    registers: [registry],
  });
  const upstreamErrors = new Counter({
    name: 'latchkey_upstream_errors_total',
    help: 'Failed round trips to upstream identity providers (sign-in and refresh re-validation)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });

  const watched = new WeakSet<Provider>();
  const grantType = (ctx: { oidc?: { params?: { grant_type?: unknown } } }) => {
    const type = ctx.oidc?.params?.grant_type;
    return typeof type === 'string' && GRANT_TYPES.has(type) ? type : 'other';
  };

  return {
    registry,
    observeAudit(event) {
      const details = event.details ?? {};
      switch (event.action) {
        case 'sign_in':
          if (event.outcome === 'success') signIns.inc({ method: methodOf(details.amr), result: 'success' });
          break;
        case 'password':
          if (event.outcome === 'failure') signIns.inc({ method: 'password', result: word(details.reason) });
          break;
        case 'second_factor':
          if (event.outcome === 'failure')
            signIns.inc({ method: 'second_factor', result: word(details.reason) });
          break;
        case 'passkey_sign_in':
          if (event.outcome === 'failure') signIns.inc({ method: 'passkey', result: word(details.reason) });
          break;
        case 'upstream_sign_in':
          if (event.outcome === 'failure') {
            signIns.inc({ method: 'federated', result: 'upstream_error' });
            upstreamErrors.inc({ reason: word(details.reason) });
          }
          break;
        case 'upstream_revalidate':
          if (event.outcome === 'failure') upstreamErrors.inc({ reason: word(details.reason) });
          break;
        case 'throttled':
          throttled.inc({ limited_by: word(details.limitedBy) });
          break;
      }
    },
    watchProvider(provider) {
      if (watched.has(provider)) return;
      watched.add(provider);
      // Counted when the response is done: a refresh-token rotation still commits after the engine's
      // `grant.success`, and a race lost at that commit is answered with `grant.error` instead
      // (storage/held-rotation.ts, heldWritesMiddleware).
      provider.on('grant.success', (ctx) => {
        const type = grantType(ctx);
        ctx.res.once('close', () => {
          if (ctx.res.statusCode < 400) grants.inc({ grant_type: type, result: 'success' });
        });
      });
      provider.on('grant.error', (ctx, error) =>
        grants.inc({
          grant_type: grantType(ctx),
          result: word((error as { error?: unknown }).error, 'server_error'),
        }),
      );
    },
    observeResponse(req, res, seconds) {
      http.observe(
        {
          method: req.method ?? 'GET',
          route: routeOf(req.url, res.statusCode),
          status: String(res.statusCode),
        },
        seconds,
      );
    },
  };
}

/**
 * Headers a reverse proxy adds. A request that carries any of them was relayed (or claims to be):
 * the loopback peer is then the proxy, not a scraper on this host, whatever the value says.
 */
const FORWARDING_HEADERS = [
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-forwarded-server',
  'x-forwarded-prefix',
  'x-real-ip',
  'x-client-ip',
  'x-cluster-client-ip',
  'true-client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'x-original-forwarded-for',
  'via',
];

function relayed(req: IncomingMessage): boolean {
  if (FORWARDING_HEADERS.some((name) => req.headers[name] !== undefined)) return true;
  // Any other X-Forwarded-* a proxy may invent.
  return Object.keys(req.headers).some((name) => name.startsWith('x-forwarded-'));
}

function isLoopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

/** Who may read /metrics (see the module comment). */
export function metricsAccess(env: NodeJS.ProcessEnv) {
  const token = env.LATCHKEY_METRICS_TOKEN;
  return (req: IncomingMessage): boolean => {
    const auth = req.headers.authorization;
    if (token && typeof auth === 'string' && auth.startsWith('Bearer ')) {
      const given = Buffer.from(auth.slice(7));
      const expected = Buffer.from(token);
      if (given.length === expected.length && timingSafeEqual(given, expected)) return true;
    }
    return isLoopback(req.socket.remoteAddress) && !relayed(req);
  };
}

/** The metrics of one server: the /metrics route and the observer of its audit events. */
export interface ServerMetrics {
  /** Counts sign-in outcomes from audit events (one hook instead of a metrics call at every place a sign-in ends). */
  observeAudit(event: AuditInput): void;
  register(app: FastifyInstance): void;
}

/**
 * Serves /metrics and wires the collectors; undefined when `LATCHKEY_METRICS` turns them off.
 * `provider()` is re-checked per request because the server rebuilds its engine when signing keys change.
 */
export function createServerMetrics(deps: {
  provider(): Provider;
  env?: NodeJS.ProcessEnv;
}): ServerMetrics | undefined {
  const env = deps.env ?? process.env;
  if (/^(0|off|false|no)$/i.test(env.LATCHKEY_METRICS ?? '')) return undefined;
  const metrics = createMetrics();
  const allowed = metricsAccess(env);
  return {
    observeAudit(event) {
      try {
        metrics.observeAudit(event);
      } catch {
        // Counting must never break the audit trail.
      }
    },
    register(app) {
      app.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
        metrics.watchProvider(deps.provider());
        const started = process.hrtime.bigint();
        res.once('finish', () => {
          metrics.observeResponse(req, res, Number(process.hrtime.bigint() - started) / 1e9);
        });
      });
      app.get('/metrics', async (request, reply) => {
        if (!allowed(request.raw)) return reply.callNotFound();
        reply.header('cache-control', 'no-store').type(metrics.registry.contentType);
        return metrics.registry.metrics();
      });
    },
  };
}
