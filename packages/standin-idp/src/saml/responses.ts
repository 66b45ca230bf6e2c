import { randomBytes } from 'node:crypto';
import { DOMParser, XMLSerializer } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import type { SigningKey } from './signing-key.js';

export const SAML_PROTOCOL = 'urn:oasis:names:tc:SAML:2.0:protocol';
export const SAML_ASSERTION = 'urn:oasis:names:tc:SAML:2.0:assertion';
export const NAMEID_PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
const STATUS_SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';

/**
 * Responses the stand-in can craft. `valid` is what the sign-in page sends; every other variant is an
 * attack or a fault that the service provider must refuse.
 */
export const SAML_RESPONSE_VARIANTS = [
  'valid',
  /** Response and assertion both signed (Okta's and ADFS's "sign both"). */
  'valid-response-signed',
  'unsigned',
  'unsigned-assertion-signed-response',
  /** The NameID is changed after signing. */
  'tampered',
  /** XSW: a forged assertion carries the genuine signature; the genuine assertion hides in Extensions (same ID). */
  'wrapped',
  /** XSW: a forged assertion with its own ID wraps the genuine signed one in Advice. */
  'wrapped-nested',
  /** XSW: a forged assertion next to the genuine signed one. */
  'wrapped-sibling',
  'expired',
  'not-yet-valid',
  /** A fresh response for the new request that reuses the ID of the last assertion issued. */
  'replayed',
  'wrong-audience',
  'wrong-in-response-to',
  /** IdP-initiated: no InResponseTo at all. */
  'unsolicited',
  'wrong-destination',
  'wrong-recipient',
  'wrong-issuer',
  'other-certificate',
  /** Comment-truncation attack: a signed NameID `<victim>.evil` becomes `<victim><!---->.evil`. */
  'comment-in-nameid',
  /** A DOCTYPE with an external entity referenced from the assertion. */
  'doctype',
  /** A non-success StatusCode (the user was refused), unsigned and without an assertion. */
  'denied',
] as const;
export type SamlResponseVariant = (typeof SAML_RESPONSE_VARIANTS)[number];

export interface ResponseUser {
  email: string;
  subject: string;
  name?: string | undefined;
  groups?: string[] | undefined;
  /** How the IdP says it authenticated the user. Default: a password over TLS. */
  authnContextClassRef?: string | undefined;
}

const PASSWORD_PROTECTED_TRANSPORT = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';

export interface ResponseContext {
  idpEntityId: string;
  spEntityId: string;
  acsUrl: string;
  /** The AuthnRequest's ID, answered by `InResponseTo`. */
  requestId: string | undefined;
  user: ResponseUser;
  signingKey: SigningKey;
  /** A key whose certificate the service provider does not trust. */
  foreignKey: SigningKey;
  /** The assertion ID to reuse for `replayed`. */
  previousAssertionId: string | undefined;
  now?: number;
}

export interface CraftedResponse {
  xml: string;
  assertionId: string;
}

export function newSamlId(): string {
  return `_${randomBytes(20).toString('hex')}`;
}

export function craftResponse(variant: SamlResponseVariant, context: ResponseContext): CraftedResponse {
  const now = context.now ?? Date.now();
  const assertionId =
    variant === 'replayed' && context.previousAssertionId ? context.previousAssertionId : newSamlId();
  const fields: ResponseFields = {
    responseId: newSamlId(),
    assertionId,
    issuer: context.idpEntityId,
    audience: context.spEntityId,
    destination: context.acsUrl,
    recipient: context.acsUrl,
    inResponseTo: context.requestId,
    issueInstant: now,
    notBefore: now - 60_000,
    notOnOrAfter: now + 5 * 60_000,
    nameId: context.user.subject,
    user: context.user,
  };
  const key = context.signingKey;
  const signedAssertion = (f: Partial<ResponseFields> = {}) =>
    signAssertion(buildResponse({ ...fields, ...f }), key);

  switch (variant) {
    case 'valid':
    case 'replayed':
      return { xml: signedAssertion(), assertionId };
    case 'valid-response-signed':
      return { xml: signResponse(signedAssertion(), key), assertionId };
    case 'unsigned':
      return { xml: buildResponse(fields), assertionId };
    case 'unsigned-assertion-signed-response':
      return { xml: signResponse(buildResponse(fields), key), assertionId };
    case 'tampered':
      return { xml: replaceNameId(signedAssertion(), fields.nameId, 'admin'), assertionId };
    case 'wrapped':
      return { xml: wrapInExtensions(signedAssertion()), assertionId };
    case 'wrapped-nested':
      return { xml: wrapInAdvice(signedAssertion()), assertionId };
    case 'wrapped-sibling':
      return { xml: addForgedSibling(signedAssertion()), assertionId };
    case 'expired':
      return {
        xml: signedAssertion({
          issueInstant: now - 2 * 3_600_000,
          notBefore: now - 2 * 3_600_000,
          notOnOrAfter: now - 3_600_000,
        }),
        assertionId,
      };
    case 'not-yet-valid':
      return {
        xml: signedAssertion({ issueInstant: now + 3_600_000, notBefore: now + 3_600_000 }),
        assertionId,
      };
    case 'wrong-audience':
      return { xml: signedAssertion({ audience: 'https://another-sp.example/saml' }), assertionId };
    case 'wrong-in-response-to':
      return { xml: signedAssertion({ inResponseTo: newSamlId() }), assertionId };
    case 'unsolicited':
      return { xml: signedAssertion({ inResponseTo: undefined }), assertionId };
    case 'wrong-destination':
      return { xml: signedAssertion({ destination: 'https://another-sp.example/acs' }), assertionId };
    case 'wrong-recipient':
      return { xml: signedAssertion({ recipient: 'https://another-sp.example/acs' }), assertionId };
    case 'wrong-issuer':
      return { xml: signedAssertion({ issuer: 'https://another-idp.example/saml' }), assertionId };
    case 'other-certificate':
      return { xml: signAssertion(buildResponse(fields), context.foreignKey), assertionId };
    case 'comment-in-nameid': {
      const signed = signedAssertion({ nameId: `${fields.nameId}.evil` });
      return {
        xml: replaceNameId(signed, `${fields.nameId}.evil`, `${fields.nameId}<!---->.evil`),
        assertionId,
      };
    }
    case 'doctype': {
      const signed = signedAssertion();
      const dtd = '<!DOCTYPE samlp:Response [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>';
      const withEntity = signed.replace('</saml:Issuer>', '&xxe;</saml:Issuer>');
      return { xml: dtd + withEntity, assertionId };
    }
    case 'denied':
      return { xml: buildDeniedResponse(fields), assertionId };
  }
}

interface ResponseFields {
  responseId: string;
  assertionId: string;
  issuer: string;
  audience: string;
  destination: string;
  recipient: string;
  inResponseTo: string | undefined;
  issueInstant: number;
  notBefore: number;
  notOnOrAfter: number;
  nameId: string;
  user: ResponseUser;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function escapeXml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function attribute(name: string, values: string[]): string {
  if (values.length === 0) return '';
  const items = values
    .map((value) => `<saml:AttributeValue>${escapeXml(value)}</saml:AttributeValue>`)
    .join('');
  return `<saml:Attribute Name="${escapeXml(name)}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">${items}</saml:Attribute>`;
}

function buildResponse(f: ResponseFields): string {
  const inResponseTo = f.inResponseTo ? ` InResponseTo="${escapeXml(f.inResponseTo)}"` : '';
  const attributes = [
    attribute('email', [f.user.email]),
    attribute('name', f.user.name ? [f.user.name] : []),
    attribute('groups', f.user.groups ?? []),
  ].join('');
  return (
    `<samlp:Response xmlns:samlp="${SAML_PROTOCOL}" xmlns:saml="${SAML_ASSERTION}" ID="${f.responseId}" Version="2.0" IssueInstant="${iso(f.issueInstant)}" Destination="${escapeXml(f.destination)}"${inResponseTo}>` +
    `<saml:Issuer>${escapeXml(f.issuer)}</saml:Issuer>` +
    `<samlp:Status><samlp:StatusCode Value="${STATUS_SUCCESS}"/></samlp:Status>` +
    `<saml:Assertion ID="${f.assertionId}" Version="2.0" IssueInstant="${iso(f.issueInstant)}">` +
    `<saml:Issuer>${escapeXml(f.issuer)}</saml:Issuer>` +
    '<saml:Subject>' +
    `<saml:NameID Format="${NAMEID_PERSISTENT}">${escapeXml(f.nameId)}</saml:NameID>` +
    '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">' +
    `<saml:SubjectConfirmationData${inResponseTo} NotOnOrAfter="${iso(f.notOnOrAfter)}" Recipient="${escapeXml(f.recipient)}"/>` +
    '</saml:SubjectConfirmation>' +
    '</saml:Subject>' +
    `<saml:Conditions NotBefore="${iso(f.notBefore)}" NotOnOrAfter="${iso(f.notOnOrAfter)}">` +
    `<saml:AudienceRestriction><saml:Audience>${escapeXml(f.audience)}</saml:Audience></saml:AudienceRestriction>` +
    '</saml:Conditions>' +
    `<saml:AuthnStatement AuthnInstant="${iso(f.issueInstant)}" SessionIndex="${newSamlId()}">` +
    `<saml:AuthnContext><saml:AuthnContextClassRef>${escapeXml(f.user.authnContextClassRef ?? PASSWORD_PROTECTED_TRANSPORT)}</saml:AuthnContextClassRef></saml:AuthnContext>` +
    '</saml:AuthnStatement>' +
    `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>` +
    '</saml:Assertion>' +
    '</samlp:Response>'
  );
}

function buildDeniedResponse(f: ResponseFields): string {
  const inResponseTo = f.inResponseTo ? ` InResponseTo="${escapeXml(f.inResponseTo)}"` : '';
  return (
    `<samlp:Response xmlns:samlp="${SAML_PROTOCOL}" xmlns:saml="${SAML_ASSERTION}" ID="${f.responseId}" Version="2.0" IssueInstant="${iso(f.issueInstant)}" Destination="${escapeXml(f.destination)}"${inResponseTo}>` +
    `<saml:Issuer>${escapeXml(f.issuer)}</saml:Issuer>` +
    '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder">' +
    '<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"/></samlp:StatusCode>' +
    '<samlp:StatusMessage>User is not assigned to this application</samlp:StatusMessage></samlp:Status>' +
    '</samlp:Response>'
  );
}

const ASSERTION_PATH = "/*[local-name(.)='Response']/*[local-name(.)='Assertion']";
const RESPONSE_PATH = "/*[local-name(.)='Response']";

function sign(xml: string, target: string, key: SigningKey): string {
  const signer = new SignedXml({
    privateKey: key.privateKeyPem,
    publicCert: key.certificatePem,
    signatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  });
  signer.addReference({
    xpath: target,
    transforms: [
      'http://www.w3.org/2000/09/xmldsig#enveloped-signature',
      'http://www.w3.org/2001/10/xml-exc-c14n#',
    ],
    digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256',
  });
  // The schema puts ds:Signature right after the Issuer of the signed element.
  signer.computeSignature(xml, {
    location: { reference: `${target}/*[local-name(.)='Issuer']`, action: 'after' },
  });
  return signer.getSignedXml();
}

export const signAssertion = (xml: string, key: SigningKey) => sign(xml, ASSERTION_PATH, key);
export const signResponse = (xml: string, key: SigningKey) => sign(xml, RESPONSE_PATH, key);

function replaceNameId(xml: string, from: string, to: string): string {
  const before = `>${escapeXml(from)}</saml:NameID>`;
  if (!xml.includes(before)) throw new Error('NameID not found in the crafted response');
  return xml.replace(before, `>${to}</saml:NameID>`);
}

function parse(xml: string): Document {
  return new DOMParser().parseFromString(xml, 'text/xml') as unknown as Document;
}

function serialize(doc: Document): string {
  return new XMLSerializer().serializeToString(doc as never);
}

function firstChild(parent: Element, localName: string): Element {
  for (let node = parent.firstChild; node; node = node.nextSibling) {
    if (node.nodeType === 1 && (node as Element).localName === localName) return node as Element;
  }
  throw new Error(`${localName} not found in the crafted response`);
}

/** A forged copy of the signed assertion: another subject and email, same everything else. */
function forge(
  assertion: Element,
  { keepSignature, newId }: { keepSignature: boolean; newId: boolean },
): Element {
  const forged = assertion.cloneNode(true) as Element;
  if (newId) forged.setAttribute('ID', newSamlId());
  if (!keepSignature) forged.removeChild(firstChild(forged, 'Signature'));
  const nameId = firstChild(firstChild(forged, 'Subject'), 'NameID');
  nameId.textContent = 'admin';
  return forged;
}

function wrapInExtensions(signed: string): string {
  const doc = parse(signed);
  const response = doc.documentElement;
  const genuine = firstChild(response, 'Assertion');
  const forged = forge(genuine, { keepSignature: true, newId: false });
  const extensions = doc.createElementNS(SAML_PROTOCOL, 'samlp:Extensions');
  response.replaceChild(forged, genuine);
  extensions.appendChild(genuine);
  response.insertBefore(extensions, firstChild(response, 'Status'));
  return serialize(doc);
}

function wrapInAdvice(signed: string): string {
  const doc = parse(signed);
  const response = doc.documentElement;
  const genuine = firstChild(response, 'Assertion');
  const forged = forge(genuine, { keepSignature: false, newId: true });
  const advice = doc.createElementNS(SAML_ASSERTION, 'saml:Advice');
  response.replaceChild(forged, genuine);
  advice.appendChild(genuine);
  forged.insertBefore(advice, firstChild(forged, 'AuthnStatement'));
  return serialize(doc);
}

function addForgedSibling(signed: string): string {
  const doc = parse(signed);
  const response = doc.documentElement;
  const genuine = firstChild(response, 'Assertion');
  response.insertBefore(forge(genuine, { keepSignature: false, newId: true }), genuine);
  return serialize(doc);
}
