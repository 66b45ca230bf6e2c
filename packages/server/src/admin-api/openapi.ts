import { z } from 'zod';
import type { AdminRoute } from './routes.js';

export const API_PREFIX = '/admin/api/v1';

/** `/users/:user` → `/users/{user}` (OpenAPI path templating). */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

type JsonSchema = Record<string, unknown>;

/** JSON Schema 2020-12 (OpenAPI 3.1's dialect) of what a client sends (`io: input`). */
function schemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
  delete json.$schema;
  return json;
}

function parameters(route: AdminRoute) {
  const out: Record<string, unknown>[] = [];
  for (const [where, shape] of [
    ['path', route.params],
    ['query', route.query],
  ] as const) {
    if (!shape) continue;
    for (const [name, field] of Object.entries(shape.shape)) {
      const schema = schemaOf(field as z.ZodType, 'input');
      const description = typeof schema.description === 'string' ? schema.description : undefined;
      out.push({
        name,
        in: where,
        required: where === 'path' || !(field as z.ZodType).safeParse(undefined).success,
        ...(description ? { description } : {}),
        schema,
      });
    }
  }
  return out;
}

const PROBLEM_SCHEMA = {
  type: 'object',
  description: 'RFC 9457 problem details with a stable code (docs/errors.md)',
  required: ['type', 'title', 'status', 'code', 'message'],
  properties: {
    type: { type: 'string', description: 'urn:latchkey:error:<code>' },
    title: { type: 'string' },
    status: { type: 'integer' },
    code: { type: 'string' },
    message: { type: 'string' },
    details: {},
  },
};

const problemResponse = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});

/**
 * The OpenAPI 3.1 document of the admin API, generated from the route table: the same zod schemas
 * validate requests (register.ts) and describe them here.
 */
export function openApiDocument(routes: readonly AdminRoute[], issuer: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = openApiPath(route.path);
    const operations = paths[path] ?? {};
    paths[path] = operations;
    const status = String(route.status ?? 200);
    const operation: Record<string, unknown> = {
      operationId: route.operationId,
      summary: route.summary,
      tags: [route.tag],
      description:
        route.access === 'instance'
          ? 'Instance administrators only.'
          : "Instance administrators, and organization administrators within their organizations (other organizations' objects answer 404).",
      parameters: parameters(route),
      responses: {
        [status]: {
          description: 'success',
          content: { 'application/json': { schema: schemaOf(route.response, 'output') } },
        },
        '400': problemResponse('the request is not valid (details name each problem)'),
        '401': problemResponse('no valid access token for the admin API'),
        '403': problemResponse('the caller may not do this'),
        '404': problemResponse('no such object (or not within the caller’s organizations)'),
        '409': problemResponse('conflicts with the current state, or declared in the configuration file'),
      },
    };
    if (route.body) {
      const optional = route.body.safeParse(undefined).success;
      operation.requestBody = {
        required: !optional,
        content: { 'application/json': { schema: schemaOf(route.body, 'input') } },
      };
    }
    operations[route.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Latchkey Admin API',
      version: '1',
      description:
        'Manage organizations, users, sessions, apps, keys and the audit log. Authenticate with an access token Latchkey issues for the resource `' +
        `${issuer}/admin/api` +
        '` (RFC 8707 `resource` parameter, scope `admin`).',
    },
    servers: [{ url: `${issuer}${API_PREFIX}` }],
    security: [{ latchkey: [] }],
    paths,
    components: {
      schemas: { Problem: PROBLEM_SCHEMA },
      securitySchemes: {
        latchkey: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: `An RFC 9068 access token from ${issuer} for the audience ${issuer}/admin/api`,
        },
      },
    },
  };
}
