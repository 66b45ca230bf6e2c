import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { LiveSession, LiveSessions, SessionEnd } from '../domain/live-sessions.js';
import { type AccessTokenAuth, presentedToken } from '../protocol/access-token-auth.js';
import type { SessionRevokedSigner } from '../protocol/session-revoked-token.js';

/**
 * Live sign-out: `GET /session/events`, a Server-Sent Events stream (WHATWG HTML §9.2) that a
 * signed-in app holds open with its access token. The moment the app's session ends (anywhere in
 * the fleet: storage/session-ends.ts), it receives one `session-revoked` event whose data is a
 * Security Event Token (protocol/session-revoked-token.ts), and the stream closes.
 *
 * - Authentication: `Authorization: Bearer <access token>` (RFC 6750 §2.1), or `DPoP` for a
 *   DPoP-bound token once a proof verifier is supplied (protocol/access-token-auth.ts). Refusals are
 *   RFC 6750 §3 answers with `WWW-Authenticate`.
 * - Heartbeats: a comment line every `heartbeatMs`, so a proxy's idle timeout never cuts a quiet
 *   stream. One timer for all streams, not one per stream.
 * - The stream also closes when the access token expires (checked at each heartbeat) and when this
 *   process may have missed ends (its LISTEN connection was lost): the app reconnects with a fresh
 *   token, and a session that ended meanwhile is refused there (401) and found out by its refresh.
 */
export const SESSION_EVENTS_PATH = '/session/events';

export interface SessionEventsDeps {
  issuer: string;
  sessions: LiveSessions;
  authenticate: AccessTokenAuth;
  sign: SessionRevokedSigner;
  /** Default 25 s: below the usual proxy idle timeouts (nginx 60 s, AWS ALB 60 s). */
  heartbeatMs?: number;
  /** Streams one account may hold open on one process (each app, each window). Default 32. */
  maxStreamsPerAccount?: number;
}

/** One open stream: the smallest state that delivers its event (measured: bench/live-signout.mjs). */
interface Stream extends LiveSession {
  res: ServerResponse;
  expiresAt: number;
  unsubscribe(): void;
}

/** The stream's reconnection delay for EventSource-style clients (`retry:`), milliseconds. */
const RETRY_MS = 2_000;

export interface SessionEventsRoute {
  register(app: FastifyInstance): void;
  /** Ends of sessions from the feed. */
  deliver(end: SessionEnd): number;
  /** Ends may have been missed: every stream closes, and its app reconnects (and is checked again). */
  closeAll(): void;
  /** Stops the heartbeat timer and closes every stream (shutdown). */
  stop(): void;
}

export function createSessionEventsRoute(deps: SessionEventsDeps): SessionEventsRoute {
  const heartbeatMs = deps.heartbeatMs ?? 25_000;
  const maxPerAccount = deps.maxStreamsPerAccount ?? 32;
  const perAccount = new Map<string, number>();
  const streams = new Set<Stream>();

  const close = (stream: Stream) => {
    stream.unsubscribe();
    if (!streams.delete(stream)) return;
    const left = (perAccount.get(stream.accountId) ?? 1) - 1;
    if (left > 0) perAccount.set(stream.accountId, left);
    else perAccount.delete(stream.accountId);
    if (!stream.res.writableEnded) stream.res.end();
  };

  const heartbeat = setInterval(() => {
    const now = Date.now();
    for (const stream of streams) {
      if (stream.expiresAt <= now) close(stream);
      else stream.res.write(':\n\n');
    }
  }, heartbeatMs);
  heartbeat.unref();

  function ended(this: Stream, end: SessionEnd) {
    deps
      .sign({ issuer: deps.issuer, clientId: this.clientId, end })
      .then((set) => {
        if (!this.res.writableEnded)
          this.res.write(`event: session-revoked\nid: ${end.id}\ndata: ${set}\n\n`);
      })
      .catch(() => {
        // Without a signed event the app still learns by its refresh: the stream just closes.
      })
      .finally(() => close(this));
  }

  const refuse = (
    reply: FastifyReply,
    status: 400 | 401 | 429,
    error?: { code: string; description: string; dpop?: boolean },
  ) => {
    // RFC 6750 §3: no error attributes when the request carried no credentials at all (§3.1).
    const challenge = error
      ? `${error.dpop ? 'DPoP algs="ES256 EdDSA RS256 PS256", ' : 'Bearer '}realm="${deps.issuer}", error="${error.code}", error_description="${error.description}"`
      : `Bearer realm="${deps.issuer}"`;
    if (status !== 429) reply.header('www-authenticate', challenge);
    reply.header('cache-control', 'no-store');
    return reply
      .code(status)
      .send(error ? { error: error.code, error_description: error.description } : { error: 'invalid_token' });
  };

  async function handler(request: FastifyRequest, reply: FastifyReply) {
    const presented = presentedToken(request.headers.authorization);
    if (presented === undefined) return refuse(reply, 401);
    if (presented === 'malformed')
      return refuse(reply, 400, { code: 'invalid_request', description: 'malformed Authorization header' });
    const verdict = await deps.authenticate(presented, {
      method: request.method,
      url: `${deps.issuer}${request.url}`,
      headers: request.headers,
    });
    if (!verdict.ok) {
      request.log.info({ reason: verdict.description }, 'session events stream refused');
      return refuse(reply, 401, {
        code: verdict.error,
        description: verdict.description,
        dpop: verdict.dpop,
      });
    }
    const { holder } = verdict;
    const open = perAccount.get(holder.accountId) ?? 0;
    if (open >= maxPerAccount)
      return refuse(reply, 429, { code: 'too_many_streams', description: 'too many open streams' });

    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      // nginx buffers proxied responses unless told not to; an event must not wait in a buffer.
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
    });
    res.write(`retry: ${RETRY_MS}\n:\n\n`);
    res.socket?.setNoDelay(true);
    res.socket?.setKeepAlive(true, heartbeatMs);

    const stream: Stream = {
      accountId: holder.accountId,
      clientId: holder.clientId,
      grantId: holder.grantId,
      expiresAt: holder.expiresAt,
      res,
      // Called as the stream's method (`session.ended(end)`): one function for every stream.
      ended,
      unsubscribe: () => {},
    };
    stream.unsubscribe = deps.sessions.add(stream);
    streams.add(stream);
    perAccount.set(holder.accountId, open + 1);
    res.once('close', () => close(stream));
  }

  return {
    register(app) {
      app.get(SESSION_EVENTS_PATH, handler);
      // Hijacked streams would keep the server's close waiting for ever.
      app.addHook('preClose', async () => {
        for (const stream of [...streams]) close(stream);
      });
    },
    deliver: (end) => deps.sessions.deliver(end),
    closeAll() {
      for (const stream of [...streams]) close(stream);
    },
    stop() {
      clearInterval(heartbeat);
      for (const stream of [...streams]) close(stream);
    },
  };
}
