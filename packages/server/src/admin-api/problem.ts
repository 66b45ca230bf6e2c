import type { FastifyReply } from 'fastify';
import type { z } from 'zod';
import { ERROR_CODES, isServerError } from '../errors/server-error.js';

/**
 * Every error of the admin API in one shape, RFC 9457 problem details with our stable `code`:
 * `{ type, title, status, code, message, details? }` as `application/problem+json`. `type` is a URN
 * per code (no page to fetch: docs/errors.md lists them).
 */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  message: string;
  details?: unknown;
}

export function problem(code: string, status: number, message: string, details?: unknown): Problem {
  return {
    type: `urn:latchkey:error:${code}`,
    title: code.replaceAll('_', ' '),
    status,
    code,
    message,
    ...(details !== undefined ? { details } : {}),
  };
}

export function sendProblem(reply: FastifyReply, body: Problem): FastifyReply {
  return reply.status(body.status).type('application/problem+json').send(body);
}

/** Zod issues as `details`: where (`body.connection.issuer`) and what, never the value given. */
export function validationProblem(where: 'body' | 'query' | 'params', error: z.ZodError): Problem {
  const details = error.issues.map((issue) => ({
    path: [where, ...issue.path.map(String)].join('.'),
    message: issue.message,
  }));
  const first = details[0];
  return problem('invalid', 400, first ? `${first.path}: ${first.message}` : `invalid ${where}`, details);
}

/** A thrown error as a problem: our errors by their code, anything else as a bare 500. */
export function problemOf(error: unknown): Problem {
  if (isServerError(error)) {
    return problem(error.code, error.status, error.expose ? error.message : 'internal error');
  }
  const status = (error as { statusCode?: number }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Fastify's own refusals (a body that is not JSON, too large…).
    return problem('invalid', status, (error as Error).message);
  }
  return problem('internal', ERROR_CODES.config_invalid, 'internal error');
}
