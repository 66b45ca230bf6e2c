import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { seal, unseal } from '../crypto/sealed-values.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { PendingSignIn } from './oidc.js';

const SESSION_COOKIE = 'lk_admin';
const SIGN_IN_COOKIE = 'lk_admin_sign_in';
const PURPOSE = 'admin-console-session';
const SIGN_IN_PURPOSE = 'admin-console-sign-in';
/** A console session ends after this long whatever happens (then the person signs in again). */
export const CONSOLE_SESSION_MS = 8 * 60 * 60_000;
const SIGN_IN_MS = 10 * 60_000;

/** What the console's cookie holds, sealed (AES-256-GCM under the operator secret, bound to its purpose). */
export interface ConsoleSession {
  /** The administrator's user id. */
  sub: string;
  accessToken: string;
  accessTokenExpiresAt: number;
  refreshToken: string | undefined;
  /** The synchronizer token every form of this session carries (CSRF). */
  csrf: string;
  /** Epoch milliseconds: when the session ends at the latest. */
  endsAt: number;
}

export interface PendingConsoleSignIn extends PendingSignIn {
  /** A console path to go back to after signing in. */
  returnTo: string;
}

/**
 * The console's session lives in the browser, sealed: no table, no sticky sessions, any server
 * process of a fleet opens it (they share the operator secret). Cookies are host-only, httpOnly,
 * SameSite=Lax, scoped to /admin, and Secure when the issuer is https. The engine's own browser
 * session (lk_session) is separate: signing out of the console does not sign anyone out of their apps.
 */
export function createSessionCookies(box: SecretBox, secure: boolean) {
  const options = { path: '/admin', httpOnly: true, sameSite: 'lax' as const, secure };
  return {
    read(request: FastifyRequest): ConsoleSession | undefined {
      const session = unseal<ConsoleSession>(box, PURPOSE, request.cookies[SESSION_COOKIE]);
      return session && session.endsAt > Date.now() ? session : undefined;
    },
    write(reply: FastifyReply, session: ConsoleSession): void {
      const ttl = session.endsAt - Date.now();
      reply.setCookie(SESSION_COOKIE, seal(box, PURPOSE, session, ttl), {
        ...options,
        maxAge: Math.max(1, Math.floor(ttl / 1000)),
      });
    },
    clear(reply: FastifyReply): void {
      reply.clearCookie(SESSION_COOKIE, options);
    },
    readSignIn(request: FastifyRequest): PendingConsoleSignIn | undefined {
      return unseal<PendingConsoleSignIn>(box, SIGN_IN_PURPOSE, request.cookies[SIGN_IN_COOKIE]);
    },
    writeSignIn(reply: FastifyReply, pending: PendingConsoleSignIn): void {
      reply.setCookie(SIGN_IN_COOKIE, seal(box, SIGN_IN_PURPOSE, pending, SIGN_IN_MS), {
        ...options,
        maxAge: SIGN_IN_MS / 1000,
      });
    },
    clearSignIn(reply: FastifyReply): void {
      reply.clearCookie(SIGN_IN_COOKIE, options);
    },
  };
}
export type SessionCookies = ReturnType<typeof createSessionCookies>;

export function newCsrfToken(): string {
  return randomBytes(24).toString('base64url');
}

/** The form's `_csrf` equals the session's token (compared in constant time). */
export function csrfMatches(session: ConsoleSession, body: unknown): boolean {
  const submitted = (body as Record<string, unknown> | undefined)?._csrf;
  if (typeof submitted !== 'string' || submitted === '') return false;
  const expected = Buffer.from(session.csrf);
  const actual = Buffer.from(submitted);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** A console path to return to after sign-in; anything else (another site, `//host`) is the overview. */
export function safeReturnPath(value: unknown): string {
  if (typeof value !== 'string') return '/admin';
  if (!/^\/admin(\/[A-Za-z0-9._~%/-]*)?(\?[A-Za-z0-9._~%&=+-]*)?$/.test(value)) return '/admin';
  return value.includes('//') ? '/admin' : value;
}
