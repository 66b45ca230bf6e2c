import type { FastifyReply } from 'fastify';

/** Sends an HTML page; sign-in and account pages are never cached (they carry CSRF tokens and personal data). */
export function sendPage(reply: FastifyReply, body: string, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);
}
