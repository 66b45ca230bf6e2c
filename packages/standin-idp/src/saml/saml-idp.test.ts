import { X509Certificate } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRedirectAuthnRequest } from './authn-request.js';
import { SAML_RESPONSE_VARIANTS, type StandinSamlIdp, startStandinSamlIdp } from './index.js';
import { generateSigningKey } from './signing-key.js';
import { openSignInPage, submitSignInPage } from './test-support/page-driver.js';

const SP = 'https://sp.example.test/saml';
const ACS = 'https://sp.example.test/acs';

function redirectUrl(ssoUrl: string, { issuer = SP, acs = ACS, hint = '' } = {}): string {
  const subject = hint
    ? `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${hint}</saml:NameID></saml:Subject>`
    : '';
  const xml =
    '<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ' +
    `ID="_req1" Version="2.0" IssueInstant="${new Date().toISOString()}" AssertionConsumerServiceURL="${acs}">` +
    `<saml:Issuer>${issuer}</saml:Issuer>${subject}</samlp:AuthnRequest>`;
  const url = new URL(ssoUrl);
  url.searchParams.set('SAMLRequest', deflateRawSync(xml).toString('base64'));
  url.searchParams.set('RelayState', 'rs-1');
  return url.href;
}

let idp: StandinSamlIdp;
beforeAll(async () => {
  idp = await startStandinSamlIdp({
    users: [{ email: 'ann@acme.test', password: 'pw', name: 'Ann' }],
    spEntityId: SP,
    acsUrl: ACS,
  });
});
afterAll(async () => {
  await idp?.close();
});

describe('stand-in SAML IdP', () => {
  it('generates a self-signed certificate node:crypto and openssl accept', () => {
    const key = generateSigningKey('Test');
    const certificate = new X509Certificate(key.certificatePem);
    expect(certificate.subject).toBe('CN=Test');
    expect(certificate.checkPrivateKey(key.privateKey)).toBe(true);
    expect(certificate.verify(certificate.publicKey)).toBe(true);
  });

  it('serves its metadata at the entity id URL', async () => {
    const response = await fetch(idp.metadataUrl);
    expect(response.status).toBe(200);
    const xml = await response.text();
    expect(xml).toBe(idp.metadataXml);
    expect(xml).toContain(`entityID="${idp.entityId}"`);
    expect(xml).toContain(`Location="${idp.ssoUrl}"`);
  });

  it('reads the AuthnRequest, prefills the hinted email and posts a signed response to the ACS URL', async () => {
    const url = redirectUrl(idp.ssoUrl, { hint: 'ann@acme.test' });
    expect(parseRedirectAuthnRequest(url)).toMatchObject({
      id: '_req1',
      issuer: SP,
      acsUrl: ACS,
      relayState: 'rs-1',
    });
    const page = await openSignInPage(url);
    expect(page.prefilledEmail).toBe('ann@acme.test');
    const posted = await submitSignInPage(url, page, { password: 'pw' });
    expect(posted.form?.action).toBe(ACS);
    expect(posted.form?.fields.RelayState).toBe('rs-1');
    const xml = Buffer.from(posted.form!.fields.SAMLResponse!, 'base64').toString('utf8');
    expect(xml).toContain('InResponseTo="_req1"');
    expect(xml).toMatch(/<(ds:)?SignatureValue>/);
    // A sign-in is answered once.
    expect((await submitSignInPage(url, page, { password: 'pw' })).status).toBe(400);
  });

  it('refuses requests from an unknown SP or for another ACS URL', async () => {
    expect((await openSignInPage(redirectUrl(idp.ssoUrl, { issuer: 'https://evil.test' }))).status).toBe(400);
    expect((await openSignInPage(redirectUrl(idp.ssoUrl, { acs: 'https://evil.test/acs' }))).status).toBe(
      400,
    );
  });

  it('crafts every variant', () => {
    const url = redirectUrl(idp.ssoUrl);
    for (const variant of SAML_RESPONSE_VARIANTS) {
      const post = idp.craft(variant, url);
      expect(post.body.RelayState).toBe('rs-1');
      expect(post.xml.length).toBeGreaterThan(200);
    }
  });
});
