import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AdminError } from '../admin/errors.js';
import type { Caller } from '../admin-api/auth.js';
import { sendPage } from '../web/reply.js';
import type { CallerResolver } from './caller.js';
import { consolePage, type Section } from './layout.js';
import { invoke, type OperationInput } from './operations.js';
import { notAdminPage, problemPage, signedOutPage } from './pages/message-pages.js';
import { type ConsoleSession, csrfMatches } from './session.js';

/** What a console page handler gets: the request, the administrator, and the operations in their name. */
export interface PageContext<P = Record<string, string>, Q = Record<string, string | undefined>> {
  request: FastifyRequest<{ Params: P; Querystring: Q; Body: Record<string, unknown> }>;
  reply: FastifyReply;
  caller: Caller;
  session: ConsoleSession;
  /** Runs an admin API operation as this administrator (operations.ts). */
  run<T>(operationId: string, input?: OperationInput): Promise<T>;
}

export interface PageResult {
  title: string;
  body: import('../pages/html.js').SafeHtml;
  section?: Section | undefined;
  status?: number | undefined;
  notice?: string | undefined;
  error?: string | undefined;
}

type Handler<P, Q> = (ctx: PageContext<P, Q>) => Promise<PageResult | FastifyReply>;

/** Which AdminError codes mean what to a person, as HTTP statuses. */
const STATUS: Partial<Record<AdminError['code'], number>> = {
  not_found: 404,
  forbidden: 403,
  invalid: 400,
  verification_failed: 400,
  upstream_managed: 409,
  declared_in_config: 409,
  already_exists: 409,
  in_use: 409,
  conflict: 409,
};

/**
 * Registers console pages (GET) and actions (POST) behind one gate: a console session (else the
 * sign-in for a GET, a "signed out" page for a POST), an administrator (else the refusal page), and
 * for every POST the session's CSRF token (else 403 and nothing runs). Refusals of the operations
 * themselves (another organization's user: not_found; an instance-wide page for an organization
 * administrator: forbidden) become readable pages with the API's status.
 */
export function createKit(app: FastifyInstance, resolver: CallerResolver) {
  async function gate<P, Q>(
    method: 'GET' | 'POST',
    request: FastifyRequest,
    reply: FastifyReply,
    handler: Handler<P, Q>,
  ): Promise<FastifyReply> {
    let signedIn: Awaited<ReturnType<CallerResolver['fromRequest']>>;
    try {
      signedIn = await resolver.fromRequest(request, reply);
    } catch (error) {
      if (error instanceof AdminError && error.code === 'forbidden') {
        return sendPage(reply, notAdminPage(error.message), 403);
      }
      if (error instanceof AdminError && error.code === 'unauthorized') signedIn = { kind: 'signed_out' };
      else throw error;
    }
    if (signedIn.kind === 'signed_out') {
      if (method === 'GET') {
        const back = encodeURIComponent(request.url);
        return reply.redirect(`/admin/sign-in?return=${back}`, 303);
      }
      return sendPage(reply, signedOutPage('Your console session has ended. Nothing was changed.'), 401);
    }
    const { caller, session } = signedIn;
    if (method === 'POST' && !csrfMatches(session, request.body)) {
      request.log.info(
        { path: request.url.split('?')[0] },
        'console form refused: CSRF token missing or wrong',
      );
      return sendPage(
        reply,
        problemPage({
          title: 'This form has expired',
          message:
            'The form did not carry this session’s security token, so nothing was changed. Go back, reload the page and try again.',
          caller,
          csrf: session.csrf,
        }),
        403,
      );
    }
    const ctx = {
      request,
      reply,
      caller,
      session,
      run: <T>(operationId: string, input?: OperationInput) => invoke<T>(operationId, caller, input),
    } as unknown as PageContext<P, Q>;
    try {
      const result = await handler(ctx);
      if (!('title' in result && 'body' in result)) return result as FastifyReply;
      return sendPage(reply, consolePage({ ...result, caller, csrf: session.csrf }), result.status ?? 200);
    } catch (error) {
      if (!(error instanceof AdminError)) throw error;
      const status = statusOf(error);
      const title =
        status === 404 ? 'Not found' : status === 403 ? 'Not for your role' : 'That could not be done';
      return sendPage(
        reply,
        problemPage({ title, message: error.message, caller, csrf: session.csrf }),
        status,
      );
    }
  }

  return {
    page<P = Record<string, string>, Q = Record<string, string | undefined>>(
      path: string,
      handler: Handler<P, Q>,
    ) {
      app.get(path, (request, reply) => gate('GET', request, reply, handler));
    },
    action<P = Record<string, string>, Q = Record<string, string | undefined>>(
      path: string,
      handler: Handler<P, Q>,
    ) {
      app.post(path, (request, reply) => gate('POST', request, reply, handler));
    },
  };
}
export type ConsoleKit = ReturnType<typeof createKit>;

/** The HTTP status a person sees for an AdminError. */
export function statusOf(error: AdminError): number {
  return STATUS[error.code] ?? 400;
}

/**
 * Runs a form's work; when the operation refuses the input (validation, a conflict, an object the
 * configuration file declares), the page the form lives on is drawn again with the API's message
 * beside it, so the administrator can correct it. Role refusals (403, 404) still become the
 * refusal page (kit's gate).
 */
export async function withFormErrors(
  work: () => Promise<PageResult | FastifyReply>,
  again: (error: string) => Promise<PageResult>,
): Promise<PageResult | FastifyReply> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof AdminError) || error.code === 'forbidden' || error.code === 'not_found')
      throw error;
    return { ...(await again(error.message)), status: statusOf(error) };
  }
}

/** A form field as a string ('' when absent or not a string). */
export function field(body: unknown, name: string): string {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : '';
}
