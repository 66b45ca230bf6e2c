import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeadlessSignInError, signInHeadless } from './headless.js';
import { type StandinIdp, startStandinIdp } from './standin-idp.js';

const REDIRECT = 'http://127.0.0.1:9/callback';
const TOTP = 'JBSWY3DPEHPK3PXP';
const users = [
  { email: 'alice@acme.test', password: 'alice-pw', totpSecret: TOTP, name: 'Alice', groups: ['eng'] },
  { email: 'bob@acme.test', password: 'bob-pw', emailVerified: false },
  { email: 'carol@gmail.test', password: 'carol-pw', hd: '' },
];
const clients = [{ client_id: 'latchkey', client_secret: 's3cret', redirect_uris: [REDIRECT] }];

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function authorizationUrl(idp: StandinIdp, params: Record<string, string>): URL {
  const url = new URL('/auth', idp.issuer);
  url.search = new URLSearchParams({
    client_id: 'latchkey',
    response_type: 'code',
    redirect_uri: REDIRECT,
    scope: 'openid email profile',
    state: 'st',
    nonce: 'n0',
    ...params,
  }).toString();
  return url;
}

async function token(idp: StandinIdp, body: Record<string, string>) {
  const response = await fetch(new URL('/token', idp.issuer), {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from('latchkey:s3cret').toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, string> };
}

function payload(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8'));
}

async function signInAndExchange(idp: StandinIdp, email: string, password: string, totpSecret?: string) {
  const { verifier, challenge } = pkce();
  const url = authorizationUrl(idp, {
    login_hint: email,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  const result = await signInHeadless(url, { password, totpSecret });
  expect(result.params.error).toBeUndefined();
  const code = result.params.code ?? '';
  const tokens = await token(idp, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT,
    code_verifier: verifier,
  });
  expect(tokens.status).toBe(200);
  return { result, tokens: tokens.body, claims: payload(tokens.body.id_token ?? '') };
}

describe('stand-in Google IdP', () => {
  let idp: StandinIdp;
  beforeAll(async () => {
    idp = await startStandinIdp({ users, clients, profile: 'google' });
  });
  afterAll(() => idp.close());

  it('serves discovery and a JWKS with RS256 and ES256 keys', async () => {
    const discovery = (await (
      await fetch(new URL('/.well-known/openid-configuration', idp.issuer))
    ).json()) as Record<string, unknown>;
    expect(discovery.issuer).toBe(idp.issuer);
    expect(discovery.code_challenge_methods_supported).toEqual(['S256']);
    const jwks = (await (await fetch(String(discovery.jwks_uri))).json()) as {
      keys: { alg: string; d?: string }[];
    };
    expect(jwks.keys.map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
    expect(jwks.keys.every((k) => k.d === undefined)).toBe(true);
  });

  it('skips to the password page for a hinted user, asks for 2SV, and issues Google-like claims', async () => {
    const { result, claims, tokens } = await signInAndExchange(idp, 'alice@acme.test', 'alice-pw', TOTP);
    expect(result.steps).toEqual(['password', 'totp']);
    expect(result.params.state).toBe('st');
    expect(claims).toMatchObject({
      iss: idp.issuer,
      aud: 'latchkey',
      sub: idp.accountIdOf('alice@acme.test'),
      email: 'alice@acme.test',
      email_verified: true,
      name: 'Alice',
      hd: 'acme.test',
      nonce: 'n0',
    });
    expect(claims.sub).toMatch(/^\d{21}$/);
    expect(claims.groups).toBeUndefined();
    expect(tokens.refresh_token).toBeTruthy();
  });

  it('records authorization requests and serves them as JSON', async () => {
    const url = authorizationUrl(idp, { login_hint: 'bob@acme.test', hd: 'acme.test', prompt: 'login' });
    await signInHeadless(url, { password: 'bob-pw' });
    const last = idp.requests.at(-1);
    expect(last?.params).toMatchObject({
      login_hint: 'bob@acme.test',
      hd: 'acme.test',
      prompt: 'login',
      nonce: 'n0',
    });
    const served = (await (await fetch(new URL('/__standin/requests', idp.issuer))).json()) as unknown[];
    expect(served).toEqual(JSON.parse(JSON.stringify(idp.requests)));
  });

  it('shows the email page first without a hint, and omits hd when told', async () => {
    const { verifier, challenge } = pkce();
    const url = authorizationUrl(idp, { code_challenge: challenge, code_challenge_method: 'S256' });
    const result = await signInHeadless(url, { email: 'carol@gmail.test', password: 'carol-pw' });
    expect(result.steps).toEqual(['email', 'password']);
    const tokens = await token(idp, {
      grant_type: 'authorization_code',
      code: result.params.code ?? '',
      redirect_uri: REDIRECT,
      code_verifier: verifier,
    });
    const claims = payload(tokens.body.id_token ?? '');
    expect(claims.email).toBe('carol@gmail.test');
    expect('hd' in claims).toBe(false);
  });

  it('reports email_verified=false for an unverified user', async () => {
    const { claims } = await signInAndExchange(idp, 'bob@acme.test', 'bob-pw');
    expect(claims.email_verified).toBe(false);
  });

  it('shows an error for a wrong password and a wrong code', async () => {
    await expect(
      signInHeadless(authorizationUrl(idp, { login_hint: 'alice@acme.test' }), { password: 'nope' }),
    ).rejects.toMatchObject({ step: 'password', message: 'Wrong password. Try again.' });
    const wrongCode = signInHeadless(authorizationUrl(idp, { login_hint: 'alice@acme.test' }), {
      password: 'alice-pw',
      code: '000000',
    });
    await expect(wrongCode).rejects.toBeInstanceOf(HeadlessSignInError);
    await expect(wrongCode).rejects.toMatchObject({ step: 'totp', message: 'Wrong code. Try again.' });
  });

  it('ends the interaction with access_denied on Cancel', async () => {
    const result = await signInHeadless(authorizationUrl(idp, { login_hint: 'alice@acme.test' }), {
      password: '',
      cancel: true,
    });
    expect(result.callbackUrl.origin + result.callbackUrl.pathname).toBe(REDIRECT);
    expect(result.params).toMatchObject({ error: 'access_denied', state: 'st' });
  });

  it('refreshes, and refuses the refresh token of a disabled user with invalid_grant', async () => {
    const { tokens } = await signInAndExchange(idp, 'carol@gmail.test', 'carol-pw');
    const refreshed = await token(idp, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token ?? '',
    });
    expect(refreshed.status).toBe(200);
    // Google does not rotate refresh tokens.
    expect(refreshed.body.refresh_token ?? tokens.refresh_token).toBe(tokens.refresh_token);
    const disable = await fetch(new URL('/__standin/users', idp.issuer), {
      method: 'POST',
      body: JSON.stringify({ email: 'carol@gmail.test', disabled: true }),
    });
    expect(disable.status).toBe(204);
    const refused = await token(idp, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token ?? '',
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_grant');
    idp.setUserDisabled('carol@gmail.test', false);
  });
});

describe('stand-in Entra IdP', () => {
  let idp: StandinIdp;
  const tenantId = '11111111-2222-4333-8444-555555555555';
  beforeAll(async () => {
    idp = await startStandinIdp({ users, clients, profile: 'entra', tenantId });
  });
  afterAll(() => idp.close());

  it('issues Entra-like claims with a pairwise sub and rotates refresh tokens', async () => {
    const { claims, tokens } = await signInAndExchange(idp, 'bob@acme.test', 'bob-pw');
    expect(claims).toMatchObject({
      tid: tenantId,
      oid: idp.accountIdOf('bob@acme.test'),
      email: 'bob@acme.test',
      xms_edov: false,
      preferred_username: 'bob@acme.test',
      groups: [],
    });
    expect(claims.sub).not.toBe(claims.oid);
    expect('email_verified' in claims).toBe(false);
    const refreshed = await token(idp, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token ?? '',
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).toBeTruthy();
    expect(refreshed.body.refresh_token).not.toBe(tokens.refresh_token);
  });
});
