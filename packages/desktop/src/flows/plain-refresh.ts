import {
  createLocalJWKSet,
  type JSONWebKeySet,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import * as oauth from 'oauth4webapi';
import type { Context } from '../context.js';
import { REQUEST_TIMEOUT_MS } from '../context.js';
import { dpopProof, type StoredDpopKey } from '../dpop.js';
import { OAuthError, UnexpectedResponseError } from '../errors.js';
import { type HttpAnswer, httpExchange } from '../node-fetch.js';

/**
 * The refresh grant (RFC 6749 §6) of a silent sign-in as one node:http request, for an app that gave
 * the SDK no fetch of its own (`ctx.plainRequests`).
 *
 * Why not oauth4webapi's `refreshTokenGrantRequest`: it speaks WHATWG `Headers` and `Response`, and
 * touching either loads Node's fetch implementation (undici), ~28 ms of a desktop app's process
 * start, for one small form POST (bench/run.mjs, the SDK rows; a V8 profile of `latchkey-desktop
 * token` showed it as the largest single cost). The silent sign-in is what every app start runs, so
 * it gets this path; everything else (sign-in, device flow, sign-out, API calls) stays on
 * oauth4webapi.
 *
 * What stays with the libraries: the DPoP proof is signed by jose (dpop.ts `dpopProof`; the server's
 * nonce, RFC 9449 §8, is the one any answer of that server last carried, `ctx.dpopNonces`), the ID token's signature and claims are checked by
 * jose against the issuer's JWKS (the cache oauth4webapi fills and the SDK keeps on disk). What is
 * here is the glue, with the checks of oauth4webapi's `processRefreshTokenResponse`: the response's
 * members and their types, `token_type` Bearer or DPoP, and for an ID token OpenID Connect Core
 * §3.1.3.7 and §12.2 — `iss` the issuer, `aud` this client (with `azp` when there are several),
 * `exp`, `iat`, `sub`, a numeric `auth_time`. The caller checks `sub` against the stored account.
 */

export interface PlainRefreshRequest {
  refreshToken: string;
  resource?: string;
  scope?: string;
  /** The session's DPoP key; none for bearer tokens. */
  dpopKey?: StoredDpopKey | undefined;
}

export interface PlainRefreshResult {
  tokens: oauth.TokenEndpointResponse;
  /** The validated ID token's claims, when the response carried one. */
  claims?: oauth.IDToken;
}

export async function plainRefresh(
  ctx: Context,
  as: oauth.AuthorizationServer,
  request: PlainRefreshRequest,
): Promise<PlainRefreshResult> {
  const endpoint = as.token_endpoint;
  if (!endpoint) throw new UnexpectedResponseError('Token refresh: the server advertises no token endpoint');
  const url = secureUrl(ctx, endpoint, 'Token refresh: the token endpoint');
  const form = new URLSearchParams({
    grant_type: 'refresh_token',
    refresh_token: request.refreshToken,
    client_id: ctx.clientId,
  });
  if (request.resource) form.set('resource', request.resource);
  if (request.scope) form.set('scope', request.scope);
  const body = Buffer.from(form.toString());

  let answer = await post(ctx, url, body, request.dpopKey);
  // RFC 9449 §8: the server wants a nonce in the proof; its answer carried one (now kept).
  if (request.dpopKey && answer.status !== 200 && errorOf(answer)?.error === 'use_dpop_nonce')
    answer = await post(ctx, url, body, request.dpopKey);
  const tokens = tokenResponse(answer);
  if (tokens.id_token === undefined) return { tokens };
  return { tokens, claims: await verifiedIdToken(ctx, as, tokens.id_token) };
}

/** `value` as a URL, refused unless https (as oauth4webapi: plain http only for a loopback issuer). */
function secureUrl(ctx: Context, value: string, what: string): URL {
  const url = new URL(value);
  if (url.protocol !== 'https:' && ctx.http[oauth.allowInsecureRequests] !== true)
    throw new UnexpectedResponseError(`${what} is not https`, { reason: 'OAUTH_HTTP_REQUEST_FORBIDDEN' });
  return url;
}

/** What every request of this module sends: what it accepts, and the app's User-Agent. */
function headersFor(ctx: Context, accept: string): Record<string, string> {
  return { accept, ...(ctx.userAgent ? { 'user-agent': ctx.userAgent } : {}) };
}

async function post(
  ctx: Context,
  url: URL,
  body: Buffer,
  dpopKey: StoredDpopKey | undefined,
): Promise<HttpAnswer> {
  const headers = {
    ...headersFor(ctx, 'application/json'),
    'content-type': 'application/x-www-form-urlencoded;charset=UTF-8',
  } as Record<string, string>;
  if (dpopKey)
    headers.dpop = await dpopProof(ctx, dpopKey, {
      method: 'POST',
      url,
      nonce: ctx.dpopNonces.get(url.origin),
    });
  const answer = await httpExchange(url, {
    method: 'POST',
    headers,
    body,
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const nonce = headerOf(answer, 'dpop-nonce');
  if (nonce) ctx.dpopNonces.set(url.origin, nonce);
  return answer;
}

function headerOf(answer: HttpAnswer, name: string): string | null {
  const value = answer.headers[name.toLowerCase()];
  return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
}

function jsonOf(answer: HttpAnswer): unknown {
  try {
    return JSON.parse(answer.body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** An OAuth error response (RFC 6749 §5.2), if the answer is one. */
function errorOf(answer: HttpAnswer): { error: string; error_description?: string } | undefined {
  const json = jsonOf(answer) as { error?: unknown; error_description?: unknown } | undefined;
  if (!json || typeof json.error !== 'string' || !json.error) return undefined;
  return {
    error: json.error,
    ...(typeof json.error_description === 'string' ? { error_description: json.error_description } : {}),
  };
}

/** The token response (RFC 6749 §5.1) with every member checked, as oauth4webapi checks it. */
function tokenResponse(answer: HttpAnswer): oauth.TokenEndpointResponse {
  if (answer.status !== 200) {
    const error = errorOf(answer);
    if (error) throw new OAuthError(error.error, error.error_description, { status: answer.status });
    throw new UnexpectedResponseError(`Token refresh: unexpected HTTP status ${answer.status}`, {
      status: answer.status,
      reason: 'OAUTH_RESPONSE_IS_NOT_CONFORM',
    });
  }
  const json = jsonOf(answer);
  const invalid = (what: string) =>
    new UnexpectedResponseError(`Token refresh: ${what}`, { reason: 'OAUTH_INVALID_RESPONSE', status: 200 });
  if (!json || typeof json !== 'object' || Array.isArray(json))
    throw invalid('the response is not a JSON object');
  const body = json as Record<string, unknown>;
  if (typeof body.access_token !== 'string' || !body.access_token) throw invalid('no access_token');
  if (typeof body.token_type !== 'string' || !body.token_type) throw invalid('no token_type');
  const tokenType = body.token_type.toLowerCase();
  if (tokenType !== 'bearer' && tokenType !== 'dpop')
    throw new UnexpectedResponseError(`Token refresh: unsupported token_type ${body.token_type}`, {
      reason: 'OAUTH_UNSUPPORTED_OPERATION',
    });
  let expiresIn: number | undefined;
  if (body.expires_in !== undefined) {
    expiresIn =
      typeof body.expires_in === 'number' ? body.expires_in : Number.parseFloat(String(body.expires_in));
    if (!Number.isFinite(expiresIn) || expiresIn < 0) throw invalid('expires_in is not a number');
  }
  for (const member of ['refresh_token', 'id_token'] as const) {
    if (body[member] !== undefined && (typeof body[member] !== 'string' || !body[member]))
      throw invalid(`${member} is not a string`);
  }
  if (body.scope !== undefined && typeof body.scope !== 'string') throw invalid('scope is not a string');
  return {
    ...body,
    access_token: body.access_token,
    token_type: tokenType as Lowercase<string>,
    ...(expiresIn !== undefined ? { expires_in: expiresIn } : {}),
  } as oauth.TokenEndpointResponse;
}

/**
 * The ID token's signature (the issuer's JWKS, fetched again once when no cached key matches: the
 * server rotated its keys) and claims.
 */
async function verifiedIdToken(
  ctx: Context,
  as: oauth.AuthorizationServer,
  idToken: string,
): Promise<oauth.IDToken> {
  const algorithms = as.id_token_signing_alg_values_supported?.filter((alg) => alg !== 'none') ?? ['RS256'];
  const verify = (keys: JSONWebKeySet) =>
    jwtVerify(idToken, createLocalJWKSet(keys), {
      issuer: as.issuer,
      audience: ctx.clientId,
      algorithms,
      requiredClaims: ['iss', 'aud', 'exp', 'iat', 'sub'],
      clockTolerance: 30,
    });
  let payload: JWTPayload;
  try {
    const cached = (ctx.jwks as { jwks?: JSONWebKeySet }).jwks;
    try {
      if (!cached) throw new joseErrors.JWKSNoMatchingKey();
      ({ payload } = await verify(cached));
    } catch (error) {
      if (!(error instanceof joseErrors.JWKSNoMatchingKey)) throw error;
      ({ payload } = await verify(await fetchJwks(ctx, as)));
    }
  } catch (error) {
    if (error instanceof UnexpectedResponseError || error instanceof TypeError) throw error;
    throw new UnexpectedResponseError(
      `ID token signature: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error, reason: (error as { code?: string }).code },
    );
  }
  if (typeof payload.sub !== 'string' || !payload.sub)
    throw new UnexpectedResponseError('ID token: no subject', {
      reason: 'OAUTH_JWT_CLAIM_COMPARISON_FAILED',
    });
  if (Array.isArray(payload.aud) && payload.aud.length !== 1 && payload.azp !== ctx.clientId)
    throw new UnexpectedResponseError('ID token: issued to another party (azp)', {
      reason: 'OAUTH_JWT_CLAIM_COMPARISON_FAILED',
    });
  if (payload.auth_time !== undefined && typeof payload.auth_time !== 'number')
    throw new UnexpectedResponseError('ID token: auth_time is not a number', {
      reason: 'OAUTH_INVALID_RESPONSE',
    });
  return payload as oauth.IDToken;
}

/** The issuer's JWKS, fetched and kept in the client's cache (saved to disk with discovery). */
async function fetchJwks(ctx: Context, as: oauth.AuthorizationServer): Promise<JSONWebKeySet> {
  if (!as.jwks_uri)
    throw new UnexpectedResponseError('ID token signature: the server advertises no jwks_uri');
  const url = secureUrl(ctx, as.jwks_uri, 'ID token signature: the jwks_uri');
  const answer = await httpExchange(url, {
    method: 'GET',
    headers: headersFor(ctx, 'application/json, application/jwk-set+json'),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const json = answer.status === 200 ? (jsonOf(answer) as { keys?: unknown } | undefined) : undefined;
  if (!json || !Array.isArray(json.keys))
    throw new UnexpectedResponseError(
      `ID token signature: the JWKS answer is not a key set (HTTP ${answer.status})`,
      {
        status: answer.status,
      },
    );
  const keys = json as JSONWebKeySet;
  // The same cache object oauth4webapi reads and updates (context.ts persists it on a new `uat`).
  Object.assign(ctx.jwks, { jwks: keys, uat: Math.floor(Date.now() / 1000) });
  await ctx.saveJwks();
  return keys;
}
