import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpSignIn } from '../../../../bench/lib.mjs';
import { baseEnv, buildServer, latchkey } from '../cli/test-support/run-latchkey.js';
import { SESSION_REVOKED_EVENT } from '../protocol/session-revoked-token.js';
import { testDatabaseKinds } from '../test-support/databases.js';
import { BASE_YAML, startTestServer, TEST_SECRET, type TestServer } from '../test-support/server.js';

/**
 * Live sign-out end to end on a real server: an app's access token holds `GET /session/events`
 * open; the admin CLI (another process), the account's own revocations and the engine's
 * revocation endpoint end the session, and the stream delivers a Security Event Token that
 * verifies offline against /jwks.
 */
const CLIENT = { clientId: 'acme-desktop', redirectUri: 'http://127.0.0.1/callback' };
const BOB = { email: 'bob@beta.test', password: 'correct horse battery staple' };
const CAROL = { email: 'carol@beta.test', password: "carol's long password" };

interface Tokens {
  access_token: string;
  refresh_token: string;
  id_token: string;
}

/** An open stream: its events as they arrive, and whether it ended. */
interface OpenStream {
  status: number;
  headers: Headers;
  text: () => string;
  events: { event: string; data: string; id?: string }[];
  /** Blocks that held only comment lines (heartbeats), after the opening one. */
  comments(): number;
  closed: Promise<void>;
  next(timeoutMs?: number): Promise<{ event: string; data: string }>;
  abort(): void;
}

async function openStream(issuer: string, token: string): Promise<OpenStream> {
  const controller = new AbortController();
  const response = await fetch(`${issuer}/session/events`, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
    signal: controller.signal,
  });
  let raw = '';
  let comments = 0;
  const events: OpenStream['events'] = [];
  const waiters: (() => void)[] = [];
  const closed = (async () => {
    if (!response.body) return;
    const decoder = new TextDecoder();
    try {
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        raw += decoder.decode(value, { stream: true });
        let at = raw.indexOf('\n\n');
        while (at !== -1) {
          const block = raw.slice(0, at);
          raw = raw.slice(at + 2);
          const fields = Object.fromEntries(
            block
              .split('\n')
              .filter((l) => l && !l.startsWith(':'))
              .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trimStart()]),
          );
          if (fields.event) events.push(fields as { event: string; data: string });
          else if (block.split('\n').every((l) => l.startsWith(':'))) comments += 1;
          for (const w of waiters.splice(0)) w();
          at = raw.indexOf('\n\n');
        }
      }
    } catch {
      // Aborted.
    }
    for (const w of waiters.splice(0)) w();
  })();
  return {
    status: response.status,
    headers: response.headers,
    text: () => raw,
    events,
    comments: () => Math.max(0, comments),
    closed,
    async next(timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (events.length === 0) {
        if (Date.now() > deadline) throw new Error('no event in time');
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
      return events.shift() as { event: string; data: string };
    },
    abort: () => controller.abort(),
  };
}

for (const kind of testDatabaseKinds()) {
  describe(`live sign-out stream (${kind})`, () => {
    let server: TestServer;
    let env: Record<string, string>;

    beforeAll(async () => {
      await buildServer();
      server = await startTestServer({ kind });
      env = baseEnv({ LATCHKEY_DATABASE_URL: server.config.databaseUrl, LATCHKEY_SECRET: TEST_SECRET });
    }, 240_000);
    afterAll(async () => {
      await server?.dispose();
    });

    const signIn = (who = BOB): Promise<Tokens> => httpSignIn(server.issuer, { ...CLIENT, ...who });

    async function verify(set: string) {
      const jwks = (await (await fetch(`${server.issuer}/jwks`)).json()) as JSONWebKeySet;
      return jwtVerify(set, createLocalJWKSet(jwks), {
        issuer: server.issuer,
        audience: CLIENT.clientId,
        typ: 'secevent+jwt',
      });
    }

    it('is advertised in the discovery metadata', async () => {
      const metadata = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as {
        session_events_endpoint?: string;
      };
      expect(metadata.session_events_endpoint).toBe(`${server.issuer}/session/events`);
    });

    it('refuses a request without a token, a malformed one and an unknown one, with WWW-Authenticate', async () => {
      const none = await fetch(`${server.issuer}/session/events`);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer realm="/);
      expect(none.headers.get('www-authenticate')).not.toContain('error=');

      const malformed = await fetch(`${server.issuer}/session/events`, {
        headers: { authorization: 'Bearer two words' },
      });
      expect(malformed.status).toBe(400);
      expect(malformed.headers.get('www-authenticate')).toContain('error="invalid_request"');

      const unknown = await fetch(`${server.issuer}/session/events`, {
        headers: { authorization: 'Bearer not-a-token-we-issued' },
      });
      expect(unknown.status).toBe(401);
      expect(unknown.headers.get('www-authenticate')).toContain('error="invalid_token"');
      expect(((await unknown.json()) as { error: string }).error).toBe('invalid_token');
    });

    it('refuses an ID token and a refresh token in place of an access token', async () => {
      const tokens = await signIn(CAROL);
      for (const token of [tokens.id_token, tokens.refresh_token]) {
        const response = await fetch(`${server.issuer}/session/events`, {
          headers: { authorization: `Bearer ${token}` },
        });
        expect(response.status).toBe(401);
        expect(response.headers.get('www-authenticate')).toContain('error="invalid_token"');
      }
    });

    it('an admin disable (the CLI, another process) reaches the app at once with a SET that verifies offline', async () => {
      const tokens = await signIn();
      const stream = await openStream(server.issuer, tokens.access_token);
      expect(stream.status).toBe(200);
      expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
      let event: { event: string; data: string };
      let elapsed: number;
      try {
        const result = await latchkey(['admin', 'users', 'disable', BOB.email], { cwd: process.cwd(), env });
        expect(result.code, result.stderr).toBe(0);
        // From the CLI's exit (its commit): the start of a Node process is not the server's doing.
        const committed = Date.now();
        event = await stream.next(5_000);
        elapsed = Date.now() - committed;
      } catch (error) {
        await latchkey(['admin', 'users', 'enable', BOB.email], { cwd: process.cwd(), env });
        throw error;
      }
      expect(event.event).toBe('session-revoked');
      expect(decodeProtectedHeader(event.data).typ).toBe('secevent+jwt');
      const { payload } = await verify(event.data);
      expect(payload.sub).toBeUndefined();
      expect(payload.sub_id).toEqual({ format: 'iss_sub', iss: server.issuer, sub: expect.any(String) });
      const body = (payload.events as Record<string, Record<string, unknown>>)[SESSION_REVOKED_EVENT];
      expect(body).toMatchObject({ initiating_entity: 'admin', latchkey_reason: 'user_disabled' });
      expect(typeof body?.event_timestamp).toBe('number');
      // The stream closes after the event.
      await stream.closed;
      expect(elapsed).toBeLessThan(2_000);
      // The token is gone with the session: reconnecting is refused.
      const again = await fetch(`${server.issuer}/session/events`, {
        headers: { authorization: `Bearer ${tokens.access_token}` },
      });
      expect(again.status).toBe(401);
      await latchkey(['admin', 'users', 'enable', BOB.email], { cwd: process.cwd(), env });
    }, 30_000);

    it('revoking the app’s refresh token ends its own stream only (grant revoked), not another app’s', async () => {
      const mine = await signIn();
      const other = await httpSignIn(server.issuer, {
        clientId: 'acme-meetings',
        redirectUri: 'http://127.0.0.1/callback',
        ...BOB,
      });
      const mineStream = await openStream(server.issuer, mine.access_token);
      const otherStream = await openStream(server.issuer, other.access_token);
      const revoked = await fetch(`${server.issuer}/token/revocation`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          token: mine.refresh_token,
          token_type_hint: 'refresh_token',
          client_id: CLIENT.clientId,
        }),
      });
      expect(revoked.status).toBe(200);
      const event = await mineStream.next(5_000);
      const { payload } = await verify(event.data);
      expect(
        (payload.events as Record<string, { latchkey_reason: string }>)[SESSION_REVOKED_EVENT],
      ).toMatchObject({
        latchkey_reason: 'grant_revoked',
      });
      // The other app's stream stays open (and quiet).
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect(otherStream.events).toEqual([]);
      // …until the admin revokes everything.
      const result = await latchkey(['admin', 'sessions', 'revoke', BOB.email], { cwd: process.cwd(), env });
      expect(result.code, result.stderr).toBe(0);
      const second = await otherStream.next(5_000);
      const verified = await jwtVerify(
        second.data,
        createLocalJWKSet((await (await fetch(`${server.issuer}/jwks`)).json()) as JSONWebKeySet),
        { issuer: server.issuer, audience: 'acme-meetings', typ: 'secevent+jwt' },
      );
      expect(
        (verified.payload.events as Record<string, { latchkey_reason: string }>)[SESSION_REVOKED_EVENT],
      ).toMatchObject({ latchkey_reason: 'sessions_revoked' });
    }, 30_000);

    it('a password reset through a reset link ends the app’s session', async () => {
      const tokens = await signIn(CAROL);
      const stream = await openStream(server.issuer, tokens.access_token);
      const link = await latchkey(['admin', 'users', 'reset-link', CAROL.email, '--json'], {
        cwd: process.cwd(),
        env: { ...env, LATCHKEY_ISSUER: server.issuer },
      });
      expect(link.code, link.stderr).toBe(0);
      const url = (JSON.parse(link.stdout) as { url: string }).url;
      const page = await fetch(url);
      const cookie = page.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; ');
      const html = await page.text();
      const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
      const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1]?.replaceAll('&amp;', '&') ?? url;
      const posted = await fetch(new URL(action, url), {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
        body: new URLSearchParams({
          _csrf: csrf,
          password: 'a brand new long password',
          confirm: 'a brand new long password',
        }),
      });
      expect(posted.status).toBeLessThan(400);
      const event = await stream.next(5_000);
      const { payload } = await verify(event.data);
      expect(
        (payload.events as Record<string, { latchkey_reason: string }>)[SESSION_REVOKED_EVENT],
      ).toMatchObject({
        latchkey_reason: 'password_reset',
        initiating_entity: 'user',
      });
    }, 30_000);
  });
}

describe('live sign-out stream: heartbeats and token expiry', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      yaml: `${BASE_YAML}lifetimes: { session_events_heartbeat: 1s, access_token: 4s }\n`,
    });
  }, 60_000);
  afterAll(async () => {
    await server?.dispose();
  });

  it('a quiet stream gets a heartbeat comment every interval, and closes (no event) once its token expired', async () => {
    const tokens = await httpSignIn(server.issuer, { ...CLIENT, ...CAROL });
    const opened = Date.now();
    const stream = await openStream(server.issuer, tokens.access_token);
    expect(stream.status).toBe(200);
    expect(stream.headers.get('cache-control')).toBe('no-store');
    expect(stream.headers.get('x-accel-buffering')).toBe('no');
    await new Promise((resolve) => setTimeout(resolve, 2_600));
    // The opening retry hint and comment, then one comment per second.
    expect(stream.text()).toBe('');
    expect(stream.events).toEqual([]);
    const beats = await heartbeatsSoFar(stream);
    expect(beats).toBeGreaterThanOrEqual(2);
    // The access token (4 s) expires: the stream ends at the next check, without an event.
    await stream.closed;
    expect(Date.now() - opened).toBeGreaterThanOrEqual(3_500);
    expect(stream.events).toEqual([]);
    // …and the expired token is refused.
    const again = await fetch(`${server.issuer}/session/events`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(again.status).toBe(401);
    expect(again.headers.get('www-authenticate')).toContain('error="invalid_token"');
  }, 30_000);
});

/** Comment blocks received so far (the reader keeps every block it parsed in `comments`). */
async function heartbeatsSoFar(stream: OpenStream): Promise<number> {
  return stream.comments();
}
