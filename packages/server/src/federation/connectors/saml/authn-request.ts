import { deflateRawSync } from 'node:zlib';
import { escapeXml, NS } from './xml.js';

export const NAMEID_FORMAT = {
  persistent: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  unspecified: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
  emailAddress: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
} as const;

/**
 * How the email typed on Latchkey's page reaches the IdP:
 * - `subject`: `<Subject><NameID Format="…emailAddress">` in the AuthnRequest (SAML Core §3.4.1);
 *   honoured by Okta, OneLogin, Shibboleth, Keycloak, ADFS.
 * - `login_hint`: a `login_hint` query parameter next to `SAMLRequest`. Microsoft Entra ID refuses a
 *   Subject (AADSTS900236) and reads this parameter instead.
 * - `none`: no hint, for an IdP that rejects both.
 */
export type SamlLoginHintBinding = 'subject' | 'login_hint' | 'none';

export interface AuthnRequestInput {
  id: string;
  issueInstant: number;
  spEntityId: string;
  acsUrl: string;
  ssoUrl: string;
  nameIdFormat: string;
  subjectHint?: string | undefined;
  forceAuthn?: boolean | undefined;
}

/** An AuthnRequest (SAML Core §3.4.1) asking for an HTTP-POST response to the ACS URL. */
export function buildAuthnRequest(input: AuthnRequestInput): string {
  const subject = input.subjectHint
    ? `<saml:Subject><saml:NameID Format="${NAMEID_FORMAT.emailAddress}">${escapeXml(input.subjectHint)}</saml:NameID></saml:Subject>`
    : '';
  return (
    `<samlp:AuthnRequest xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}"` +
    ` ID="${escapeXml(input.id)}" Version="2.0" IssueInstant="${new Date(input.issueInstant).toISOString()}"` +
    ` Destination="${escapeXml(input.ssoUrl)}"` +
    ` ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"` +
    ` AssertionConsumerServiceURL="${escapeXml(input.acsUrl)}"` +
    (input.forceAuthn ? ' ForceAuthn="true"' : '') +
    '>' +
    `<saml:Issuer>${escapeXml(input.spEntityId)}</saml:Issuer>` +
    subject +
    `<samlp:NameIDPolicy Format="${escapeXml(input.nameIdFormat)}" AllowCreate="true"/>` +
    '</samlp:AuthnRequest>'
  );
}

/** The HTTP-Redirect binding (SAML Bindings §3.4.4.1): DEFLATE, base64, then the query string. */
export function redirectBindingUrl(
  ssoUrl: string,
  request: string,
  relayState: string,
  extra: Record<string, string> = {},
): string {
  const url = new URL(ssoUrl);
  url.searchParams.set('SAMLRequest', deflateRawSync(Buffer.from(request, 'utf8')).toString('base64'));
  // SAML Bindings §3.4.3: RelayState must not exceed 80 bytes.
  if (Buffer.byteLength(relayState) > 80) throw new Error('RelayState longer than 80 bytes');
  url.searchParams.set('RelayState', relayState);
  for (const [name, value] of Object.entries(extra)) url.searchParams.set(name, value);
  return url.href;
}
