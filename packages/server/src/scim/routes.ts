import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Audit } from '../domain/audit.js';
import { isDatabaseUnavailable } from '../storage/unavailable.js';
import type { ScimAuthVerdict } from './auth-throttle.js';
import { asScimRefusal, ScimRefusal, scimErrorBody } from './scim-error.js';
import {
  authenticate,
  createGroup,
  createUser,
  deleteGroup,
  deleteUser,
  discovery,
  getGroup,
  getUser,
  type ListQuery,
  listGroups,
  listUsers,
  patchGroup,
  patchUser,
  replaceGroup,
  replaceUser,
  type ScimCaller,
  type ScimDeps,
  type ScimResult,
} from './service.js';

export interface ScimRouteDeps extends ScimDeps {
  issuer: string;
  audit: Audit;
  /** Counts a failed authentication from an address (auth-throttle.ts); without it, failures cost nothing. */
  authFailures?: (ip: string) => Promise<ScimAuthVerdict>;
}

const SCIM_JSON = 'application/scim+json; charset=utf-8';
/** A provisioning request is one resource or a PatchOp; Entra ID and Okta send a few KB. */
const BODY_LIMIT = 1_048_576;

type ScimRequest = FastifyRequest<{ Params: { organization: string; '*'?: string } }>;

/**
 * The SCIM 2.0 service provider (RFC 7644) of each organization at `/scim/v2/<organization>/`:
 * Users, Groups and the discovery endpoints, authenticated by the organization's SCIM bearer token.
 * Every answer is `application/scim+json`; every refusal a SCIM error, logged and audited.
 */
export function registerScimRoutes(app: FastifyInstance, deps: ScimRouteDeps): void {
  // Bodies are read as text and parsed here, so malformed JSON (or a wrong content type) is a SCIM
  // error, not the server's generic one. Scoped to these routes (Fastify encapsulation).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_request, body, done) =>
    done(null, body),
  );
  app.setErrorHandler(async (error: Error & { statusCode?: number }, fastifyRequest, reply) => {
    // What fails before a handler runs: a body over the limit, a body the parser cannot read. Who
    // asks comes first, as in the handler: without a valid token the answer is 401 (or 429), and
    // nothing about the body is said or audited.
    const request = fastifyRequest as ScimRequest;
    const organization = request.params?.organization ?? '';
    let caller: ScimCaller;
    try {
      caller = await authenticate(deps, deps.issuer, organization, request.headers.authorization);
    } catch (authError) {
      const denied = asScimRefusal(authError);
      if (denied?.status === 401) return unauthenticated(deps, request, reply, organization, denied);
      return failed(request, reply, authError);
    }
    const refusal =
      error.statusCode === 413
        ? new ScimRefusal(413, undefined, `the request body is larger than ${BODY_LIMIT} bytes`)
        : new ScimRefusal(400, 'invalidSyntax', error.message);
    await refused(deps, request, caller, organization, refusal);
    return reply
      .code(refusal.status)
      .type(SCIM_JSON)
      .send(JSON.stringify(scimErrorBody(refusal.status, refusal.scimType, refusal.message)));
  });
  const handler = (request: ScimRequest, reply: FastifyReply) => handle(deps, request, reply);
  const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
  app.route({ method: [...methods], url: '/scim/v2/:organization', handler });
  app.route({ method: [...methods], url: '/scim/v2/:organization/*', handler });
}

async function handle(deps: ScimRouteDeps, request: ScimRequest, reply: FastifyReply): Promise<FastifyReply> {
  const organization = request.params.organization;
  const path = (request.params['*'] ?? '').split('/').filter(Boolean).map(decodeURIComponent);
  let caller: ScimCaller | undefined;
  try {
    caller = await authenticate(deps, deps.issuer, organization, request.headers.authorization);
    const result = await dispatch(deps, caller, request, path);
    reply.code(result.status).header('cache-control', 'no-store');
    if (result.etag) reply.header('etag', result.etag);
    if (result.location && result.status === 201) reply.header('location', result.location);
    if (result.body === undefined) return reply.send();
    return reply.type(SCIM_JSON).send(JSON.stringify(result.body));
  } catch (error) {
    const refusal = asScimRefusal(error);
    if (!refusal) return failed(request, reply, error);
    if (!caller && refusal.status === 401)
      return unauthenticated(deps, request, reply, organization, refusal);
    await refused(deps, request, caller, organization, refusal);
    return reply
      .code(refusal.status)
      .type(SCIM_JSON)
      .send(JSON.stringify(scimErrorBody(refusal.status, refusal.scimType, refusal.message)));
  }
}

/** A failure of ours (or of the database): 500, or 503 while the database is away; logged. */
function failed(request: ScimRequest, reply: FastifyReply, error: unknown): FastifyReply {
  const unavailable = isDatabaseUnavailable(error);
  request.log.error({ err: error }, 'scim request failed');
  const status = unavailable ? 503 : 500;
  return reply
    .code(status)
    .type(SCIM_JSON)
    .send(
      JSON.stringify(
        scimErrorBody(
          status,
          undefined,
          `${unavailable ? 'service unavailable' : 'internal error'} (request ${request.id})`,
        ),
      ),
    );
}

/**
 * A request without a valid token: 401, logged and audited, while its address has failures to spare
 * (auth-throttle.ts); after that 429 with Retry-After, logged at debug level and audited once a
 * minute. When the throttle itself fails (Redis away), the refusal is the plain 401.
 */
async function unauthenticated(
  deps: ScimRouteDeps,
  request: ScimRequest,
  reply: FastifyReply,
  organization: string,
  refusal: ScimRefusal,
): Promise<FastifyReply> {
  let verdict: ScimAuthVerdict = { held: false };
  try {
    if (deps.authFailures) verdict = await deps.authFailures(request.ip);
  } catch (error) {
    request.log.error({ err: error }, 'scim authentication throttle unavailable');
  }
  if (verdict.held) {
    const reason = (refusal as ScimRefusal & { reason?: string }).reason;
    request.log.debug(
      { scim: { organization, reason, address: verdict.key } },
      'scim authentication throttled',
    );
    if (verdict.report) {
      try {
        await deps.audit({
          action: 'throttled',
          outcome: 'failure',
          ip: request.ip,
          userAgent: request.headers['user-agent'],
          details: {
            scope: 'scim',
            limitedBy: 'address',
            address: verdict.key,
            retryAfterMs: verdict.retryAfterSeconds * 1000,
            organization,
          },
        });
      } catch (error) {
        request.log.error({ err: error }, 'scim throttling not audited');
      }
    }
    return reply
      .code(429)
      .header('retry-after', String(verdict.retryAfterSeconds))
      .header('cache-control', 'no-store')
      .type(SCIM_JSON)
      .send(
        JSON.stringify(
          scimErrorBody(
            429,
            undefined,
            `too many requests without a valid SCIM bearer token from this address; retry in ${verdict.retryAfterSeconds} s`,
          ),
        ),
      );
  }
  await refused(deps, request, undefined, organization, refusal);
  return reply
    .code(401)
    .header('www-authenticate', 'Bearer realm="latchkey-scim"')
    .type(SCIM_JSON)
    .send(JSON.stringify(scimErrorBody(401, refusal.scimType, refusal.message)));
}

/** Every refusal is logged and audited (`scim_request_refused`), with what the client was told. */
async function refused(
  deps: ScimRouteDeps,
  request: ScimRequest,
  caller: ScimCaller | undefined,
  organization: string,
  refusal: ScimRefusal,
): Promise<void> {
  const reason = (refusal as ScimRefusal & { reason?: string }).reason;
  const details = {
    method: request.method,
    path: request.url.split('?')[0],
    status: refusal.status,
    scimType: refusal.scimType,
    detail: refusal.message,
    ...(caller ? { tokenId: caller.tokenId } : { organization, reason }),
  };
  request.log.info({ scim: details }, 'scim request refused');
  try {
    await deps.audit({
      action: 'scim_request_refused',
      outcome: 'failure',
      actor: caller ? `scim:${caller.tokenId}` : undefined,
      organizationId: caller?.organizationId,
      ip: request.ip,
      userAgent: request.headers['user-agent'],
      details,
    });
  } catch (error) {
    request.log.error({ err: error }, 'scim refusal not audited');
  }
}

function body(request: ScimRequest): unknown {
  const raw = typeof request.body === 'string' ? request.body : '';
  if (raw.trim() === '') throw scimSyntax('the request has no body');
  try {
    return JSON.parse(raw) as unknown;
  } catch (error) {
    throw scimSyntax(`the body is not valid JSON: ${(error as Error).message}`);
  }
}

const scimSyntax = (detail: string) => new ScimRefusal(400, 'invalidSyntax', detail);
const notFound = (detail: string) => new ScimRefusal(404, undefined, detail);

function dispatch(
  deps: ScimDeps,
  caller: ScimCaller,
  request: ScimRequest,
  path: string[],
): Promise<ScimResult> {
  const method = request.method;
  const query = request.query as ListQuery;
  const ifMatch = request.headers['if-match'];
  const [endpoint, id, ...rest] = path;
  if (rest.length > 0) throw notFound(`no SCIM endpoint ${request.url.split('?')[0]}`);
  const unsupported = () =>
    new ScimRefusal(405, undefined, `${method} is not supported on ${request.url.split('?')[0]}`);
  switch (endpoint) {
    case 'Users':
      if (id === undefined) {
        if (method === 'GET') return listUsers(deps, caller, query);
        if (method === 'POST') return createUser(deps, caller, body(request));
        throw unsupported();
      }
      if (method === 'GET') return getUser(deps, caller, id, query);
      if (method === 'PUT') return replaceUser(deps, caller, id, body(request), ifMatch);
      if (method === 'PATCH') return patchUser(deps, caller, id, body(request), ifMatch);
      if (method === 'DELETE') return deleteUser(deps, caller, id, ifMatch);
      throw unsupported();
    case 'Groups':
      if (id === undefined) {
        if (method === 'GET') return listGroups(deps, caller, query);
        if (method === 'POST') return createGroup(deps, caller, body(request));
        throw unsupported();
      }
      if (method === 'GET') return getGroup(deps, caller, id, query);
      if (method === 'PUT') return replaceGroup(deps, caller, id, body(request), ifMatch);
      if (method === 'PATCH') return patchGroup(deps, caller, id, body(request), ifMatch);
      if (method === 'DELETE') return deleteGroup(deps, caller, id, ifMatch);
      throw unsupported();
    case 'ServiceProviderConfig':
    case 'ResourceTypes':
    case 'Schemas':
      if (method !== 'GET') throw unsupported();
      if (endpoint === 'ServiceProviderConfig' && id !== undefined) throw notFound(`no ${endpoint}/${id}`);
      return discovery(caller, endpoint, id);
    default:
      throw notFound(`no SCIM endpoint ${request.url.split('?')[0]}`);
  }
}
