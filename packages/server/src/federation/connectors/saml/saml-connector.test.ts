import { inflateRawSync } from 'node:zlib';
import { SAML, ValidateInResponseTo } from '@node-saml/node-saml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type SamlResponseVariant,
  type StandinSamlIdp,
  startStandinSamlIdp,
} from '../../../../../standin-idp/src/saml/index.js';
import {
  openSignInPage,
  submitSignInPage,
} from '../../../../../standin-idp/src/saml/test-support/page-driver.js';
import { UpstreamError, type UpstreamErrorCode } from '../types.js';
import { parseIdpMetadata, SamlMetadataError } from './idp-metadata.js';
import {
  createInMemorySamlReplayStore,
  createInMemorySamlRequestStore,
  createSamlConnector,
  type SamlConnector,
  type SamlConnectorDeps,
  type SamlConnectorOptions,
} from './index.js';
import { NS, parseUntrustedXml } from './xml.js';

const SP_ENTITY_ID = 'https://sso.acme.test/saml/acme';
const ACS_URL = 'https://sso.acme.test/upstream/saml/acme/acs';
const ANN = {
  email: 'ann@acme.test',
  password: 'ann-password',
  name: 'Ann Example',
  groups: ['staff', 'sales'],
};
const OUTSIDER = { email: 'olaf@elsewhere.test', password: 'olaf-password' };

let idp: StandinSamlIdp;

beforeAll(async () => {
  idp = await startStandinSamlIdp({ users: [ANN, OUTSIDER], spEntityId: SP_ENTITY_ID, acsUrl: ACS_URL });
});
afterAll(async () => {
  await idp?.close();
});

function stores(now?: () => number): SamlConnectorDeps {
  return {
    requestStore: createInMemorySamlRequestStore(now),
    replayStore: createInMemorySamlReplayStore(now),
    ...(now ? { now } : {}),
  };
}

function connector(
  deps: SamlConnectorDeps = stores(),
  overrides: Partial<SamlConnectorOptions> = {},
): SamlConnector {
  return createSamlConnector(
    {
      id: 'conn-acme',
      spEntityId: SP_ENTITY_ID,
      callbackUrl: ACS_URL,
      idpMetadataXml: idp.metadataXml,
      attributes: { email: 'email', name: 'name', groups: 'groups' },
      domains: ['acme.test'],
      ...overrides,
    },
    deps,
  );
}

let stateCounter = 0;
async function start(saml: SamlConnector, loginHint: string | undefined = ANN.email) {
  const state = `state-${++stateCounter}`;
  const started = await saml.startSignIn({ callbackUrl: ACS_URL, state, loginHint });
  return { ...started, state };
}

function finish(saml: SamlConnector, body: Record<string, string>, pending: Record<string, unknown>) {
  return saml.finishSignIn({ callbackUrl: ACS_URL, currentUrl: new URL(ACS_URL), body, pending });
}

async function refusal(promise: Promise<unknown>): Promise<UpstreamError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UpstreamError);
  const upstream = error as UpstreamError;
  // Public messages never carry XML, upstream text or a stack.
  expect(upstream.publicMessage).not.toMatch(/[<>]|\bat \w|saml:|urn:/i);
  return upstream;
}

function authnRequestXml(url: string): string {
  const encoded = new URL(url).searchParams.get('SAMLRequest')!;
  return inflateRawSync(Buffer.from(encoded, 'base64')).toString('utf8');
}

describe('SAML connector: sign-in through the stand-in IdP', () => {
  it('sends an HTTP-Redirect AuthnRequest the IdP accepts, with the email as Subject hint and RelayState = state', async () => {
    const saml = connector();
    const { url, state, pending } = await start(saml);
    const redirect = new URL(url);
    expect(`${redirect.origin}${redirect.pathname}`).toBe(idp.ssoUrl);
    expect(redirect.searchParams.get('RelayState')).toBe(state);
    const request = parseUntrustedXml(authnRequestXml(url)).documentElement;
    expect(request.getAttribute('ID')).toBe(pending.requestId);
    expect(request.getAttribute('AssertionConsumerServiceURL')).toBe(ACS_URL);
    expect(request.getAttribute('Destination')).toBe(idp.ssoUrl);
    expect(request.getElementsByTagNameNS(NS.assertion, 'NameID')[0]?.textContent).toBe(ANN.email);

    const page = await openSignInPage(url);
    expect(page.status).toBe(200);
    expect(page.prefilledEmail).toBe(ANN.email);
  });

  it('turns the response the sign-in page posts into a verified identity', async () => {
    const saml = connector();
    const { url, state, pending } = await start(saml);
    const page = await openSignInPage(url);
    const wrong = await submitSignInPage(url, page, { password: 'nope' });
    expect(wrong.status).toBe(401);
    const posted = await submitSignInPage(url, page, { password: ANN.password });
    expect(posted.form?.action).toBe(ACS_URL);
    expect(posted.form?.fields.RelayState).toBe(state);

    const identity = await finish(saml, posted.form!.fields, pending);
    expect(identity).toMatchObject({
      connectionId: 'conn-acme',
      email: ANN.email,
      emailVerified: true,
      name: ANN.name,
      groups: ANN.groups,
    });
    expect(identity.subject).toMatch(/^u-[0-9a-f]{24}$/);
    expect(identity.raw).toMatchObject({
      issuer: idp.entityId,
      nameIdFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
    });
    expect(Math.abs(identity.authenticatedAt - Date.now())).toBeLessThan(60_000);
  });

  it('accepts a response whose response and assertion are both signed', async () => {
    const saml = connector();
    const { url, pending } = await start(saml);
    const identity = await finish(saml, idp.craft('valid-response-signed', url).body, pending);
    expect(identity.email).toBe(ANN.email);
  });

  it('does not vouch for an email outside the organization’s domains', async () => {
    const saml = connector();
    const { url, pending } = await start(saml, OUTSIDER.email);
    const identity = await finish(saml, idp.craft('valid', url).body, pending);
    expect(identity.emailVerified).toBe(false);
    expect(identity.email).toBeUndefined();
    expect(identity.raw.attributes).toMatchObject({ email: [OUTSIDER.email] });
  });

  it('maps the subject from a configured attribute instead of the NameID', async () => {
    const saml = connector(stores(), { attributes: { subject: 'email', email: 'email' } });
    const { url, pending } = await start(saml);
    const request = parseUntrustedXml(authnRequestXml(url)).documentElement;
    const policy = request.getElementsByTagNameNS(NS.protocol, 'NameIDPolicy')[0];
    expect(policy?.getAttribute('Format')).toBe('urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified');
    const identity = await finish(saml, idp.craft('valid', url).body, pending);
    expect(identity.subject).toBe(ANN.email);
    expect(identity.groups).toEqual([]);
  });

  it('refuses a NameID format it was not told to trust as a subject', async () => {
    const saml = connector(stores(), {
      acceptedNameIdFormats: ['urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'],
    });
    const { url, pending } = await start(saml);
    expect((await refusal(finish(saml, idp.craft('valid', url).body, pending))).code).toBe(
      'invalid_response',
    );
  });

  it('passes the hint as login_hint instead of a Subject for IdPs such as Entra ID, or not at all', async () => {
    const entra = connector(stores(), { loginHintBinding: 'login_hint' });
    const { url } = await start(entra);
    expect(new URL(url).searchParams.get('login_hint')).toBe(ANN.email);
    expect(authnRequestXml(url)).not.toContain('Subject');

    const none = connector(stores(), { loginHintBinding: 'none' });
    const plain = await start(none);
    expect(new URL(plain.url).searchParams.has('login_hint')).toBe(false);
    expect(authnRequestXml(plain.url)).not.toContain('Subject');
  });

  it('asks for re-authentication with ForceAuthn', async () => {
    const saml = connector();
    const { url } = await saml.startSignIn({ callbackUrl: ACS_URL, state: 's-force', forceAuthn: true });
    expect(authnRequestXml(url)).toContain('ForceAuthn="true"');
  });
});

describe('SAML connector: crafted responses are refused', () => {
  const cases: Array<[SamlResponseVariant, UpstreamErrorCode]> = [
    ['unsigned', 'invalid_signature'],
    ['unsigned-assertion-signed-response', 'invalid_signature'],
    ['tampered', 'invalid_signature'],
    ['wrapped', 'invalid_signature'],
    ['wrapped-nested', 'invalid_signature'],
    ['wrapped-sibling', 'invalid_signature'],
    ['other-certificate', 'invalid_signature'],
    ['expired', 'expired'],
    ['not-yet-valid', 'expired'],
    ['wrong-audience', 'wrong_audience'],
    ['wrong-in-response-to', 'state_mismatch'],
    ['unsolicited', 'state_mismatch'],
    ['wrong-destination', 'invalid_response'],
    ['wrong-recipient', 'invalid_response'],
    ['wrong-issuer', 'invalid_response'],
    ['comment-in-nameid', 'invalid_response'],
    ['doctype', 'invalid_response'],
    ['denied', 'access_denied'],
  ];

  it.each(cases)('%s → %s', async (variant, code) => {
    const saml = connector();
    const { url, pending } = await start(saml);
    const error = await refusal(finish(saml, idp.craft(variant, url).body, pending));
    expect(error.code).toBe(code);
    expect(error.cause).toBeInstanceOf(Error);
  });

  it('a refused response does not use up the request: the genuine response still finishes', async () => {
    const saml = connector();
    const { url, pending } = await start(saml);
    await refusal(finish(saml, idp.craft('tampered', url).body, pending));
    await expect(finish(saml, idp.craft('valid', url).body, pending)).resolves.toMatchObject({
      email: ANN.email,
    });
  });

  it('the signed bytes keep the whole NameID even when a comment splits it (defence below the comment check)', async () => {
    const { url } = await start(connector());
    const post = idp.craft('comment-in-nameid', url);
    const verifier = new SAML({
      idpCert: parseIdpMetadata(idp.metadataXml).signingCertificates,
      issuer: SP_ENTITY_ID,
      callbackUrl: ACS_URL,
      audience: SP_ENTITY_ID,
      wantAssertionsSigned: true,
      wantAuthnResponseSigned: false,
      validateInResponseTo: ValidateInResponseTo.never,
    });
    // The signature still verifies: exclusive canonicalization ignores comments.
    const { profile } = await verifier.validatePostResponseAsync({ SAMLResponse: post.body.SAMLResponse });
    expect(profile?.nameID).toMatch(/\.evil$/);
    expect(profile?.getAssertionXml?.()).toMatch(/>u-[0-9a-f]{24}\.evil</);
  });

  it('refuses a RelayState other than the one the request was sent with', async () => {
    const saml = connector();
    const { url, pending } = await start(saml);
    const { body } = idp.craft('valid', url);
    expect((await refusal(finish(saml, { ...body, RelayState: 'someone-else' }, pending))).code).toBe(
      'state_mismatch',
    );
    const { RelayState: _dropped, ...withoutRelayState } = body;
    expect((await refusal(finish(saml, withoutRelayState, pending))).code).toBe('state_mismatch');
  });

  it('refuses a missing, oversized or non-XML SAMLResponse, and pending state it did not write', async () => {
    const saml = connector();
    const { url, state, pending } = await start(saml);
    expect((await refusal(finish(saml, { RelayState: state }, pending))).code).toBe('invalid_response');
    const huge = Buffer.alloc(300 * 1024, 'a').toString('base64');
    expect((await refusal(finish(saml, { SAMLResponse: huge, RelayState: state }, pending))).code).toBe(
      'invalid_response',
    );
    const garbage = Buffer.from('<not-closed', 'utf8').toString('base64');
    expect((await refusal(finish(saml, { SAMLResponse: garbage, RelayState: state }, pending))).code).toBe(
      'invalid_response',
    );
    expect((await refusal(finish(saml, idp.craft('valid', url).body, {}))).code).toBe('state_mismatch');
  });
});

describe('SAML connector: one-time use across processes', () => {
  it('the same POST twice: the second is a replay', async () => {
    const saml = connector();
    const { url, pending } = await start(saml);
    const { body } = idp.craft('valid', url);
    await finish(saml, body, pending);
    expect((await refusal(finish(saml, body, pending))).code).toBe('replayed');
  });

  it('an old assertion ID in a response to a new request is a replay', async () => {
    const saml = connector();
    const first = await start(saml);
    await finish(saml, idp.craft('valid', first.url).body, first.pending);
    const second = await start(saml);
    expect((await refusal(finish(saml, idp.craft('replayed', second.url).body, second.pending))).code).toBe(
      'replayed',
    );
  });

  it('a request is answered once: a second, fresh assertion for it is refused', async () => {
    const saml = connector();
    const { url, pending } = await start(saml);
    await finish(saml, idp.craft('valid', url).body, pending);
    expect((await refusal(finish(saml, idp.craft('valid', url).body, pending))).code).toBe('state_mismatch');
  });

  it('a request not answered in time is refused', async () => {
    let clock = Date.now();
    const saml = connector(
      stores(() => clock),
      { requestTtlMs: 1_000 },
    );
    const { url, pending } = await start(saml);
    clock += 2_000;
    expect((await refusal(finish(saml, idp.craft('valid', url).body, pending))).code).toBe('state_mismatch');
  });

  it('two server processes sharing storage: one starts, the other finishes', async () => {
    const shared = stores();
    const processA = connector(shared);
    const processB = connector(shared);
    const { url, pending } = await start(processA);
    const { body } = idp.craft('valid', url);
    // `pending` travels through the database (upstream_requests), not through the process.
    const fromDatabase = JSON.parse(JSON.stringify(pending)) as Record<string, unknown>;
    await expect(finish(processB, body, fromDatabase)).resolves.toMatchObject({ email: ANN.email });
    expect((await refusal(finish(processA, body, fromDatabase))).code).toBe('replayed');
  });

  it('without shared storage the other process cannot finish', async () => {
    const processA = connector(stores());
    const processB = connector(stores());
    const { url, pending } = await start(processA);
    expect((await refusal(finish(processB, idp.craft('valid', url).body, pending))).code).toBe(
      'state_mismatch',
    );
  });
});

describe('SAML connector: IdP metadata and certificate rotation', () => {
  let rotating: StandinSamlIdp;
  beforeAll(async () => {
    rotating = await startStandinSamlIdp({ users: [ANN], spEntityId: SP_ENTITY_ID, acsUrl: ACS_URL });
  });
  afterAll(async () => {
    await rotating?.close();
  });

  it('parses entity id, HTTP-Redirect SSO URL and every signing certificate', () => {
    const metadata = parseIdpMetadata(idp.metadataXml);
    expect(metadata.entityId).toBe(idp.entityId);
    expect(metadata.ssoRedirectUrl).toBe(idp.ssoUrl);
    expect(metadata.signingCertificates).toHaveLength(1);
    expect(metadata.signingCertificates[0]).toMatch(/^-----BEGIN CERTIFICATE-----/);
  });

  it('refuses unusable metadata with a message for the administrator', () => {
    expect(() =>
      parseIdpMetadata('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'),
    ).toThrow(SamlMetadataError);
    expect(() => parseIdpMetadata(idp.metadataXml.replace(/HTTP-Redirect/g, 'SOAP'))).toThrow(
      /HTTP-Redirect/,
    );
    expect(() =>
      parseIdpMetadata(idp.metadataXml.replace(/<md:KeyDescriptor.*?<\/md:KeyDescriptor>/g, '')),
    ).toThrow(/signing certificate/);
    expect(() =>
      createSamlConnector(
        {
          id: 'x',
          spEntityId: SP_ENTITY_ID,
          callbackUrl: ACS_URL,
          idpMetadataUrl: 'http://idp.example.com/metadata',
          attributes: { email: 'email' },
        },
        stores(),
      ),
    ).toThrow(/https/);
  });

  it('accepts either certificate while the metadata publishes two', async () => {
    rotating.rotateSigningKey();
    const metadata = parseIdpMetadata(rotating.metadataXml);
    expect(metadata.signingCertificates).toHaveLength(2);
    const saml = connector(stores(), { idpMetadataXml: rotating.metadataXml });
    for (const keyIndex of [0, 1]) {
      const { url, pending } = await start(saml);
      await expect(
        finish(saml, rotating.craft('valid', url, { keyIndex }).body, pending),
      ).resolves.toMatchObject({
        email: ANN.email,
      });
    }
  });

  it('fetches metadata from a URL and picks up a new certificate when it refreshes', async () => {
    let clock = Date.now();
    const saml = connector(
      stores(() => clock),
      {
        idpMetadataXml: undefined,
        idpMetadataUrl: rotating.metadataUrl,
        metadataRefreshMs: 60_000,
      },
    );
    const before = await start(saml);
    await finish(saml, rotating.craft('valid', before.url).body, before.pending);

    // The IdP rotates and retires the old keys before our next refresh: refused until we refetch.
    rotating.rotateSigningKey();
    rotating.retireOldSigningKeys();
    const stale = await start(saml);
    expect((await refusal(finish(saml, rotating.craft('valid', stale.url).body, stale.pending))).code).toBe(
      'invalid_signature',
    );
    clock += 61_000;
    const fresh = await start(saml);
    await expect(finish(saml, rotating.craft('valid', fresh.url).body, fresh.pending)).resolves.toMatchObject(
      {
        email: ANN.email,
      },
    );
  });

  it('keeps the last good metadata when a refresh fails, and reports an unreachable IdP at first load', async () => {
    let clock = Date.now();
    let up = true;
    const flaky: typeof fetch = async (input, init) => {
      if (!up) throw new TypeError('fetch failed');
      return fetch(input, init);
    };
    const saml = connector(
      stores(() => clock),
      {
        idpMetadataXml: undefined,
        idpMetadataUrl: rotating.metadataUrl,
        metadataRefreshMs: 1_000,
        fetch: flaky,
      },
    );
    await start(saml);
    up = false;
    clock += 5_000;
    await expect(start(saml)).resolves.toHaveProperty('url');

    const never = connector(stores(), {
      idpMetadataXml: undefined,
      idpMetadataUrl: rotating.metadataUrl,
      fetch: flaky,
    });
    expect((await refusal(start(never))).code).toBe('upstream_unreachable');
  });
});

describe('SAML connector: SP metadata', () => {
  it('gives the IdP administrator the entity id, the ACS URL and the NameID format', () => {
    const doc = parseUntrustedXml(connector().spMetadata());
    const root = doc.documentElement;
    expect(root.localName).toBe('EntityDescriptor');
    expect(root.getAttribute('entityID')).toBe(SP_ENTITY_ID);
    const sp = root.getElementsByTagNameNS(NS.metadata, 'SPSSODescriptor')[0]!;
    expect(sp.getAttribute('WantAssertionsSigned')).toBe('true');
    const acs = sp.getElementsByTagNameNS(NS.metadata, 'AssertionConsumerService')[0]!;
    expect(acs.getAttribute('Location')).toBe(ACS_URL);
    expect(acs.getAttribute('Binding')).toBe('urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST');
    expect(sp.getElementsByTagNameNS(NS.metadata, 'NameIDFormat')[0]?.textContent).toBe(
      'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
    );
  });
});
