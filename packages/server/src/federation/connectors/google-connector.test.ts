import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StandinIdp } from '../../../../standin-idp/src/index.js';
import { createGoogleConnector } from './google-connector.js';
import {
  browseUpstream,
  CALLBACK_URL,
  CLIENT_ID,
  CLIENT_SECRET,
  signInThrough,
  startUpstream,
  TOTP_SECRET,
} from './test-support/upstream.js';
import { type RedirectConnector, UpstreamError } from './types.js';

describe('google connector against the stand-in', () => {
  let idp: StandinIdp;
  let connector: RedirectConnector;

  beforeAll(async () => {
    idp = await startUpstream({ profile: 'google' });
    connector = createGoogleConnector({
      id: 'conn-google',
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      issuer: idp.issuer,
      domains: ['acme.test', 'acme-labs.test'],
    });
  });
  afterAll(() => idp.close());

  it('sends login_hint, hd, PKCE S256, nonce, state and access_type=offline upstream', async () => {
    const { started, steps, state } = await browseUpstream(
      connector,
      { loginHint: 'alice@acme.test', domain: 'acme.test' },
      { password: 'alice-pw', totpSecret: TOTP_SECRET },
    );
    const request = idp.requests.at(-1);
    const verifier = String(started.pending.codeVerifier);
    expect(request?.params).toMatchObject({
      client_id: CLIENT_ID,
      response_type: 'code',
      redirect_uri: CALLBACK_URL,
      scope: 'openid email profile',
      login_hint: 'alice@acme.test',
      hd: 'acme.test',
      access_type: 'offline',
      state,
      nonce: started.pending.nonce,
      code_challenge_method: 'S256',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    });
    expect(request?.params.prompt).toBeUndefined();
    // The hinted email skipped Google's email page.
    expect(steps).toEqual(['password', 'totp']);
  });

  it('hints hd=* when the email domain is unknown and the organization has several domains', async () => {
    await connector.startSignIn({ callbackUrl: CALLBACK_URL, state: 's' }).then((r) => fetch(r.url));
    expect(idp.requests.at(-1)?.params.hd).toBe('*');
  });

  it('returns a verified identity keyed by the stable subject', async () => {
    const identity = await signInThrough(
      connector,
      { loginHint: 'alice@acme.test', domain: 'acme.test' },
      { password: 'alice-pw', totpSecret: TOTP_SECRET },
    );
    expect(identity).toMatchObject({
      connectionId: 'conn-google',
      subject: idp.accountIdOf('alice@acme.test'),
      email: 'alice@acme.test',
      emailVerified: true,
      name: 'Alice Liddell',
      groups: [],
    });
    expect(identity.upstreamRefreshToken).toBeTruthy();
    expect(identity.raw.hd).toBe('acme.test');
    expect(Math.abs(identity.authenticatedAt - Date.now())).toBeLessThan(60_000);
  });

  it('refuses an account whose email Google has not verified', async () => {
    const attempt = signInThrough(connector, { loginHint: 'unverified@acme.test' }, { password: 'pw' });
    await expect(attempt).rejects.toBeInstanceOf(UpstreamError);
    await expect(attempt).rejects.toMatchObject({ code: 'email_unverified' });
  });

  it('refuses an hd claim outside the organization, whatever hd parameter was sent', async () => {
    // The hd *parameter* says acme.test, but the account's hd *claim* is other.test.
    await expect(
      signInThrough(connector, { loginHint: 'outsider@other.test', domain: 'acme.test' }, { password: 'pw' }),
    ).rejects.toMatchObject({ code: 'wrong_hosted_domain' });
    // A personal account has no hd claim at all.
    await expect(
      signInThrough(connector, { loginHint: 'personal@gmail.test' }, { password: 'pw' }),
    ).rejects.toMatchObject({ code: 'wrong_hosted_domain' });
  });

  it('asks for a fresh sign-in with max_age=0 and without the prompt value Google lacks', async () => {
    const identity = await signInThrough(
      connector,
      { loginHint: 'alice@acme.test', forceAuthn: true },
      { password: 'alice-pw', totpSecret: TOTP_SECRET },
    );
    expect(identity.subject).toBe(idp.accountIdOf('alice@acme.test'));
    const params = idp.requests.at(-1)?.params;
    expect(params?.max_age).toBe('0');
    expect(params?.prompt).toBeUndefined();
  });

  it('revalidates with the upstream refresh token, and reports revoked once the user is disabled', async () => {
    const identity = await signInThrough(
      connector,
      { loginHint: 'alice@acme.test' },
      { password: 'alice-pw', totpSecret: TOTP_SECRET },
    );
    const valid = await connector.revalidate?.(identity);
    // Google keeps its refresh token: nothing new to store.
    expect(valid).toEqual({ status: 'valid', upstreamRefreshToken: undefined });
    idp.setUserDisabled('alice@acme.test', true);
    try {
      await expect(connector.revalidate?.(identity)).resolves.toEqual({ status: 'revoked' });
    } finally {
      idp.setUserDisabled('alice@acme.test', false);
    }
  });

  it('needs at least one domain', () => {
    expect(() =>
      createGoogleConnector({ id: 'x', clientId: 'c', clientSecret: 's', issuer: idp.issuer, domains: [] }),
    ).toThrow(/at least one domain/);
  });
});
