/**
 * A non-JavaScript client: Python authlib from Debian (`python3-authlib`, `/usr/bin/python3`), in
 * authlib-app.py, against a real Latchkey behind the TLS-terminating test proxy (authlib insists on
 * https; `requests` trusts the proxy's CA through REQUESTS_CA_BUNDLE). The app prints one JSON line
 * per step; the test plays the person in Chromium when the app asks for the browser.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queue } from '../support/harness.js';
import { ACCESS_TOKEN_SECONDS, CLIENT_IDS, type Interop, startInterop, USER } from './support/fixture.js';

const SUITE = 'interop-authlib';
const APP = fileURLToPath(new URL('./authlib-app.py', import.meta.url));
const PYTHON = process.env.LATCHKEY_TEST_PYTHON ?? '/usr/bin/python3';

type Step = { event: string } & Record<string, unknown>;

let interop: Interop;
let app: ChildProcess;
const steps = queue<Step>('step of the authlib app');
let stderr = '';
let exited: Promise<number | null>;

/** The app's next step; fails with its stderr when it printed an error or another step. */
async function step(event: string, timeoutMs = 30_000): Promise<Step> {
  const next = await steps.next(timeoutMs).catch((error: Error) => {
    throw new Error(`${error.message}\n${stderr}`);
  });
  if (next.event !== event) throw new Error(`expected ${event}, got ${JSON.stringify(next)}\n${stderr}`);
  return next;
}

beforeAll(async () => {
  interop = await startInterop({ tls: true });
  app = spawn(PYTHON, [APP, interop.issuer, CLIENT_IDS.authlib], {
    env: { ...process.env, ...interop.proxy?.childEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  exited = new Promise((resolve) =>
    app.on('close', (code) => {
      // A step still awaited fails at once, naming the exit, instead of waiting for its timeout.
      steps.push({ event: 'exited', code });
      resolve(code);
    }),
  );
  let buffer = '';
  app.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    for (let end = buffer.indexOf('\n'); end >= 0; end = buffer.indexOf('\n')) {
      const line = buffer.slice(0, end).trim();
      buffer = buffer.slice(end + 1);
      if (line) steps.push(JSON.parse(line) as Step);
    }
  });
  app.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
}, 180_000);

afterAll(async () => {
  app?.kill();
  await interop?.close();
});

describe('Python authlib (Debian)', () => {
  it('signs in over loopback on 127.0.0.1 (PKCE, ID token checked against the JWKS)', async () => {
    const { url } = await step('authorize');
    const authorize = new URL(url as string);
    expect(authorize.origin).toBe(interop.issuer);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    await interop.signIn(authorize.href, SUITE);

    const signedIn = await step('signed-in');
    expect(signedIn).toMatchObject({
      email: USER.email,
      // OpenID Connect's default for a client that registered no id_token_signed_response_alg.
      alg: 'RS256',
      expires_in: ACCESS_TOKEN_SECONDS,
      has_refresh_token: true,
      userinfo_status: 200,
      userinfo: { email: USER.email, name: USER.name },
    });
  });

  it('OAuth2Session refreshes on its own once the access token has expired', async () => {
    const refreshed = await step('refreshed');
    expect(refreshed).toMatchObject({
      expired_status: 401,
      updated: 1,
      new_access_token: true,
      rotated: true,
      userinfo_status: 200,
      email: USER.email,
    });
  });

  it('signs out by revoking the refresh token; it then refreshes no more', async () => {
    const signedOut = await step('signed-out');
    expect(signedOut).toMatchObject({ revocation_status: 200, refresh_after_revocation: 'invalid_grant' });
    expect(await exited, stderr).toBe(0);
  });
});
