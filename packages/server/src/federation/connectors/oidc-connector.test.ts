import { createServer, type Server, type Socket } from 'node:net';
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StandinIdp } from '../../../../standin-idp/src/index.js';
import { createOidcConnector, type OidcConnectorOptions } from './oidc-connector.js';
import {
  browseUpstream,
  CALLBACK_URL,
  CLIENT_ID,
  CLIENT_SECRET,
  signInThrough,
  startUpstream,
  TOTP_SECRET,
} from './test-support/upstream.js';
import { UpstreamError } from './types.js';

const TENANT = '3f6c1a52-8d0e-4b7a-9e21-6c5d4b3a2f10';

function connectorFor(idp: StandinIdp, extra: Partial<OidcConnectorOptions> = {}) {
  return createOidcConnector({
    id: 'conn-oidc',
    issuer: idp.issuer,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    ...extra,
  });
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('oidc connector, Entra mode', () => {
  let idp: StandinIdp;
  beforeAll(async () => {
    idp = await startUpstream({ profile: 'entra', tenantId: TENANT });
  });
  afterAll(() => idp.close());

  it('keys the account by tid:oid and trusts email only with xms_edov', async () => {
    const connector = connectorFor(idp, { entraTenantId: TENANT.toUpperCase() });
    const alice = await signInThrough(
      connector,
      { loginHint: 'alice@acme.test' },
      { password: 'alice-pw', totpSecret: TOTP_SECRET },
    );
    expect(alice).toMatchObject({
      connectionId: 'conn-oidc',
      subject: `${TENANT}:${idp.accountIdOf('alice@acme.test')}`,
      email: 'alice@acme.test',
      emailVerified: true,
      name: 'Alice Liddell',
      groups: ['eng'],
    });
    // Entra's own sub is pairwise (per application) and is not what we key by.
    expect(alice.raw.sub).not.toBe(alice.raw.oid);

    const unverified = await signInThrough(
      connector,
      { loginHint: 'unverified@acme.test' },
      { password: 'pw' },
    );
    expect(unverified.raw.email).toBe('unverified@acme.test');
    expect(unverified.email).toBeUndefined();
    expect(unverified.emailVerified).toBe(false);
  });

  it('refuses an account of another tenant', async () => {
    const connector = connectorFor(idp, { entraTenantId: '00000000-0000-4000-8000-000000000000' });
    await expect(
      signInThrough(connector, { loginHint: 'unverified@acme.test' }, { password: 'pw' }),
    ).rejects.toMatchObject({ code: 'wrong_tenant' });
  });

  it('revalidates with a rotating refresh token, then reports revoked for a disabled user', async () => {
    const connector = connectorFor(idp, { entraTenantId: TENANT });
    const identity = await signInThrough(
      connector,
      { loginHint: 'unverified@acme.test' },
      { password: 'pw' },
    );
    const first = await connector.revalidate?.(identity);
    expect(first?.status).toBe('valid');
    const rotated = first?.status === 'valid' ? first.upstreamRefreshToken : undefined;
    expect(rotated).toBeTruthy();
    expect(rotated).not.toBe(identity.upstreamRefreshToken);

    idp.setUserDisabled('unverified@acme.test', true);
    try {
      await expect(
        connector.revalidate?.({ subject: identity.subject, upstreamRefreshToken: rotated }),
      ).resolves.toEqual({ status: 'revoked' });
    } finally {
      idp.setUserDisabled('unverified@acme.test', false);
    }
  });
});

describe('oidc connector, generic', () => {
  let idp: StandinIdp;
  beforeAll(async () => {
    idp = await startUpstream({ profile: 'google' });
  });
  afterAll(() => idp.close());

  it('sends the configured scopes, prompt and extra params without letting them override the protocol', async () => {
    const connector = connectorFor(idp, {
      scopes: ['email', 'profile'],
      prompt: 'consent',
      extraParams: { ui_locales: 'fr', state: 'attacker', code_challenge_method: 'plain' },
    });
    const { started } = await browseUpstream(
      connector,
      { loginHint: 'alice@acme.test' },
      {
        password: 'alice-pw',
        totpSecret: TOTP_SECRET,
      },
    );
    expect(idp.requests.at(-1)?.params).toMatchObject({
      scope: 'openid email profile',
      prompt: 'consent',
      ui_locales: 'fr',
      state: started.pending.state,
      code_challenge_method: 'S256',
      login_hint: 'alice@acme.test',
    });
  });

  it('asks for prompt=login and max_age=0 when a fresh sign-in is required', async () => {
    const connector = connectorFor(idp, { prompt: 'none' });
    await signInThrough(
      connector,
      { forceAuthn: true },
      { email: 'alice@acme.test', password: 'alice-pw', totpSecret: TOTP_SECRET },
    );
    expect(idp.requests.at(-1)?.params).toMatchObject({ prompt: 'login', max_age: '0' });
  });

  it('sets email only when email_verified is true', async () => {
    const connector = connectorFor(idp);
    const identity = await signInThrough(
      connector,
      { loginHint: 'unverified@acme.test' },
      { password: 'pw' },
    );
    expect(identity.subject).toBe(idp.accountIdOf('unverified@acme.test'));
    expect(identity.email).toBeUndefined();
    expect(identity.emailVerified).toBe(false);
  });

  it('refuses a callback whose state does not match', async () => {
    const connector = connectorFor(idp);
    const { started, callbackUrl } = await browseUpstream(
      connector,
      { loginHint: 'unverified@acme.test' },
      {
        password: 'pw',
      },
    );
    const forged = new URL(callbackUrl);
    forged.searchParams.set('state', 'someone-elses-state');
    await expect(
      connector.finishSignIn({ callbackUrl: CALLBACK_URL, currentUrl: forged, pending: started.pending }),
    ).rejects.toMatchObject({ code: 'state_mismatch' });
    await expect(
      connector.finishSignIn({ callbackUrl: CALLBACK_URL, currentUrl: callbackUrl, pending: {} }),
    ).rejects.toMatchObject({ code: 'state_mismatch' });
  });

  it('maps Cancel at the IdP to access_denied', async () => {
    const connector = connectorFor(idp);
    const { started, callbackUrl } = await browseUpstream(
      connector,
      { loginHint: 'alice@acme.test' },
      {
        password: '',
        cancel: true,
      },
    );
    expect(callbackUrl.searchParams.get('error')).toBe('access_denied');
    await expect(
      connector.finishSignIn({
        callbackUrl: CALLBACK_URL,
        currentUrl: callbackUrl,
        pending: started.pending,
      }),
    ).rejects.toMatchObject({ code: 'access_denied' });
  });

  it('maps other upstream errors to invalid_response without echoing their description', async () => {
    const connector = connectorFor(idp);
    const started = await connector.startSignIn({ callbackUrl: CALLBACK_URL, state: 'st-1' });
    const currentUrl = new URL(CALLBACK_URL);
    currentUrl.search = new URLSearchParams({
      error: 'server_error',
      error_description: '<script>alert(1)</script> call +1-555-SCAM',
      state: 'st-1',
    }).toString();
    const failure = await connector
      .finishSignIn({ callbackUrl: CALLBACK_URL, currentUrl, pending: started.pending })
      .catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(UpstreamError);
    expect(failure).toMatchObject({ code: 'invalid_response' });
    expect((failure as UpstreamError).publicMessage).toContain('server_error');
    expect((failure as UpstreamError).publicMessage).not.toContain('SCAM');
  });

  it('refuses a code replayed into a second finish', async () => {
    const connector = connectorFor(idp);
    const { started, callbackUrl } = await browseUpstream(
      connector,
      { loginHint: 'unverified@acme.test' },
      {
        password: 'pw',
      },
    );
    const input = { callbackUrl: CALLBACK_URL, currentUrl: callbackUrl, pending: started.pending };
    await connector.finishSignIn(input);
    await expect(connector.finishSignIn(input)).rejects.toMatchObject({ code: 'invalid_response' });
  });

  /** A man in the middle of the token response rewrites the ID token. */
  function tamperingFetch(rewrite: (idToken: string) => Promise<string>): typeof fetch {
    return async (input, init) => {
      const response = await fetch(input, init);
      if (!String(input).endsWith('/token')) return response;
      const body = (await response.json()) as Record<string, string>;
      body.id_token = await rewrite(body.id_token ?? '');
      return new Response(JSON.stringify(body), {
        status: response.status,
        headers: { 'content-type': 'application/json' },
      });
    };
  }

  it.each([
    ['re-signed with a foreign key under the same kid', 'same-kid'],
    ['re-signed with a foreign key under an unknown kid', 'unknown-kid'],
    ['with one signature byte changed', 'flipped'],
  ])('refuses an ID token %s', async (_label, how) => {
    const attacker = await generateKeyPair('RS256');
    const rewrite = async (original: string) => {
      if (how === 'flipped') {
        const [header, payload, signature = ''] = original.split('.');
        const bytes = Buffer.from(signature, 'base64url');
        bytes[10] = (bytes[10] ?? 0) ^ 0xff;
        return `${header}.${payload}.${bytes.toString('base64url')}`;
      }
      const header = decodeProtectedHeader(original) as { alg: string; kid?: string };
      return new SignJWT({ ...decodeJwt(original), email_verified: true })
        .setProtectedHeader(how === 'same-kid' ? header : { ...header, kid: 'attacker' })
        .sign(attacker.privateKey);
    };
    const connector = connectorFor(idp, { fetch: tamperingFetch(rewrite) });
    await expect(
      signInThrough(connector, { loginHint: 'unverified@acme.test' }, { password: 'pw' }),
    ).rejects.toMatchObject({ code: 'invalid_signature' });
  });

  it('discovers once and reuses the result', async () => {
    let discoveries = 0;
    const counting: typeof fetch = (input, init) => {
      if (String(input).includes('/.well-known/openid-configuration')) discoveries++;
      return fetch(input, init);
    };
    const connector = connectorFor(idp, { fetch: counting });
    await Promise.all([
      connector.startSignIn({ callbackUrl: CALLBACK_URL, state: 'a' }),
      connector.startSignIn({ callbackUrl: CALLBACK_URL, state: 'b' }),
    ]);
    await connector.startSignIn({ callbackUrl: CALLBACK_URL, state: 'c' });
    expect(discoveries).toBe(1);
  });

  it('refuses a mutable claim as the account key, and a plain-http issuer off loopback', () => {
    expect(() => connectorFor(idp, { claims: { subject: 'email' } })).toThrow(/stable identifier/);
    expect(() => createOidcConnector({ id: 'x', issuer: 'http://idp.example.com', clientId: 'c' })).toThrow(
      /https/,
    );
  });
});

describe('oidc connector, upstream trouble', () => {
  let blackhole: Server;
  const sockets: Socket[] = [];
  let blackholePort = 0;
  beforeAll(async () => {
    // Accepts connections and never answers.
    blackhole = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
    blackholePort = (blackhole.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => blackhole.close(resolve));
  });

  it('reports an unreachable IdP quickly, and does not cache the failure', async () => {
    const port = await closedPort();
    const connector = createOidcConnector({ id: 'down', issuer: `http://127.0.0.1:${port}`, clientId: 'c' });
    const started = Date.now();
    await expect(connector.startSignIn({ callbackUrl: CALLBACK_URL, state: 's' })).rejects.toMatchObject({
      code: 'upstream_unreachable',
    });
    await expect(connector.startSignIn({ callbackUrl: CALLBACK_URL, state: 's' })).rejects.toMatchObject({
      code: 'upstream_unreachable',
    });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('gives up on an IdP that does not answer within the timeout', async () => {
    const connector = createOidcConnector({
      id: 'slow',
      issuer: `http://127.0.0.1:${blackholePort}`,
      clientId: 'c',
      timeoutMs: 300,
    });
    const started = Date.now();
    await expect(connector.startSignIn({ callbackUrl: CALLBACK_URL, state: 's' })).rejects.toMatchObject({
      code: 'upstream_timeout',
    });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('throws UpstreamError from revalidate when the IdP cannot be reached', async () => {
    const idp = await startUpstream({ profile: 'google' });
    const connector = createOidcConnector({
      id: 'later-down',
      issuer: idp.issuer,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
    });
    const identity = await signInThrough(
      connector,
      { loginHint: 'unverified@acme.test' },
      { password: 'pw' },
    );
    await idp.close();
    const failure = await connector.revalidate?.(identity).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(UpstreamError);
    expect(failure).toMatchObject({ code: 'upstream_unreachable' });
  });
});
