import type { z } from 'zod';
import { AdminError } from '../admin/errors.js';
import type { Caller } from '../admin-api/auth.js';
import { ADMIN_ROUTES, type AdminRoute, withRawBody } from '../admin-api/routes.js';

const BY_ID = new Map(ADMIN_ROUTES.map((r) => [r.operationId, r] as const));

export interface OperationInput {
  params?: Record<string, string> | undefined;
  query?: Record<string, string | undefined> | undefined;
  body?: unknown;
}

function parse(schema: z.ZodType | undefined, value: unknown, part: string): unknown {
  if (!schema) return part === 'body' ? undefined : {};
  const parsed = schema.safeParse(value);
  if (parsed.success) return part === 'body' ? withRawBody(parsed.data, value) : parsed.data;
  // Every problem at once (the API's problem `details`), so a form can be corrected in one go.
  const details = parsed.error.issues.map(
    (issue) => `${issue.path.length ? issue.path.join('.') : part}: ${issue.message}`,
  );
  throw new AdminError('invalid', details.join('; ') || `${part}: not valid`);
}

/**
 * Runs one admin API operation in-process, exactly as the API does (admin-api/register.ts): the
 * route's role gate (`instance` routes refuse organization administrators), its request schemas,
 * then its handler with the caller, which makes the finer checks (which organization, which user)
 * and calls the same admin operation the CLI calls. One implementation of every operation, one
 * set of role checks; the console only renders the result.
 */
export async function invoke<T = unknown>(
  operationId: string,
  caller: Caller,
  input: OperationInput = {},
): Promise<T> {
  const route: AdminRoute | undefined = BY_ID.get(operationId);
  if (!route) throw new Error(`no admin operation ${operationId}`);
  if (route.access === 'instance' && !caller.roles.instance) {
    throw new AdminError('forbidden', 'only instance administrators may do this');
  }
  const query = Object.fromEntries(
    Object.entries(input.query ?? {}).filter(([, v]) => v !== undefined && v !== ''),
  );
  return (await route.handle({
    caller,
    params: parse(route.params, input.params ?? {}, 'params'),
    query: parse(route.query, query, 'query'),
    body: parse(route.body, input.body, 'body'),
  })) as T;
}

/** Whether the caller may use an operation at all (the navigation hides what they may not). */
export function mayUse(operationId: string, caller: Caller): boolean {
  const route = BY_ID.get(operationId);
  return Boolean(route) && (route?.access !== 'instance' || caller.roles.instance);
}
