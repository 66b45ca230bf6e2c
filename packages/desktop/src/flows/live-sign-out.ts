import { networkInterfaces } from 'node:os';
import { createLocalJWKSet, type JSONWebKeySet, type JWTPayload, jwtVerify } from 'jose';
import * as oauth from 'oauth4webapi';
import type { Context } from '../context.js';
import { dpopOptions, type StoredDpopKey, serverSupportsDpop, withNonceRetry } from '../dpop.js';
import { InteractionRequiredError } from '../errors.js';
import { acquireFileLock } from '../lock.js';
import { clearSession, readHint, readSession } from '../session.js';
import type { AccessTokenCache } from './access-token-cache.js';
import { readEventStream } from './event-stream.js';

/**
 * Live sign-out: while the app listens for `signed-out`, the SDK holds the server's session events
 * stream (`session_events_endpoint` in the discovery metadata; Server-Sent Events) open with the
 * app's access token. When the person's session ends anywhere (an administrator disabled them,
 * they signed out everywhere, their password was reset, this app's access was revoked), the server
 * sends a signed Security Event Token (RFC 8417, the Shared Signals CAEP `session-revoked` event):
 * the SDK verifies it against the server's published keys, clears the stored sign-in and tells
 * the app, with the reason and the login hint for the next sign-in.
 *
 * Without the stream (an older server, a proxy that refuses it, no network) the app finds out at
 * the next refresh, as before: a refresh refused with `invalid_grant` also emits `signed-out`
 * (`verified: false`).
 */

/** The CAEP event type (OpenID Continuous Access Evaluation Profile 1.0, §3.1). */
export const SESSION_REVOKED_EVENT = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';

/** What {@link LatchkeyClient.on} `'signed-out'` listeners receive. */
export interface SignedOutEvent {
  /**
   * Why: `user_disabled`, `sessions_revoked`, `signed_out_everywhere`, `grant_revoked`,
   * `password_changed`, `password_reset`, `two_step_reset`, `upstream_revoked`,
   * `refresh_token_reuse` (from the server's event), or `refresh_rejected` when the SDK found out
   * by a refused refresh (no event).
   */
  reason: string;
  /** CAEP `initiating_entity`: `admin`, `user`, `policy` or `system`, when the server said. */
  initiatingEntity?: string;
  /** A sentence for the person (CAEP `reason_user`, English), when the server sent one. */
  message?: string;
  /** The email to pre-fill at the next sign-in (`signIn({ loginHint })`). */
  loginHint?: string;
  /** When the session ended. */
  at: Date;
  /** True when a signed event from the server said so (verified against its JWKS). */
  verified: boolean;
  /** The Security Event Token itself (a JWT), when there was one. */
  token?: string;
}

export type SignedOutListener = (event: SignedOutEvent) => void;

/** How the watcher is doing, for apps that show it (and tests). */
export type LiveSignOutState = 'idle' | 'connecting' | 'connected' | 'unavailable' | 'waiting';

export interface LiveSignOutDeps {
  ctx: Context;
  cache: AccessTokenCache;
  lockPath: string;
  /** The client's own access token (refreshed when due). */
  getAccessToken(options?: { forceRefresh?: boolean }): Promise<string>;
  emit(event: SignedOutEvent): void;
  /** Back-off bounds, milliseconds (tests shorten them). */
  minRetryMs?: number;
  maxRetryMs?: number;
  /** A stream silent for this long is taken for dead (the server sends heartbeats every 25 s). */
  idleTimeoutMs?: number;
  /** How often the network interfaces are compared, to reconnect at once after a change. */
  networkCheckMs?: number;
}

export interface LiveSignOut {
  start(): void;
  stop(): void;
  /**
   * The client holds a live sign-in (a refresh succeeded, or `interactive`: a new sign-in, whose
   * new grant needs a new stream): the next end is told again, and a waiting watcher connects now.
   */
  signedIn(interactive: boolean): void;
  /** A refresh was refused (`invalid_grant`): tell the app, once per sign-in. */
  refreshRejected(loginHint: string | undefined): void;
  state(): LiveSignOutState;
}

/** RFC 8417 §2.3; the server refuses nothing else, the SDK accepts nothing else. */
const SET_TYPE = 'secevent+jwt';

function networkFingerprint(): string {
  const all = networkInterfaces();
  return Object.keys(all)
    .sort()
    .map((name) => `${name}=${(all[name] ?? []).map((a) => a.address).join(',')}`)
    .join(';');
}

export function createLiveSignOut(deps: LiveSignOutDeps): LiveSignOut {
  const { ctx } = deps;
  const minRetry = deps.minRetryMs ?? 1_000;
  const maxRetry = deps.maxRetryMs ?? 60_000;
  const idleTimeout = deps.idleTimeoutMs ?? 70_000;
  const doFetch = (url: string, init: RequestInit): Promise<Response> =>
    ctx.apiHttp[oauth.customFetch]?.(url, init) ?? fetch(url, init);
  const streamWithProof = async (
    endpoint: string,
    token: string,
    key: StoredDpopKey,
    signal: AbortSignal,
  ): Promise<Response> => {
    const dpop = await dpopOptions(ctx, key);
    const headers = new Headers({ accept: 'text/event-stream', 'cache-control': 'no-store' });
    try {
      return await withNonceRetry(() =>
        oauth.protectedResourceRequest(token, 'GET', new URL(endpoint), headers, null, {
          ...ctx.apiHttp,
          ...dpop,
          signal,
        } as oauth.ProtectedResourceRequestOptions),
      );
    } catch (error) {
      // The server's challenge (a 401): the caller reads the response as it reads a bearer one's.
      if (error instanceof oauth.WWWAuthenticateChallengeError) return error.response;
      throw error;
    }
  };

  let running = false;
  let state: LiveSignOutState = 'idle';
  let retryMs = minRetry;
  let current: AbortController | undefined;
  let wake: (() => void) | undefined;
  let loop: Promise<void> | undefined;
  let netTimer: NodeJS.Timeout | undefined;
  let network = '';
  /** The app was told of the end of the current sign-in: one event per sign-in. */
  let told = false;
  let jwks: JSONWebKeySet | undefined;
  /** The last connection was refused (401) and the token refreshed since. */
  let refreshedAfter401 = false;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref?.();
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });

  const backoff = async () => {
    state = state === 'unavailable' ? 'unavailable' : 'waiting';
    // Full jitter: a fleet restart must not bring every app back in the same second.
    await sleep(retryMs / 2 + Math.random() * (retryMs / 2));
    retryMs = Math.min(retryMs * 2, maxRetry);
  };

  const tell = (event: SignedOutEvent) => {
    if (told) return;
    told = true;
    deps.emit(event);
  };

  const keys = async (as: oauth.AuthorizationServer, refetch: boolean) => {
    if (!jwks || refetch) {
      if (!as.jwks_uri) throw new Error('no jwks_uri');
      const response = await doFetch(as.jwks_uri, { headers: { accept: 'application/json' } });
      if (!response.ok) throw new Error(`jwks: ${response.status}`);
      jwks = (await response.json()) as JSONWebKeySet;
    }
    return createLocalJWKSet(jwks);
  };

  /** The SET, verified: issuer, audience (this app), type, the stored account as subject. */
  const verify = async (as: oauth.AuthorizationServer, token: string, subject: string) => {
    const options = { issuer: as.issuer, audience: ctx.clientId, typ: SET_TYPE };
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, await keys(as, false), options));
    } catch {
      // A key that rotated in after our copy of the JWKS: fetch it once more.
      ({ payload } = await jwtVerify(token, await keys(as, true), options));
    }
    const subId = payload.sub_id as { format?: unknown; sub?: unknown; iss?: unknown } | undefined;
    if (subId?.format !== 'iss_sub' || subId.sub !== subject || subId.iss !== as.issuer)
      throw new Error('the event is about another subject');
    const body = (payload.events as Record<string, Record<string, unknown>> | undefined)?.[
      SESSION_REVOKED_EVENT
    ];
    if (!body) throw new Error('not a session-revoked event');
    return body;
  };

  /** The server said the session ended: check, clear the store, tell the app. */
  const revoked = async (as: oauth.AuthorizationServer, token: string) => {
    const session = await readSession(ctx);
    if (!session) return;
    let body: Record<string, unknown>;
    try {
      body = await verify(as, token, session.account.subject);
    } catch {
      // Not verifiable: not trusted to sign the app out; the server's verdict at a refresh decides.
      await deps.getAccessToken({ forceRefresh: true }).catch(() => {});
      return;
    }
    const lock = await acquireFileLock(deps.lockPath).catch(() => undefined);
    try {
      const stored = await readSession(ctx);
      // Only the sign-in the event was about: a newer one (signed in again meanwhile) stays.
      if (stored?.refreshToken === session.refreshToken) await clearSession(ctx);
      deps.cache.clear();
    } finally {
      await lock?.release();
    }
    const reason = typeof body.latchkey_reason === 'string' ? body.latchkey_reason : 'session_revoked';
    const message = (body.reason_user as { en?: unknown } | undefined)?.en;
    const at = typeof body.event_timestamp === 'number' ? new Date(body.event_timestamp * 1000) : new Date();
    const loginHint = session.account.email ?? (await readHint(ctx));
    tell({
      reason,
      ...(typeof body.initiating_entity === 'string' ? { initiatingEntity: body.initiating_entity } : {}),
      ...(typeof message === 'string' ? { message } : {}),
      ...(loginHint ? { loginHint } : {}),
      at,
      verified: true,
      token,
    });
  };

  /** One connection: resolves when it ends (for any reason), after handling what it delivered. */
  const connectOnce = async (): Promise<'retry' | 'now' | 'signed-out' | 'no-session' | 'unavailable'> => {
    const session = await readSession(ctx);
    if (!session) return 'no-session';
    let as: oauth.AuthorizationServer;
    try {
      as = await ctx.metadata();
    } catch {
      return 'retry';
    }
    const endpoint = (as as { session_events_endpoint?: unknown }).session_events_endpoint;
    if (typeof endpoint !== 'string') return 'unavailable';
    let token: string;
    try {
      token = await deps.getAccessToken();
    } catch (error) {
      if (error instanceof InteractionRequiredError) return 'signed-out';
      return 'retry';
    }
    const controller = new AbortController();
    current = controller;
    state = 'connecting';
    let response: Response;
    // A session with a DPoP key holds DPoP-bound tokens: the stream request carries a proof of the
    // key (RFC 9449 §7.1), as every API request of the session does (flows/api-fetch.ts).
    const key = session.dpopKey && serverSupportsDpop(as) ? session.dpopKey : undefined;
    try {
      response = key
        ? await streamWithProof(endpoint, token, key, controller.signal)
        : await doFetch(endpoint, {
            headers: {
              authorization: `Bearer ${token}`,
              accept: 'text/event-stream',
              'cache-control': 'no-store',
            },
            signal: controller.signal,
          });
    } catch {
      return 'retry';
    }
    if (response.status === 401) {
      await response.body?.cancel().catch(() => {});
      // A DPoP-bound token (RFC 9449) needs a proof with every request: until the stream sends
      // one, it is unavailable to this app, which learns of a sign-out at its refresh.
      if (/^DPoP\b/i.test(response.headers.get('www-authenticate') ?? '')) return 'unavailable';
      // A fresh token refused as well: not a stale token; wait (never spend refresh tokens in a loop).
      if (refreshedAfter401) return 'retry';
      refreshedAfter401 = true;
      // The token is no longer good: expired early, or the session ended while we were away. The
      // refresh tells which (and a refused refresh is the sign-out, found out the old way).
      try {
        await deps.getAccessToken({ forceRefresh: true });
        return 'now';
      } catch (error) {
        return error instanceof InteractionRequiredError ? 'signed-out' : 'retry';
      }
    }
    if (
      !response.ok ||
      !response.body ||
      !response.headers.get('content-type')?.startsWith('text/event-stream')
    ) {
      await response.body?.cancel().catch(() => {});
      return response.status === 404 || response.status === 405 ? 'unavailable' : 'retry';
    }
    state = 'connected';
    refreshedAfter401 = false;
    const connectedAt = Date.now();
    let lastActivity = Date.now();
    const watchdog = setInterval(
      () => {
        if (Date.now() - lastActivity > idleTimeout) controller.abort();
      },
      Math.min(idleTimeout, 5_000),
    );
    watchdog.unref?.();
    let event: string | undefined;
    try {
      await readEventStream(
        response.body,
        {
          onActivity: () => {
            lastActivity = Date.now();
          },
          onEvent: (e) => {
            if (e.event !== 'session-revoked') return false;
            event = e.data;
            return true;
          },
        },
        controller.signal,
      );
    } catch {
      // Aborted (event, watchdog, network change, stop) or the connection failed.
    } finally {
      clearInterval(watchdog);
      current = undefined;
    }
    if (event) {
      await revoked(as, event);
      return (await readSession(ctx)) ? 'now' : 'no-session';
    }
    // A stream that stayed up a while was healthy: the next failure starts the back-off afresh.
    if (Date.now() - connectedAt > 30_000) retryMs = minRetry;
    return 'retry';
  };

  const run = async () => {
    while (running) {
      const outcome = await connectOnce().catch(() => 'retry' as const);
      if (!running) break;
      if (outcome === 'now') continue;
      // 'signed-out': the refresh was refused; the client told the app (refreshRejected).
      if (outcome === 'signed-out' || outcome === 'no-session') {
        state = 'idle';
        // Until a sign-in wakes us (signedIn()), or another process of the app signs in.
        await sleep(maxRetry);
      } else if (outcome === 'unavailable') {
        // An older server without the stream: the app finds out at its next refresh, as before.
        state = 'unavailable';
        retryMs = maxRetry;
        await backoff();
      } else {
        await backoff();
      }
    }
    state = 'idle';
  };

  return {
    start() {
      if (running) return;
      running = true;
      retryMs = minRetry;
      network = networkFingerprint();
      netTimer = setInterval(() => {
        const now = networkFingerprint();
        if (now === network) return;
        network = now;
        // A new network: the old connection may be dead without knowing it, and a waiting
        // reconnect should not wait out its back-off.
        retryMs = minRetry;
        current?.abort();
        wake?.();
      }, deps.networkCheckMs ?? 5_000);
      netTimer.unref?.();
      loop = run();
    },
    stop() {
      running = false;
      if (netTimer) clearInterval(netTimer);
      current?.abort();
      wake?.();
      void loop;
    },
    signedIn(interactive) {
      told = false;
      if (!interactive && state === 'connected') return;
      retryMs = minRetry;
      if (interactive) current?.abort();
      wake?.();
    },
    refreshRejected(loginHint) {
      tell({
        reason: 'refresh_rejected',
        at: new Date(),
        verified: false,
        ...(loginHint ? { loginHint } : {}),
      });
    },
    state: () => state,
  };
}
