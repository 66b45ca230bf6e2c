import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

const COOKIE = 'lk_csrf';

/**
 * CSRF protection for every form: a random per-browser cookie and, in each form, an HMAC of it under
 * a server key (signed double submit). A cross-site page can neither read the cookie nor compute the
 * field; SameSite=Lax cookies add a second layer.
 */
export class Csrf {
  constructor(
    private readonly key: Buffer,
    private readonly secureCookies: boolean,
  ) {}

  #sign(value: string): string {
    return createHmac('sha256', this.key).update(value).digest('base64url');
  }

  /** Returns the token for forms on this page, setting the cookie when the browser has none. */
  token(request: FastifyRequest, reply: FastifyReply): string {
    let value = request.cookies[COOKIE];
    if (!value || value.length < 20) {
      value = randomBytes(24).toString('base64url');
      reply.setCookie(COOKIE, value, {
        path: '/',
        httpOnly: true,
        sameSite: 'lax',
        secure: this.secureCookies,
      });
      // Make the fresh value visible to a later call in the same request.
      request.cookies[COOKIE] = value;
    }
    return this.#sign(value);
  }

  verify(request: FastifyRequest): boolean {
    const value = request.cookies[COOKIE];
    const body = request.body as Record<string, unknown> | undefined;
    const submitted = typeof body?._csrf === 'string' ? body._csrf : '';
    if (!value || !submitted) return false;
    const expected = Buffer.from(this.#sign(value));
    const actual = Buffer.from(submitted);
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }
}
