import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StandinIdp } from '../../../../standin-idp/src/index.js';
import { publicJwkOf } from './client-auth.js';
import { createOidcConnector, type OidcConnectorOptions } from './oidc-connector.js';
import {
  CALLBACK_URL,
  CLIENT_ID,
  CLIENT_SECRET,
  signInThrough,
  startUpstream,
} from './test-support/upstream.js';
import { UpstreamError } from './types.js';

function connectorFor(idp: StandinIdp, extra: Partial<OidcConnectorOptions> = {}) {
  return createOidcConnector({
    id: 'conn-oidc',
    issuer: idp.issuer,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    ...extra,
  });
}

async function refusal(promise: Promise<unknown>): Promise<UpstreamError> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(UpstreamError);
  return error as UpstreamError;
}

describe('oidc connector: claims only in UserInfo (OIDC Core §5.4)', () => {
  let idp: StandinIdp;
  let lying: StandinIdp;
  beforeAll(async () => {
    idp = await startUpstream({ profile: 'google', profileClaimsInUserinfoOnly: true });
    lying = await startUpstream({
      profile: 'google',
      profileClaimsInUserinfoOnly: true,
      userinfoSubjectMismatch: true,
    });
  });
  afterAll(async () => {
    await idp.close();
    await lying.close();
  });

  it('fills email, email_verified and name from UserInfo when the ID token lacks them', async () => {
    const identity = await signInThrough(
      connectorFor(idp),
      { loginHint: 'alice@acme.test' },
      { password: 'alice-pw', totpSecret: 'JBSWY3DPEHPK3PXP' },
    );
    expect(identity).toMatchObject({
      subject: idp.accountIdOf('alice@acme.test'),
      email: 'alice@acme.test',
      emailVerified: true,
      receivedEmail: 'alice@acme.test',
      receivedEmailVerified: true,
      name: 'Alice Liddell',
    });
  });

  it('refuses a UserInfo answer about another subject (§5.3.4)', async () => {
    const error = await refusal(
      signInThrough(connectorFor(lying), { loginHint: 'unverified@acme.test' }, { password: 'pw' }),
    );
    expect(error.code).toBe('subject_mismatch');
  });
});

describe('oidc connector: client authentication at the token endpoint', () => {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    format: 'pem',
    type: 'pkcs8',
  }) as string;
  let postOnly: StandinIdp;
  let keyOnly: StandinIdp;
  beforeAll(async () => {
    postOnly = await startUpstream({
      tokenEndpointAuthMethods: ['client_secret_post'],
      clients: [
        {
          client_id: CLIENT_ID,
          client_secret: CLIENT_SECRET,
          redirect_uris: [CALLBACK_URL],
          token_endpoint_auth_method: 'client_secret_post',
        },
      ],
    });
    keyOnly = await startUpstream({
      tokenEndpointAuthMethods: ['private_key_jwt'],
      clients: [
        {
          client_id: CLIENT_ID,
          redirect_uris: [CALLBACK_URL],
          token_endpoint_auth_method: 'private_key_jwt',
          jwks: { keys: [(await publicJwkOf({ pem: key })) as Record<string, unknown>] },
        },
      ],
    });
  });
  afterAll(async () => {
    await postOnly.close();
    await keyOnly.close();
  });

  it('picks client_secret_post from discovery when the provider offers only that', async () => {
    const identity = await signInThrough(
      connectorFor(postOnly),
      { loginHint: 'unverified@acme.test' },
      { password: 'pw' },
    );
    expect(identity.subject).toBe(postOnly.accountIdOf('unverified@acme.test'));
  });

  it('uses client_secret_basic when told to, and reports the refusal as a misconfiguration with the provider’s words', async () => {
    const error = await refusal(
      signInThrough(
        connectorFor(postOnly, { tokenEndpointAuthMethod: 'client_secret_basic' }),
        { loginHint: 'unverified@acme.test' },
        { password: 'pw' },
      ),
    );
    expect(error.code).toBe('client_authentication_failed');
    expect(error.publicMessage).toMatch(/misconfigured.*administrator/);
    expect(error.provider).toMatchObject({ status: 401, error: 'invalid_client' });
    expect(error.provider?.description).toBeTruthy();
  });

  it('reports a wrong client secret as a misconfiguration', async () => {
    const error = await refusal(
      signInThrough(
        connectorFor(postOnly, { clientSecret: 'not-the-secret' }),
        { loginHint: 'unverified@acme.test' },
        { password: 'pw' },
      ),
    );
    expect(error.code).toBe('client_authentication_failed');
    expect(error.provider?.error).toBe('invalid_client');
  });

  it('signs a client assertion with the configured key (private_key_jwt)', async () => {
    const identity = await signInThrough(
      createOidcConnector({
        id: 'conn-key',
        issuer: keyOnly.issuer,
        clientId: CLIENT_ID,
        privateKey: { pem: key },
      }),
      { loginHint: 'unverified@acme.test' },
      { password: 'pw' },
    );
    expect(identity.subject).toBe(keyOnly.accountIdOf('unverified@acme.test'));
  });

  it('refuses an assertion signed with another key', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
      format: 'pem',
      type: 'pkcs8',
    }) as string;
    const error = await refusal(
      signInThrough(
        createOidcConnector({
          id: 'conn-key',
          issuer: keyOnly.issuer,
          clientId: CLIENT_ID,
          privateKey: { pem: other, kid: (await publicJwkOf({ pem: key })).kid },
        }),
        { loginHint: 'unverified@acme.test' },
        { password: 'pw' },
      ),
    );
    expect(error.code).toBe('client_authentication_failed');
  });
});
