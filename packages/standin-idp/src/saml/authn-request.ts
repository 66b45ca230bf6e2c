import { inflateRawSync } from 'node:zlib';
import { DOMParser } from '@xmldom/xmldom';
import { SAML_ASSERTION, SAML_PROTOCOL } from './responses.js';

/** What the stand-in reads from an HTTP-Redirect AuthnRequest (SAML Bindings §3.4). */
export interface ParsedAuthnRequest {
  id: string;
  issuer: string;
  destination: string | undefined;
  acsUrl: string | undefined;
  /** `Subject/NameID`: the service provider's hint of who is signing in (SAML Core §3.4.1). */
  subjectHint: string | undefined;
  forceAuthn: boolean;
  relayState: string | undefined;
}

/** Reads the AuthnRequest from a redirect URL (or its query) as the service provider built it. */
export function parseRedirectAuthnRequest(request: string | URL | URLSearchParams): ParsedAuthnRequest {
  const params =
    request instanceof URLSearchParams
      ? request
      : new URL(typeof request === 'string' ? request : request.href).searchParams;
  const encoded = params.get('SAMLRequest');
  if (!encoded) throw new Error('SAMLRequest is missing');
  const xml = inflateRawSync(Buffer.from(encoded, 'base64')).toString('utf8');
  return parseAuthnRequestXml(xml, params.get('RelayState') ?? undefined);
}

/** Reads an AuthnRequest's XML (the POST binding sends it base64-encoded, not deflated). */
export function parseAuthnRequestXml(xml: string, relayState: string | undefined): ParsedAuthnRequest {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new Error('a DOCTYPE is not allowed in an AuthnRequest');
  const errors: string[] = [];
  const doc = new DOMParser({
    errorHandler: { error: (m) => errors.push(m), fatalError: (m) => errors.push(m) },
  }).parseFromString(xml, 'text/xml');
  const root = doc.documentElement;
  if (
    errors.length > 0 ||
    !root ||
    root.localName !== 'AuthnRequest' ||
    root.namespaceURI !== SAML_PROTOCOL
  ) {
    throw new Error('not an AuthnRequest');
  }
  const child = (parent: Element, name: string) =>
    Array.from(parent.childNodes as unknown as Node[]).find(
      (n): n is Element =>
        n.nodeType === 1 &&
        (n as Element).localName === name &&
        (n as Element).namespaceURI === SAML_ASSERTION,
    );
  const issuer = child(root as unknown as Element, 'Issuer')?.textContent?.trim();
  if (!issuer) throw new Error('the AuthnRequest has no Issuer');
  const id = root.getAttribute('ID');
  if (!id) throw new Error('the AuthnRequest has no ID');
  const subject = child(root as unknown as Element, 'Subject');
  const nameId = subject ? child(subject, 'NameID')?.textContent?.trim() : undefined;
  return {
    id,
    issuer,
    destination: root.getAttribute('Destination') || undefined,
    acsUrl: root.getAttribute('AssertionConsumerServiceURL') || undefined,
    subjectHint: nameId || undefined,
    forceAuthn: root.getAttribute('ForceAuthn') === 'true',
    relayState,
  };
}
