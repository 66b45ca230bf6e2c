import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { JWK } from 'jose';
import type { AdminContext } from '../admin/context.js';
import { AdminError } from '../admin/errors.js';
import { adminApiResource } from '../admin/resources.js';
import { bearerToken, createTokenVerifier, resolveCaller } from './auth.js';
import { API_PREFIX, openApiDocument } from './openapi.js';
import { problem, problemOf, sendProblem, validationProblem } from './problem.js';
import { ADMIN_ROUTES, type AdminRoute, withRawBody } from './routes.js';

export interface AdminApiDeps {
  /** A context over the server's own parts; each request acts through a copy naming its caller. */
  admin: AdminContext;
  /** The engine's signing keys (the access tokens' issuer is this very server). */
  jwks(): { keys: JWK[] };
  log: { error(entry: Record<string, unknown>, message: string): void };
}

/**
 * `/admin/api/v1`: the route table (routes.ts) on Fastify, in its own context. Every request but the
 * OpenAPI document needs a bearer access token for `<issuer>/admin/api`; every answer is JSON, every
 * error a problem document. No cookies are read, so no CSRF token is needed.
 */
export async function registerAdminApi(app: FastifyInstance, deps: AdminApiDeps): Promise<void> {
  const { config } = deps.admin;
  const audience = adminApiResource(config).id;
  const verify = createTokenVerifier({ issuer: config.issuer, audience, jwks: deps.jwks });
  const document = openApiDocument(ADMIN_ROUTES, config.issuer);

  await app.register(
    async (api) => {
      api.setErrorHandler((error, request, reply) => {
        const body = problemOf(error);
        if (body.status >= 500) deps.log.error({ err: error, path: request.url }, 'admin API error');
        return sendProblem(reply, body);
      });
      api.setNotFoundHandler((request, reply) =>
        sendProblem(
          reply,
          problem('not_found', 404, `no admin API route ${request.method} ${request.url.split('?')[0]}`),
        ),
      );
      api.addHook('onSend', async (_request, reply, payload) => {
        reply.header('cache-control', 'no-store');
        return payload;
      });

      api.get('/openapi.json', async (_request, reply) => reply.type('application/json').send(document));

      for (const route of ADMIN_ROUTES) {
        api.route({
          method: route.method,
          url: route.path,
          handler: (request, reply) => handle(route, request, reply),
        });
      }
    },
    { prefix: API_PREFIX },
  );

  async function handle(route: AdminRoute, request: FastifyRequest, reply: FastifyReply) {
    const token = bearerToken(request.headers.authorization);
    if (!token) {
      reply.header('www-authenticate', `Bearer realm="${audience}"`);
      return sendProblem(
        reply,
        problem(
          'unauthorized',
          401,
          `send an access token for ${audience} as "Authorization: Bearer <token>"`,
        ),
      );
    }
    let caller: Awaited<ReturnType<typeof resolveCaller>>;
    try {
      caller = await resolveCaller(deps.admin, await verify(token), {
        ip: request.ip,
        userAgent: request.headers['user-agent'],
      });
    } catch (error) {
      // RFC 6750 §3.1
      if (error instanceof AdminError && error.code === 'unauthorized') {
        reply.header('www-authenticate', `Bearer realm="${audience}", error="invalid_token"`);
      }
      throw error;
    }
    if (route.access === 'instance' && !caller.roles.instance) {
      throw new AdminError(
        'forbidden',
        `${route.method} ${API_PREFIX}${route.path}: instance administrators only`,
      );
    }
    const params = route.params
      ? route.params.safeParse(request.params)
      : { success: true as const, data: {} };
    if (!params.success) return sendProblem(reply, validationProblem('params', params.error));
    const query = route.query
      ? route.query.safeParse(request.query ?? {})
      : { success: true as const, data: {} };
    if (!query.success) return sendProblem(reply, validationProblem('query', query.error));
    let body: { success: true; data: unknown } | { success: false; error: import('zod').ZodError };
    if (route.body) {
      const parsed = route.body.safeParse(request.body ?? undefined);
      body = parsed.success ? { success: true, data: withRawBody(parsed.data, request.body) } : parsed;
    } else if (!isEmptyBody(request.body)) {
      return sendProblem(reply, problem('invalid', 400, `${route.method} ${route.path} takes no body`));
    } else body = { success: true, data: undefined };
    if (!body.success) return sendProblem(reply, validationProblem('body', body.error));
    const result = await route.handle({ caller, params: params.data, query: query.data, body: body.data });
    return reply
      .status(route.status ?? 200)
      .type('application/json')
      .send(result);
  }
}

/** No body, or an empty JSON object (what many clients send with a POST that needs none). */
function isEmptyBody(body: unknown): boolean {
  if (body === undefined || body === null || body === '') return true;
  return typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0;
}
