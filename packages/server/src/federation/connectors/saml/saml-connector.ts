import { randomBytes } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import {
  generateServiceProviderMetadata,
  SAML,
  SamlStatusError,
  ValidateInResponseTo,
} from '@node-saml/node-saml';
import {
  type FinishSignInInput,
  type RedirectConnector,
  type StartSignInInput,
  type StartSignInResult,
  UpstreamError,
  type UpstreamErrorCode,
  type VerifiedIdentity,
} from '../types.js';
import { buildAuthnRequest, NAMEID_FORMAT, type SamlLoginHintBinding } from './authn-request.js';
import {
  type IdpMetadata,
  type IdpMetadataSource,
  remoteIdpMetadata,
  staticIdpMetadata,
} from './idp-metadata.js';
import { type AuthnRequestBinding, sendAuthnRequest } from './request-binding.js';
import type { SamlReplayStore, SamlRequestStore } from './stores.js';
import {
  assertNoCommentsOrInstructions,
  attributeOf,
  childElements,
  instantOf,
  isElement,
  NS,
  onlyChild,
  parseUntrustedXml,
  textOf,
  XmlRefusedError,
} from './xml.js';

/** Which SAML attributes (by `Name`) carry what Latchkey needs. */
export interface SamlAttributeMapping {
  /** An attribute with a stable, never reassigned user id; without it the persistent NameID is the subject. */
  subject?: string | undefined;
  email: string;
  name?: string | undefined;
  /** A multi-valued attribute; each value is one group. */
  groups?: string | undefined;
}

export interface SamlConnectorOptions {
  /** The connection id; becomes `VerifiedIdentity.connectionId`. */
  id: string;
  /** Latchkey's SP entity id: the Issuer of its requests and the Audience it accepts. */
  spEntityId: string;
  /** The Assertion Consumer Service URL (HTTP-POST). Destination and Recipient must equal it. */
  callbackUrl: string;
  /** The IdP metadata XML, as the IdP's administrator exported it. Give this or `idpMetadataUrl`. */
  idpMetadataXml?: string | undefined;
  /** Where the IdP publishes its metadata (https, or http on loopback); fetched again every `metadataRefreshMs`. */
  idpMetadataUrl?: string | undefined;
  attributes: SamlAttributeMapping;
  /**
   * The organization's domains. SAML has no `email_verified`: an email is vouched for only when its
   * domain is one of these (this blocks the "nOAuth" class of account takeover).
   */
  domains?: readonly string[] | undefined;
  /** Allowed difference between the IdP's clock and ours. Default 60 s. */
  clockSkewMs?: number | undefined;
  /** Default 1 hour. */
  metadataRefreshMs?: number | undefined;
  /** How long a sent AuthnRequest may be answered. Default 10 minutes. */
  requestTtlMs?: number | undefined;
  /** How the typed email reaches the IdP. Default `subject`; `login_hint` for Microsoft Entra ID. */
  loginHintBinding?: SamlLoginHintBinding | undefined;
  /**
   * NameID formats accepted as the subject when `attributes.subject` is not set. Default: persistent
   * only — an email-format NameID can be reassigned to another person, and a transient one changes
   * on every sign-in.
   */
  acceptedNameIdFormats?: readonly string[] | undefined;
  fetch?: typeof fetch | undefined;
  /**
   * Latchkey's SP key (PKCS#8 PEM) and its certificate (PEM): they sign AuthnRequests and decrypt
   * encrypted assertions; the SP metadata publishes the certificate for both uses.
   */
  spPrivateKey?: string | undefined;
  spCertificate?: string | undefined;
  /** Latchkey's SingleLogoutService URL for this connection, published in the SP metadata. */
  logoutUrl?: string | undefined;
  /** Sign AuthnRequests. Default: when the IdP's metadata says `WantAuthnRequestsSigned` and there is an SP key. */
  signAuthnRequests?: boolean | undefined;
  /** How the AuthnRequest travels. Default `redirect`; `post` needs an HTTP-POST SingleSignOnService. */
  authnRequestBinding?: AuthnRequestBinding | undefined;
  /** Refuse an assertion that was not encrypted to the SP certificate. Default false (encrypted ones are always decrypted). */
  wantAssertionsEncrypted?: boolean | undefined;
}

export interface SamlConnectorDeps {
  requestStore: SamlRequestStore;
  replayStore: SamlReplayStore;
  /** Clock for request expiry, subject confirmation, conditions and replay records (node-saml also checks Conditions on the system clock). */
  now?: () => number;
}

/** An IdP-initiated LogoutRequest that passed every check (SAML Profiles §4.4.4.1). */
export interface VerifiedLogoutRequest {
  /** The NameID it names: the upstream subject of the identity to sign out. */
  subject: string;
  sessionIndex?: string | undefined;
  /** Where to send the browser: the LogoutResponse (Success) to the IdP's SingleLogoutService. */
  responseUrl: string;
}

export interface SamlConnector extends RedirectConnector {
  readonly type: 'saml';
  /**
   * Verifies an IdP-initiated LogoutRequest on the HTTP-Redirect binding: signed by a certificate of
   * the IdP's metadata (an unsigned one is refused: anyone could sign anyone out), from the IdP's
   * entity id, seen once. Throws UpstreamError otherwise.
   */
  verifyLogoutRequest(input: {
    query: Record<string, string>;
    rawQuery: string;
  }): Promise<VerifiedLogoutRequest>;
  /**
   * SP-initiated single logout (SAML Profiles §4.4.3): the IdP's SingleLogoutService URL with a
   * LogoutRequest signed by the SP key for this NameID and SessionIndex (HTTP-Redirect), its ID kept
   * for the answer. Undefined when the connection cannot do it (no SingleLogoutService in the IdP
   * metadata, no SP key, or a subject that is not the NameID).
   */
  startLogout(input: {
    subject: string;
    nameIdFormat?: string | undefined;
    sessionIndex?: string | undefined;
  }): Promise<string | undefined>;
  /**
   * Verifies the IdP's LogoutResponse to a LogoutRequest of `startLogout` (HTTP-Redirect): signed by
   * a certificate of the IdP's metadata, from its entity id, Success, answering a request Latchkey
   * sent and has not seen answered. Throws UpstreamError otherwise.
   */
  verifyLogoutResponse(input: { query: Record<string, string>; rawQuery: string }): Promise<void>;
  /** The SP metadata XML to give the IdP's administrator (entity id, ACS URL, NameID format). */
  spMetadata(): string;
}

/** What `startSignIn` leaves in `pending` (stored server-side by Latchkey, never shown to the user). */
interface SamlPending {
  requestId: string;
  relayState: string;
}

const DEFAULTS = {
  clockSkewMs: 60_000,
  metadataRefreshMs: 3_600_000,
  requestTtlMs: 10 * 60_000,
};
const MAX_RESPONSE_BASE64_BYTES = 256 * 1024;
const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';
const STATUS_SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';

/** Safe to show: no XML, no upstream message, no stack. */
const PUBLIC_MESSAGES: Record<UpstreamErrorCode, string> = {
  upstream_unreachable: 'The identity provider could not be reached. Please try again later.',
  upstream_timeout: 'The identity provider did not answer in time. Please try again later.',
  access_denied: 'Your identity provider did not sign you in.',
  invalid_response: 'Your identity provider sent a sign-in response that Latchkey cannot accept.',
  invalid_signature: 'The sign-in response from your identity provider could not be verified.',
  state_mismatch:
    'This sign-in response does not match a sign-in started here, or it has expired. Please start again.',
  wrong_hosted_domain: 'This account does not belong to the expected organization.',
  wrong_tenant: 'This account does not belong to the expected organization.',
  email_unverified: 'Your identity provider did not confirm your email address.',
  replayed: 'This sign-in response was already used. Please start again.',
  expired: 'The sign-in response is outside its validity period. Check your device clock and start again.',
  wrong_audience: 'The sign-in response was meant for another service.',
  subject_mismatch: 'Your identity provider answered for a different account. Please start again.',
  client_authentication_failed:
    'Sign-in with your organization is misconfigured. Please ask your administrator to check it.',
};

function fail(code: UpstreamErrorCode, reason: string, cause?: unknown): never {
  // `reason` goes to logs and audit through `cause`; the user sees only the public message.
  throw new UpstreamError(code, PUBLIC_MESSAGES[code], { cause: cause ?? new Error(reason) });
}

/**
 * A SAML 2.0 service provider for one IdP: SP-initiated sign-in with an HTTP-Redirect AuthnRequest
 * and an HTTP-POST response (SAML Profiles §4.1, Web Browser SSO).
 *
 * node-saml verifies the XML signature over the assertion (with every certificate the metadata
 * publishes), the audience and the Conditions time window. Everything that must hold across server
 * processes — InResponseTo matching a request we sent, one-time use of assertions — and what node-saml
 * does not check (Recipient, Destination, Issuer, the subject confirmation window) is done here, on
 * the signed assertion node-saml returns, never on the unverified document.
 */
export function createSamlConnector(options: SamlConnectorOptions, deps: SamlConnectorDeps): SamlConnector {
  const now = deps.now ?? Date.now;
  const clockSkewMs = options.clockSkewMs ?? DEFAULTS.clockSkewMs;
  const requestTtlMs = options.requestTtlMs ?? DEFAULTS.requestTtlMs;
  const loginHintBinding = options.loginHintBinding ?? 'subject';
  const acceptedNameIdFormats = options.acceptedNameIdFormats ?? [NAMEID_FORMAT.persistent];
  const nameIdFormat = options.attributes.subject ? NAMEID_FORMAT.unspecified : NAMEID_FORMAT.persistent;
  const domains = new Set((options.domains ?? []).map((domain) => domain.toLowerCase()));
  const binding = options.authnRequestBinding ?? 'redirect';
  if (!!options.spPrivateKey !== !!options.spCertificate) {
    throw new TypeError(`SAML connection ${options.id}: give sp_private_key and sp_certificate together`);
  }
  if ((options.signAuthnRequests || options.wantAssertionsEncrypted) && !options.spPrivateKey) {
    throw new TypeError(
      `SAML connection ${options.id}: signed requests and encrypted assertions need sp_private_key and sp_certificate`,
    );
  }

  if (!!options.idpMetadataXml === !!options.idpMetadataUrl) {
    throw new TypeError(
      `SAML connection ${options.id}: give exactly one of idpMetadataXml and idpMetadataUrl`,
    );
  }
  const metadataSource: IdpMetadataSource = options.idpMetadataXml
    ? staticIdpMetadata(options.idpMetadataXml)
    : remoteIdpMetadata({
        url: options.idpMetadataUrl!,
        refreshMs: options.metadataRefreshMs ?? DEFAULTS.metadataRefreshMs,
        fetch: options.fetch ?? globalThis.fetch,
        now,
      });

  // One node-saml instance per metadata version: it caches the certificates it was built with.
  const verifiers = new WeakMap<IdpMetadata, SAML>();
  function verifierFor(metadata: IdpMetadata): SAML {
    let saml = verifiers.get(metadata);
    if (!saml) {
      saml = new SAML({
        idpCert: metadata.signingCertificates,
        issuer: options.spEntityId,
        callbackUrl: options.callbackUrl,
        audience: options.spEntityId,
        // The assertion itself must be signed: a signature on the response alone leaves the assertion
        // open to being swapped, and IdPs differ on which one they sign.
        wantAssertionsSigned: true,
        wantAuthnResponseSigned: false,
        acceptedClockSkewMs: clockSkewMs,
        // Checked below against shared storage, atomically; node-saml's cache is per process.
        validateInResponseTo: ValidateInResponseTo.never,
        identifierFormat: nameIdFormat,
        // node-saml decrypts an EncryptedAssertion (xml-encryption) before checking its signature.
        ...(options.spPrivateKey ? { decryptionPvk: options.spPrivateKey } : {}),
      });
      verifiers.set(metadata, saml);
    }
    return saml;
  }

  async function currentMetadata(): Promise<IdpMetadata> {
    try {
      return await metadataSource.current();
    } catch (error) {
      if (error instanceof UpstreamError) throw error;
      return fail('upstream_unreachable', 'IdP metadata unusable', error);
    }
  }

  return {
    kind: 'redirect',
    type: 'saml',
    id: options.id,

    async startSignIn(input: StartSignInInput): Promise<StartSignInResult> {
      const metadata = await currentMetadata();
      // An xs:ID must start with a letter or underscore (SAML Core §1.3.4).
      const requestId = `_${randomBytes(20).toString('hex')}`;
      const issuedAt = now();
      const hint = input.loginHint?.trim() || undefined;
      const request = buildAuthnRequest({
        id: requestId,
        issueInstant: issuedAt,
        spEntityId: options.spEntityId,
        acsUrl: options.callbackUrl,
        ssoUrl: metadata.ssoRedirectUrl,
        nameIdFormat,
        subjectHint: loginHintBinding === 'subject' ? hint : undefined,
        forceAuthn: input.forceAuthn,
      });
      const extra: Record<string, string> =
        loginHintBinding === 'login_hint' && hint ? { login_hint: hint } : {};
      const sign = options.signAuthnRequests ?? (metadata.wantAuthnRequestsSigned && !!options.spPrivateKey);
      if (binding === 'post' && !metadata.ssoPostUrl) {
        fail('upstream_unreachable', 'IdP metadata has no HTTP-POST SingleSignOnService');
      }
      const outgoing = await sendAuthnRequest({
        xml: request,
        ssoUrl: binding === 'post' ? (metadata.ssoPostUrl as string) : metadata.ssoRedirectUrl,
        relayState: input.state,
        extra,
        binding,
        signingKey: sign ? options.spPrivateKey : undefined,
        idpCert: metadata.signingCertificates,
        spEntityId: options.spEntityId,
        callbackUrl: options.callbackUrl,
      });
      await deps.requestStore.save(requestId, issuedAt + requestTtlMs);
      const pending: SamlPending = { requestId, relayState: input.state };
      return {
        url: outgoing.url,
        ...(outgoing.form ? { form: outgoing.form } : {}),
        pending: { ...pending },
      };
    },

    async finishSignIn(input: FinishSignInInput): Promise<VerifiedIdentity> {
      const pending = readPending(input.pending);
      const received = readPostedResponse(input.body, pending);
      checkStatus(received.response);
      const metadata = await currentMetadata();
      const assertion = await verifySignedAssertion(verifierFor(metadata), received.base64);
      const checked = checkAssertion(assertion, received.response, metadata, pending);
      if (
        !(await deps.replayStore.remember(`saml:${options.id}:${checked.assertionId}`, checked.keepUntil))
      ) {
        fail('replayed', 'assertion ID seen before');
      }
      if (!(await deps.requestStore.consume(pending.requestId))) {
        fail('state_mismatch', 'AuthnRequest unknown, expired or already answered');
      }
      return toIdentity(assertion, checked.authenticatedAt);
    },

    async verifyLogoutRequest(input): Promise<VerifiedLogoutRequest> {
      const metadata = await currentMetadata();
      if (!metadata.sloRedirectUrl) fail('invalid_response', 'IdP metadata has no SingleLogoutService');
      if (options.attributes.subject) {
        fail('invalid_response', 'single logout needs the NameID as the subject (attributes.subject is set)');
      }
      const { query } = input;
      if (!query.SAMLRequest || !query.Signature || !query.SigAlg) {
        // node-saml accepts an unsigned redirect message; an IdP-initiated logout must be signed.
        fail('invalid_signature', 'unsigned LogoutRequest');
      }
      const saml = new SAML({
        idpCert: metadata.signingCertificates,
        issuer: options.spEntityId,
        callbackUrl: options.callbackUrl,
        // node-saml builds the LogoutResponse URL on `logoutUrl` but insists on an `entryPoint` too.
        entryPoint: metadata.ssoRedirectUrl,
        logoutUrl: metadata.sloRedirectUrl,
        idpIssuer: metadata.entityId,
        validateInResponseTo: ValidateInResponseTo.never,
        acceptedClockSkewMs: clockSkewMs,
        ...(options.spPrivateKey
          ? { privateKey: options.spPrivateKey, signatureAlgorithm: 'sha256' as const }
          : {}),
      });
      let profile: Awaited<ReturnType<SAML['validateRedirectAsync']>>['profile'];
      try {
        ({ profile } = await saml.validateRedirectAsync(query, input.rawQuery));
      } catch (error) {
        return fail(classifyNodeSamlError(error), 'node-saml refused the LogoutRequest', error);
      }
      if (!profile?.nameID) return fail('invalid_response', 'LogoutRequest without NameID');
      if (profile.issuer !== metadata.entityId) fail('invalid_response', 'LogoutRequest from another issuer');
      const id = typeof profile.ID === 'string' ? profile.ID : undefined;
      if (!id) fail('invalid_response', 'LogoutRequest without ID');
      if (!(await deps.replayStore.remember(`saml-logout:${options.id}:${id}`, now() + 24 * 3600_000))) {
        fail('replayed', 'LogoutRequest ID seen before');
      }
      const responseUrl = await saml.getLogoutResponseUrlAsync(profile, query.RelayState ?? '', {}, true);
      return { subject: profile.nameID, sessionIndex: profile.sessionIndex, responseUrl };
    },

    async startLogout(input): Promise<string | undefined> {
      const metadata = await currentMetadata();
      if (!metadata.sloRedirectUrl || !options.spPrivateKey || options.attributes.subject) return undefined;
      const requestId = `_${randomBytes(20).toString('hex')}`;
      const saml = new SAML({
        idpCert: metadata.signingCertificates,
        issuer: options.spEntityId,
        callbackUrl: options.callbackUrl,
        entryPoint: metadata.ssoRedirectUrl,
        logoutUrl: metadata.sloRedirectUrl,
        // Our own ID, kept in the shared request store (node-saml's InResponseTo cache is per process).
        generateUniqueId: () => requestId,
        privateKey: options.spPrivateKey,
        signatureAlgorithm: 'sha256',
      });
      // Kept apart from AuthnRequest IDs: a LogoutResponse can never consume a pending sign-in.
      await deps.requestStore.save(`logout:${requestId}`, now() + requestTtlMs);
      return saml.getLogoutUrlAsync(
        {
          issuer: metadata.entityId,
          nameID: input.subject,
          nameIDFormat: input.nameIdFormat ?? NAMEID_FORMAT.persistent,
          ...(input.sessionIndex ? { sessionIndex: input.sessionIndex } : {}),
        },
        '',
        {},
      );
    },

    async verifyLogoutResponse(input): Promise<void> {
      const metadata = await currentMetadata();
      const { query } = input;
      if (!query.SAMLResponse || !query.Signature || !query.SigAlg) {
        // node-saml accepts an unsigned redirect message: anyone could claim the IdP signed the person out.
        fail('invalid_signature', 'unsigned LogoutResponse');
      }
      const saml = new SAML({
        idpCert: metadata.signingCertificates,
        issuer: options.spEntityId,
        callbackUrl: options.callbackUrl,
        entryPoint: metadata.ssoRedirectUrl,
        idpIssuer: metadata.entityId,
        validateInResponseTo: ValidateInResponseTo.never,
        acceptedClockSkewMs: clockSkewMs,
      });
      try {
        const { loggedOut } = await saml.validateRedirectAsync(query, input.rawQuery);
        if (!loggedOut) fail('invalid_response', 'not a LogoutResponse');
      } catch (error) {
        if (error instanceof UpstreamError) throw error;
        return fail(classifyNodeSamlError(error), 'node-saml refused the LogoutResponse', error);
      }
      // The signature checked out: read who it answers (and who sent it) from the same bytes.
      let response: Element | undefined;
      try {
        const xml = inflateRawSync(Buffer.from(query.SAMLResponse!, 'base64')).toString('utf8');
        response = parseUntrustedXml(xml).documentElement ?? undefined;
      } catch (error) {
        return fail('invalid_response', 'LogoutResponse is not XML', error);
      }
      if (!response || !isElement(response, NS.protocol, 'LogoutResponse')) {
        return fail('invalid_response', 'not a LogoutResponse');
      }
      const issuer = onlyChild(response, NS.assertion, 'Issuer');
      if (!issuer || textOf(issuer) !== metadata.entityId)
        fail('invalid_response', 'LogoutResponse from another issuer');
      const inResponseTo = attributeOf(response, 'InResponseTo');
      if (!inResponseTo || !(await deps.requestStore.consume(`logout:${inResponseTo}`))) {
        fail('state_mismatch', 'LogoutRequest unknown, expired or already answered');
      }
    },

    spMetadata(): string {
      const xml = generateServiceProviderMetadata({
        issuer: options.spEntityId,
        callbackUrl: options.callbackUrl,
        identifierFormat: nameIdFormat,
        wantAssertionsSigned: true,
        ...(options.logoutUrl ? { logoutCallbackUrl: options.logoutUrl } : {}),
        // One SP certificate for both uses: the IdP verifies our requests with it and encrypts to it.
        ...(options.spPrivateKey && options.spCertificate
          ? {
              privateKey: options.spPrivateKey,
              publicCerts: options.spCertificate,
              decryptionPvk: options.spPrivateKey,
              decryptionCert: options.spCertificate,
            }
          : {}),
      });
      // node-saml's generator names HTTP-POST for SingleLogoutService; Latchkey's SLO endpoint takes
      // the HTTP-Redirect binding (a signed query, SAML Bindings §3.4.4.1).
      return xml.replace(
        /(<SingleLogoutService Binding=")urn:oasis:names:tc:SAML:2\.0:bindings:HTTP-POST"/,
        '$1urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"',
      );
    },
  };

  function readPending(value: Record<string, unknown>): SamlPending {
    const { requestId, relayState } = value;
    if (typeof requestId !== 'string' || typeof relayState !== 'string') {
      fail('state_mismatch', 'pending state missing');
    }
    return { requestId, relayState };
  }

  function readPostedResponse(
    body: Record<string, string> | undefined,
    pending: SamlPending,
  ): { base64: string; response: Element } {
    const base64 = body?.SAMLResponse;
    if (typeof base64 !== 'string' || base64.length === 0) fail('invalid_response', 'no SAMLResponse');
    // RelayState is how Latchkey found `pending`; it must be the one this request was sent with.
    if (body?.RelayState !== pending.relayState) fail('state_mismatch', 'RelayState differs');
    if (base64.length > MAX_RESPONSE_BASE64_BYTES) fail('invalid_response', 'SAMLResponse too large');
    // Decoded exactly as node-saml decodes it, so both read the same document.
    const xml = Buffer.from(base64, 'base64').toString('utf8');
    try {
      const doc = parseUntrustedXml(xml);
      assertNoCommentsOrInstructions(doc);
      const response = doc.documentElement as unknown as Element;
      if (!isElement(response, NS.protocol, 'Response')) fail('invalid_response', 'not a SAML Response');
      // The connection wants assertions only encrypted to its certificate: a plain one is refused.
      if (options.wantAssertionsEncrypted && childElements(response, NS.assertion, 'Assertion').length > 0) {
        fail('invalid_response', 'assertion not encrypted');
      }
      return { base64, response };
    } catch (error) {
      if (error instanceof XmlRefusedError)
        fail('invalid_response', `SAMLResponse refused: ${error.message}`, error);
      throw error;
    }
  }

  /**
   * A refusal is usually unsigned and carries no assertion; reporting it unverified only ever ends
   * the sign-in. The upstream StatusMessage is kept out of the public message.
   */
  function checkStatus(response: Element): void {
    const status = onlyChildOrFail(response, NS.protocol, 'Status');
    const code = status && onlyChildOrFail(status, NS.protocol, 'StatusCode');
    const value = code && attributeOf(code, 'Value');
    if (value === STATUS_SUCCESS) return;
    const second = code && onlyChildOrFail(code, NS.protocol, 'StatusCode');
    fail(
      'access_denied',
      `SAML status ${value ?? 'missing'} ${(second && attributeOf(second, 'Value')) ?? ''}`.trim(),
    );
  }

  async function verifySignedAssertion(saml: SAML, base64: string): Promise<Element> {
    let assertionXml: string;
    try {
      const { profile } = await saml.validatePostResponseAsync({ SAMLResponse: base64 });
      const xml = profile?.getAssertionXml?.();
      if (!xml) return fail('invalid_response', 'no assertion');
      assertionXml = xml;
    } catch (error) {
      if (error instanceof UpstreamError) throw error;
      return fail(classifyNodeSamlError(error), 'node-saml refused the response', error);
    }
    // The canonical bytes the signature covers, as node-saml returned them: the only XML trusted below.
    try {
      const doc = parseUntrustedXml(assertionXml);
      assertNoCommentsOrInstructions(doc);
      const assertion = doc.documentElement as unknown as Element;
      if (!isElement(assertion, NS.assertion, 'Assertion'))
        fail('invalid_signature', 'signed node is not an Assertion');
      return assertion;
    } catch (error) {
      if (error instanceof XmlRefusedError)
        fail('invalid_response', `assertion refused: ${error.message}`, error);
      throw error;
    }
  }

  function checkAssertion(
    assertion: Element,
    response: Element,
    metadata: IdpMetadata,
    pending: SamlPending,
  ): { assertionId: string; keepUntil: number; authenticatedAt: number } {
    const at = now();
    const tooEarly = (notBefore: number | undefined) =>
      notBefore !== undefined && at + clockSkewMs < notBefore;
    const tooLate = (notOnOrAfter: number | undefined) =>
      notOnOrAfter !== undefined && at - clockSkewMs >= notOnOrAfter;
    try {
      const assertionId = attributeOf(assertion, 'ID');
      if (!assertionId) fail('invalid_response', 'assertion without ID');

      // Issuer: the signed assertion's, and the response's when it names one (SAML Profiles §4.1.4.2).
      const issuer = onlyChild(assertion, NS.assertion, 'Issuer');
      if (!issuer || textOf(issuer) !== metadata.entityId)
        fail('invalid_response', 'assertion from another issuer');
      const responseIssuer = onlyChild(response, NS.assertion, 'Issuer');
      if (responseIssuer && textOf(responseIssuer) !== metadata.entityId) {
        fail('invalid_response', 'response from another issuer');
      }

      // Destination is on the (often unsigned) response; the signed Recipient below is what counts.
      const destination = attributeOf(response, 'Destination');
      if (destination !== undefined && destination !== options.callbackUrl)
        fail('invalid_response', 'wrong Destination');
      const responseInResponseTo = attributeOf(response, 'InResponseTo');
      if (responseInResponseTo !== undefined && responseInResponseTo !== pending.requestId) {
        fail('state_mismatch', 'response InResponseTo is not our request');
      }

      // A bearer SubjectConfirmation for us, for our request, still valid (SAML Profiles §4.1.4.2).
      const subject = onlyChild(assertion, NS.assertion, 'Subject');
      if (!subject) fail('invalid_response', 'assertion without Subject');
      const bearers = childElements(subject, NS.assertion, 'SubjectConfirmation')
        .filter((confirmation) => attributeOf(confirmation, 'Method') === BEARER)
        .map((confirmation) => onlyChild(confirmation, NS.assertion, 'SubjectConfirmationData'));
      let confirmedUntil: number | undefined;
      let problem: [UpstreamErrorCode, string] = ['invalid_response', 'no bearer SubjectConfirmation'];
      for (const data of bearers) {
        const notOnOrAfter = data && instantOf(data, 'NotOnOrAfter');
        if (!data || attributeOf(data, 'Recipient') !== options.callbackUrl) {
          problem = ['invalid_response', 'wrong or missing Recipient'];
        } else if (attributeOf(data, 'InResponseTo') === undefined) {
          problem = ['state_mismatch', 'unsolicited response (no InResponseTo)'];
        } else if (attributeOf(data, 'InResponseTo') !== pending.requestId) {
          problem = ['state_mismatch', 'InResponseTo is not our request'];
        } else if (
          notOnOrAfter === undefined ||
          tooLate(notOnOrAfter) ||
          tooEarly(instantOf(data, 'NotBefore'))
        ) {
          problem = ['expired', 'subject confirmation outside its window'];
        } else {
          confirmedUntil = notOnOrAfter;
          break;
        }
      }
      if (confirmedUntil === undefined) fail(...problem);

      // Conditions: node-saml checked them on the system clock; checked again on ours, with the audience.
      const conditions = onlyChild(assertion, NS.assertion, 'Conditions');
      if (!conditions) fail('invalid_response', 'assertion without Conditions');
      const conditionsUntil = instantOf(conditions, 'NotOnOrAfter');
      if (tooEarly(instantOf(conditions, 'NotBefore')) || tooLate(conditionsUntil)) {
        fail('expired', 'conditions outside their window');
      }
      const restrictions = childElements(conditions, NS.assertion, 'AudienceRestriction');
      const forUs = (restriction: Element) =>
        childElements(restriction, NS.assertion, 'Audience').some(
          (audience) => textOf(audience) === options.spEntityId,
        );
      if (restrictions.length === 0 || !restrictions.every(forUs))
        fail('wrong_audience', 'audience is not us');

      const authn = childElements(assertion, NS.assertion, 'AuthnStatement')[0];
      if (!authn) fail('invalid_response', 'assertion without AuthnStatement');
      if (tooLate(instantOf(authn, 'SessionNotOnOrAfter'))) fail('expired', 'IdP session already over');
      const authenticatedAt = instantOf(authn, 'AuthnInstant') ?? at;

      // Remember the ID as long as any copy of the assertion could still be accepted.
      const keepUntil = Math.max(confirmedUntil, conditionsUntil ?? 0, at) + clockSkewMs;
      return { assertionId, keepUntil, authenticatedAt };
    } catch (error) {
      if (error instanceof XmlRefusedError)
        fail('invalid_response', `assertion refused: ${error.message}`, error);
      throw error;
    }
  }

  function toIdentity(assertion: Element, authenticatedAt: number): VerifiedIdentity {
    try {
      const attributes = readAttributes(assertion);
      const subjectElement = onlyChild(assertion, NS.assertion, 'Subject')!;
      const nameIdElement = onlyChild(subjectElement, NS.assertion, 'NameID');
      const nameId = nameIdElement ? textOf(nameIdElement) : undefined;
      const nameIdFormatReceived = nameIdElement
        ? (attributeOf(nameIdElement, 'Format') ?? NAMEID_FORMAT.unspecified)
        : undefined;

      let subject: string | undefined;
      if (options.attributes.subject) {
        subject = single(attributes, options.attributes.subject);
        if (!subject) fail('invalid_response', `subject attribute ${options.attributes.subject} missing`);
      } else {
        if (!nameId) fail('invalid_response', 'no NameID');
        if (!acceptedNameIdFormats.includes(nameIdFormatReceived!)) {
          fail('invalid_response', `NameID format ${nameIdFormatReceived} not accepted as a subject`);
        }
        subject = nameId;
      }

      const email = emailAttribute(single(attributes, options.attributes.email));
      const emailVerified = !!email && domains.has(email.slice(email.lastIndexOf('@') + 1));
      const groups = options.attributes.groups
        ? [...new Set(attributes.get(options.attributes.groups) ?? [])]
        : [];
      const name = options.attributes.name ? single(attributes, options.attributes.name) : undefined;
      const authn = childElements(assertion, NS.assertion, 'AuthnStatement')[0];

      return {
        connectionId: options.id,
        subject,
        // The interface's contract: an email only when vouched for. The received one stays in `raw`.
        email: emailVerified ? email : undefined,
        emailVerified,
        // SAML has no email_verified: an email attribute in an assertion signed by the organization's
        // own IdP counts as vouched for; the identity rule decides which domains are accepted.
        receivedEmail: email,
        receivedEmailVerified: email !== undefined,
        subjectLabel: email ?? nameId ?? subject,
        name,
        groups,
        authenticatedAt,
        ...(options.attributes.subject
          ? {}
          : {
              samlSession: {
                nameIdFormat: nameIdFormatReceived,
                sessionIndex: (authn && attributeOf(authn, 'SessionIndex')) || undefined,
              },
            }),
        raw: {
          issuer: textOf(onlyChild(assertion, NS.assertion, 'Issuer')!),
          nameId,
          nameIdFormat: nameIdFormatReceived,
          sessionIndex: authn && attributeOf(authn, 'SessionIndex'),
          // How the IdP authenticated the person (a second factor proves itself here: federation/second-factor.ts).
          authnContextClassRef: authnContextClassRef(authn),
          attributes: Object.fromEntries(attributes),
        },
      };
    } catch (error) {
      if (error instanceof XmlRefusedError)
        fail('invalid_response', `assertion refused: ${error.message}`, error);
      throw error;
    }
  }
}

function onlyChildOrFail(parent: Node, ns: string, localName: string): Element | undefined {
  try {
    return onlyChild(parent, ns, localName);
  } catch (error) {
    return fail('invalid_response', `malformed ${localName}`, error);
  }
}

/** Attribute values by Name; values that are not plain text (nested XML) are skipped. */
function readAttributes(assertion: Element): Map<string, string[]> {
  const values = new Map<string, string[]>();
  for (const statement of childElements(assertion, NS.assertion, 'AttributeStatement')) {
    for (const attribute of childElements(statement, NS.assertion, 'Attribute')) {
      const name = attributeOf(attribute, 'Name');
      if (!name) continue;
      const list = values.get(name) ?? [];
      for (const value of childElements(attribute, NS.assertion, 'AttributeValue')) {
        try {
          const text = textOf(value);
          if (text) list.push(text);
        } catch {
          // a complex value: not something Latchkey maps
        }
      }
      values.set(name, list);
    }
  }
  return values;
}

/** The attribute's value when it has exactly one; several values for a single-valued field are refused. */
function single(attributes: Map<string, string[]>, name: string): string | undefined {
  const list = attributes.get(name) ?? [];
  if (list.length > 1) fail('invalid_response', `attribute ${name} has several values`);
  return list[0];
}

/** An email attribute as the IdP sent it, if it is shaped like one: the domain lower-cased, the local part kept. */
function emailAttribute(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const email = value.trim();
  const at = email.lastIndexOf('@');
  if (at < 1 || at === email.length - 1 || /\s/.test(email) || email.indexOf('@') !== at) return undefined;
  return `${email.slice(0, at)}@${email.slice(at + 1).toLowerCase()}`;
}

/** node-saml reports failures as plain Errors; their messages are stable enough to sort into codes. */
function classifyNodeSamlError(error: unknown): UpstreamErrorCode {
  if (error instanceof SamlStatusError) return 'access_denied';
  const message = error instanceof Error ? error.message : String(error);
  if (/signature|signed|ID cannot refer|Referenced node/i.test(message)) return 'invalid_signature';
  if (/audience/i.test(message)) return 'wrong_audience';
  if (/expired|not yet valid/i.test(message)) return 'expired';
  return 'invalid_response';
}

function authnContextClassRef(authn: Element | undefined): string | undefined {
  const context = authn ? childElements(authn, NS.assertion, 'AuthnContext')[0] : undefined;
  const ref = context ? childElements(context, NS.assertion, 'AuthnContextClassRef')[0] : undefined;
  return ref ? textOf(ref) : undefined;
}
