import type { FastifyInstance, FastifyReply } from 'fastify';

/** Sends an HTML page; sign-in and account pages are never cached (they carry CSRF tokens and personal data). */
export function sendPage(reply: FastifyReply, body: string, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);
}

/**
 * The pages' routes take what their forms send (`application/x-www-form-urlencoded`), nothing else:
 * a JSON body (`{"email":{"toString":1}}`) is refused with 415 before any handler sees it.
 */
export function acceptFormsOnly(app: FastifyInstance): void {
  app.removeContentTypeParser(['application/json', 'text/plain']);
}
