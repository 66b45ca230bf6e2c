import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as oauth from 'oauth4webapi';
import { NetworkError, toLatchkeyError } from './errors.js';
import { nodeFetch } from './node-fetch.js';
import { shortHash } from './paths.js';
import { writeFileAtomic } from './stores/atomic-write.js';
import type { TokenStore } from './stores/token-store.js';

/** What every step of a flow needs; built once per client. */
export interface Context {
  readonly issuer: URL;
  readonly clientId: string;
  readonly store: TokenStore;
  readonly cacheDir: string;
  readonly scopes: string[];
  readonly resources: string[];
  /** Sign token requests with a DPoP key when the server supports it (RFC 9449). */
  readonly dpop: boolean;
  readonly client: oauth.Client;
  readonly clientAuth: oauth.ClientAuth;
  /**
   * Options of oauth4webapi's requests to the server's OAuth endpoints (discovery, token, revocation,
   * JWKS): the fetch (node-fetch.ts unless the app gave one), http for a loopback issuer.
   */
  readonly http: HttpOptions;
  /** The same for requests to the app's APIs and the live sign-out stream (the app's fetch or Node's). */
  readonly apiHttp: HttpOptions;
  /**
   * True when the app gave no fetch: the silent sign-in's refresh then goes over node:http itself
   * (flows/plain-refresh.ts), with no WHATWG fetch machinery loaded at all.
   */
  readonly plainRequests: boolean;
  /** The latest DPoP nonce (RFC 9449 §8) each server origin sent, from any answer. */
  readonly dpopNonces: Map<string, string>;
  /** The User-Agent every request names (user-agent.ts); oauth4webapi's own when unset. */
  readonly userAgent: string | undefined;
  /** Key of this issuer+client in the token store. */
  readonly storeKey: string;
  /** Prefix of this issuer+client's files in the cache directory. */
  readonly cachePrefix: string;
  metadata(): Promise<oauth.AuthorizationServer>;
  /** JWKS cache shared with oauth4webapi (it updates the object in place) and persisted on disk. */
  readonly jwks: oauth.JWKSCacheInput;
  saveJwks(): Promise<void>;
}

/** The oauth4webapi options every request gets. */
export interface HttpOptions {
  [oauth.customFetch]?: (url: string, init: RequestInit) => Promise<Response>;
  [oauth.allowInsecureRequests]?: boolean;
}

interface DiscoveryCacheFile {
  fetchedAt: number;
  metadata: oauth.AuthorizationServer;
  jwks?: oauth.ExportedJWKSCache;
}

export interface ContextOptions {
  issuer: string;
  clientId: string;
  store: TokenStore;
  cacheDir: string;
  scopes: string[];
  resources: string[];
  dpop?: boolean;
  fetch?: typeof fetch;
  discoveryMaxAgeSeconds: number;
  /** Sent on every request (user-agent.ts): how the server names this device. */
  userAgent?: string;
}

function isLoopbackHost(url: URL): boolean {
  return ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
}

/** Per-request timeout: a hung connection must not hang a desktop app forever. */
export const REQUEST_TIMEOUT_MS = 30_000;

export function requestOptions(ctx: Context): HttpOptions & { signal: () => AbortSignal } {
  return { ...ctx.http, signal: () => AbortSignal.timeout(REQUEST_TIMEOUT_MS) };
}

/** `requestOptions` for a request to one of the app's APIs. */
export function apiRequestOptions(ctx: Context): HttpOptions & { signal: () => AbortSignal } {
  return { ...ctx.apiHttp, signal: () => AbortSignal.timeout(REQUEST_TIMEOUT_MS) };
}

export async function createContext(options: ContextOptions): Promise<Context> {
  const issuer = new URL(options.issuer);
  const cachePrefix = join(options.cacheDir, shortHash(issuer.href, options.clientId));
  const discoveryFile = `${cachePrefix}.discovery.json`;
  const userFetch = options.fetch;
  const insecure: HttpOptions =
    // Plain http is allowed only for a loopback issuer (development and tests); anything else is https.
    issuer.protocol === 'http:' && isLoopbackHost(issuer) ? { [oauth.allowInsecureRequests]: true } : {};
  const dpopNonces = new Map<string, string>();
  /** oauth4webapi's options for requests sent with `send`, naming the app as the User-Agent. */
  const through = (
    send: (url: string, init: RequestInit) => Promise<Response>,
    keepNonces: boolean,
  ): HttpOptions => ({
    ...insecure,
    [oauth.customFetch]: async (url: string, init: RequestInit) => {
      let request = init;
      if (options.userAgent) {
        // oauth4webapi writes its own (`oauth4webapi/v3…`): the app's name replaces it.
        const headers = new Headers(init.headers);
        headers.set('user-agent', options.userAgent);
        request = { ...init, headers };
      }
      const response = await send(url, request);
      // The server's nonce, for the silent sign-in's plain request too (flows/plain-refresh.ts;
      // RFC 9449 §8). An API's nonces are its own business (oauth4webapi keeps them per handle).
      const nonce = keepNonces ? response.headers.get('dpop-nonce') : null;
      if (nonce) dpopNonces.set(new URL(url).origin, nonce);
      return response;
    },
  });
  // The server's own endpoints: the app's fetch, else one plain node:http request each (node-fetch.ts:
  // Node's fetch costs a process start ~40 ms before its first request). The app's APIs and the
  // live sign-out stream (bodies of any kind, streamed responses): the app's fetch, else Node's.
  const http = through(userFetch ?? nodeFetch, true);
  const apiHttp = through(userFetch ?? ((url, init) => fetch(url, init)), false);
  let cached: DiscoveryCacheFile | undefined;
  try {
    cached = JSON.parse(await readFile(discoveryFile, 'utf8')) as DiscoveryCacheFile;
    if (cached.metadata.issuer !== issuer.href && cached.metadata.issuer !== options.issuer)
      cached = undefined;
  } catch {
    cached = undefined;
  }
  const jwks: oauth.JWKSCacheInput = cached?.jwks ? { ...cached.jwks } : {};
  let metadata: Promise<oauth.AuthorizationServer> | undefined;
  let fetchedAt = cached?.fetchedAt ?? 0;
  let savedUat = cached?.jwks?.uat;

  const persist = async (value: oauth.AuthorizationServer) => {
    const file: DiscoveryCacheFile = { fetchedAt, metadata: value };
    if ('jwks' in jwks && jwks.jwks) file.jwks = { jwks: jwks.jwks, uat: jwks.uat };
    await writeFileAtomic(discoveryFile, JSON.stringify(file), 0o600).catch(() => {});
  };

  /**
   * OpenID Connect Discovery 1.0 §4 / RFC 8414 §3, cached on disk so that a later start needs no
   * request before the refresh, and an offline start can still tell "offline" from "signed out".
   */
  const discover = async (): Promise<oauth.AuthorizationServer> => {
    const fresh = cached && Date.now() - cached.fetchedAt < options.discoveryMaxAgeSeconds * 1000;
    if (cached && fresh) return cached.metadata;
    try {
      const response = await oauth.discoveryRequest(issuer, {
        ...http,
        algorithm: 'oidc',
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const value = await oauth.processDiscoveryResponse(issuer, response);
      fetchedAt = Date.now();
      cached = { fetchedAt, metadata: value };
      await persist(value);
      return value;
    } catch (error) {
      const failure = toLatchkeyError(error, 'Discovery');
      // A stale copy beats no copy when the network is down: the refresh will tell whether we are offline.
      if (failure instanceof NetworkError && cached) return cached.metadata;
      throw failure;
    }
  };

  return {
    issuer,
    clientId: options.clientId,
    store: options.store,
    cacheDir: options.cacheDir,
    scopes: options.scopes,
    resources: options.resources,
    dpop: options.dpop ?? true,
    client: { client_id: options.clientId, token_endpoint_auth_method: 'none' },
    clientAuth: oauth.None(),
    http,
    apiHttp,
    plainRequests: userFetch === undefined,
    dpopNonces,
    userAgent: options.userAgent,
    storeKey: `latchkey:${options.clientId}@${issuer.href}`,
    cachePrefix,
    metadata() {
      metadata ??= discover().catch((error) => {
        metadata = undefined;
        throw error;
      });
      return metadata;
    },
    jwks,
    async saveJwks() {
      // oauth4webapi bumps `uat` when it fetched the JWKS: only then is there something new to keep.
      const uat = 'uat' in jwks ? jwks.uat : undefined;
      if (cached && uat !== savedUat) {
        savedUat = uat;
        await persist(cached.metadata);
      }
    },
  };
}
