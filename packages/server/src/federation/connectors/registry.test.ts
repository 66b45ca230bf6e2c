import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StandinIdp } from '../../../../standin-idp/src/index.js';
import { createConnector, forgetConnector, registerConnectorFactory } from './registry.js';
import { CLIENT_ID, CLIENT_SECRET, signInThrough, startUpstream } from './test-support/upstream.js';
import type { RedirectConnector } from './types.js';

describe('connector registry', () => {
  let idp: StandinIdp;
  beforeAll(async () => {
    idp = await startUpstream({ profile: 'google' });
  });
  afterAll(async () => {
    forgetConnector();
    await idp.close();
  });

  const googleSettings = () => ({ clientId: CLIENT_ID, issuer: idp.issuer, domains: ['acme.test'] });

  it('builds a google connector that signs in, and caches it per connection', async () => {
    const connector = createConnector('c1', 'google', googleSettings(), { clientSecret: CLIENT_SECRET });
    expect(connector).toMatchObject({ kind: 'redirect', type: 'google', id: 'c1' });
    expect(createConnector('c1', 'google', googleSettings(), { clientSecret: CLIENT_SECRET })).toBe(
      connector,
    );
    const identity = await signInThrough(
      connector,
      { loginHint: 'outsider@other.test' },
      { password: 'pw' },
    ).catch((err: unknown) => err);
    expect(identity).toMatchObject({ code: 'wrong_hosted_domain' });

    // New settings (a domain added to the organization) rebuild it.
    const rebuilt = createConnector(
      'c1',
      'google',
      { ...googleSettings(), domains: ['acme.test', 'other.test'] },
      { clientSecret: CLIENT_SECRET },
    );
    expect(rebuilt).not.toBe(connector);
    const outsider = await signInThrough(rebuilt, { loginHint: 'outsider@other.test' }, { password: 'pw' });
    expect(outsider.email).toBe('outsider@other.test');
  });

  it('builds an oidc connector from the config-shaped settings', async () => {
    const connector = createConnector(
      'c2',
      'oidc',
      {
        issuer: idp.issuer,
        clientId: CLIENT_ID,
        scopes: ['openid', 'email'],
        extraParams: {},
        claims: { subject: 'sub', email: 'email', name: 'name', groups: 'groups' },
      },
      { clientSecret: CLIENT_SECRET },
    );
    expect(connector.type).toBe('oidc');
    const identity = await signInThrough(
      connector,
      { loginHint: 'alice@acme.test' },
      {
        password: 'alice-pw',
        totpSecret: 'JBSWY3DPEHPK3PXP',
      },
    );
    expect(identity).toMatchObject({ connectionId: 'c2', email: 'alice@acme.test', emailVerified: true });
  });

  it('names the bad key of invalid settings and refuses unknown types', () => {
    expect(() => createConnector('c3', 'google', { clientId: 'x', domains: ['acme.test'] }, {})).toThrow(
      /connection c3 secrets\.clientSecret/,
    );
    expect(() =>
      createConnector('c3', 'google', { clientId: 'x', domains: [] }, { clientSecret: 's' }),
    ).toThrow(/connection c3 settings\.domains/);
    expect(() => createConnector('c3', 'oidc', { issuer: 'not a url', clientId: 'x' }, {})).toThrow(
      /connection c3 settings\.issuer/,
    );
    expect(() => createConnector('c3', 'local', {}, {})).toThrow(/no connector for type "local"/);
    expect(() => createConnector('c3', 'toString', {}, {})).toThrow(/no connector for type/);
  });

  it('accepts factories registered from elsewhere (SAML, mocks)', () => {
    const mock: RedirectConnector = {
      kind: 'redirect',
      type: 'saml',
      id: 'c4',
      startSignIn: async () => ({ url: 'http://127.0.0.1/', pending: {} }),
      finishSignIn: async () => {
        throw new Error('not used');
      },
    };
    registerConnectorFactory('saml', () => mock);
    expect(createConnector('c4', 'saml', {}, {})).toBe(mock);
  });
});
