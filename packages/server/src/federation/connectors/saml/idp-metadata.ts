import { X509Certificate } from 'node:crypto';
import { ServerError } from '../../../errors/server-error.js';
import { UpstreamError } from '../types.js';
import {
  attributeOf,
  childElements,
  isElement,
  NS,
  parseUntrustedXml,
  textOf,
  XmlRefusedError,
} from './xml.js';

const REDIRECT_BINDING = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const POST_BINDING = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';

/** What Latchkey needs from an IdP's metadata (SAML Metadata §2.4.3). */
export interface IdpMetadata {
  entityId: string;
  /** The SingleSignOnService location for the HTTP-Redirect binding. */
  ssoRedirectUrl: string;
  /** Every signing certificate (PEM): during a rotation the IdP publishes the old and the new one. */
  signingCertificates: string[];
  /** The SingleSignOnService location for the HTTP-POST binding, when the IdP offers it. */
  ssoPostUrl?: string | undefined;
  /** The SingleLogoutService location for the HTTP-Redirect binding (where LogoutResponses go). */
  sloRedirectUrl?: string | undefined;
  /** The IdP wants signed AuthnRequests: a connection with an SP key signs them by default. */
  wantAuthnRequestsSigned: boolean;
}

/** Metadata that cannot be used; the message names what is wrong, for the administrator. */
export class SamlMetadataError extends ServerError {
  override readonly name = 'SamlMetadataError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalid_metadata', message, options);
  }
}

export function parseIdpMetadata(xml: string): IdpMetadata {
  let doc: Document;
  try {
    doc = parseUntrustedXml(xml);
  } catch (error) {
    throw new SamlMetadataError(`IdP metadata refused: ${(error as Error).message}`, { cause: error });
  }
  const root = doc.documentElement;
  const entities = isElement(root, NS.metadata, 'EntitiesDescriptor')
    ? childElements(root, NS.metadata, 'EntityDescriptor')
    : isElement(root, NS.metadata, 'EntityDescriptor')
      ? [root]
      : [];
  const idps = entities.filter((entity) => childElements(entity, NS.metadata, 'IDPSSODescriptor').length > 0);
  if (idps.length !== 1) {
    throw new SamlMetadataError(
      idps.length === 0
        ? 'IdP metadata has no EntityDescriptor with an IDPSSODescriptor'
        : 'IdP metadata describes several IdPs; give the metadata of one',
    );
  }
  const entity = idps[0]!;
  const entityId = attributeOf(entity, 'entityID')?.trim();
  if (!entityId) throw new SamlMetadataError('IdP metadata has no entityID');
  const descriptor = childElements(entity, NS.metadata, 'IDPSSODescriptor').find((d) =>
    (attributeOf(d, 'protocolSupportEnumeration') ?? '').split(/\s+/).includes(NS.protocol),
  );
  if (!descriptor) throw new SamlMetadataError('IdP metadata does not support the SAML 2.0 protocol');

  const sso = childElements(descriptor, NS.metadata, 'SingleSignOnService').find(
    (service) => attributeOf(service, 'Binding') === REDIRECT_BINDING,
  );
  const ssoRedirectUrl = sso && attributeOf(sso, 'Location');
  if (
    !ssoRedirectUrl ||
    !URL.canParse(ssoRedirectUrl) ||
    !/^https?:$/.test(new URL(ssoRedirectUrl).protocol)
  ) {
    throw new SamlMetadataError('IdP metadata has no SingleSignOnService for the HTTP-Redirect binding');
  }

  const post = childElements(descriptor, NS.metadata, 'SingleSignOnService').find(
    (service) => attributeOf(service, 'Binding') === POST_BINDING,
  );
  const postLocation = post && attributeOf(post, 'Location');
  const ssoPostUrl =
    postLocation && URL.canParse(postLocation) && /^https?:$/.test(new URL(postLocation).protocol)
      ? postLocation
      : undefined;

  const slo = childElements(descriptor, NS.metadata, 'SingleLogoutService').find(
    (service) => attributeOf(service, 'Binding') === REDIRECT_BINDING,
  );
  const sloLocation = slo && attributeOf(slo, 'Location');
  const sloRedirectUrl =
    sloLocation && URL.canParse(sloLocation) && /^https?:$/.test(new URL(sloLocation).protocol)
      ? sloLocation
      : undefined;

  const signingCertificates: string[] = [];
  for (const keyDescriptor of childElements(descriptor, NS.metadata, 'KeyDescriptor')) {
    // A KeyDescriptor without `use` serves both signing and encryption (SAML Metadata §2.4.1.1).
    if ((attributeOf(keyDescriptor, 'use') ?? 'signing') !== 'signing') continue;
    for (const keyInfo of childElements(keyDescriptor, NS.dsig, 'KeyInfo')) {
      for (const data of childElements(keyInfo, NS.dsig, 'X509Data')) {
        for (const certificate of childElements(data, NS.dsig, 'X509Certificate')) {
          signingCertificates.push(toPem(certificate));
        }
      }
    }
  }
  if (signingCertificates.length === 0)
    throw new SamlMetadataError('IdP metadata has no signing certificate');

  return {
    entityId,
    ssoRedirectUrl,
    ssoPostUrl,
    sloRedirectUrl,
    signingCertificates: [...new Set(signingCertificates)],
    wantAuthnRequestsSigned: attributeOf(descriptor, 'WantAuthnRequestsSigned') === 'true',
  };
}

function toPem(element: Element): string {
  let base64: string;
  try {
    base64 = textOf(element).replace(/\s+/g, '');
  } catch (error) {
    if (error instanceof XmlRefusedError)
      throw new SamlMetadataError('IdP metadata has a malformed certificate');
    throw error;
  }
  try {
    // Expiry is not checked: in SAML the metadata is the trust anchor, and IdP certificates are
    // routinely self-signed and used past their notAfter.
    return new X509Certificate(Buffer.from(base64, 'base64')).toString();
  } catch (error) {
    throw new SamlMetadataError('IdP metadata has a certificate that does not parse', { cause: error });
  }
}

/** Where the connector gets the current metadata. */
export interface IdpMetadataSource {
  current(): Promise<IdpMetadata>;
}

export function staticIdpMetadata(xml: string): IdpMetadataSource {
  const metadata = parseIdpMetadata(xml);
  return { current: async () => metadata };
}

export interface RemoteIdpMetadataOptions {
  url: string;
  refreshMs: number;
  fetch: typeof fetch;
  now: () => number;
  timeoutMs?: number;
}

const MAX_METADATA_BYTES = 1024 * 1024;
const RETRY_AFTER_FAILURE_MS = 60_000;

/**
 * Metadata fetched from the IdP and fetched again once older than `refreshMs`, so a certificate the
 * IdP publishes ahead of a rotation is trusted before it signs. One fetch at a time; when a refresh
 * fails the last good metadata stays in use, since an IdP outage should not end sign-ins the
 * metadata still describes.
 */
export function remoteIdpMetadata(options: RemoteIdpMetadataOptions): IdpMetadataSource {
  const url = new URL(options.url);
  const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
  // Metadata carries the trust anchors: over plain http anyone on the path could swap the certificates.
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new SamlMetadataError('idpMetadataUrl must use https');
  }
  let cached: { metadata: IdpMetadata; fetchedAt: number } | undefined;
  let inFlight: Promise<IdpMetadata> | undefined;
  let failedAt = Number.NEGATIVE_INFINITY;

  async function load(): Promise<IdpMetadata> {
    let response: Response;
    try {
      response = await options.fetch(url, {
        headers: { accept: 'application/samlmetadata+xml, application/xml, text/xml' },
        redirect: 'error',
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
    } catch (error) {
      const timedOut = (error as Error).name === 'TimeoutError';
      throw new UpstreamError(
        timedOut ? 'upstream_timeout' : 'upstream_unreachable',
        'The identity provider could not be reached. Please try again later.',
        { cause: error },
      );
    }
    if (!response.ok) {
      throw new UpstreamError(
        'upstream_unreachable',
        'The identity provider could not be reached. Please try again later.',
        {
          cause: new Error(`IdP metadata: HTTP ${response.status}`),
        },
      );
    }
    const body = await response.text();
    if (Buffer.byteLength(body) > MAX_METADATA_BYTES)
      throw new SamlMetadataError('IdP metadata is larger than 1 MiB');
    const metadata = parseIdpMetadata(body);
    cached = { metadata, fetchedAt: options.now() };
    return metadata;
  }

  return {
    async current() {
      const now = options.now();
      if (cached && now - cached.fetchedAt < options.refreshMs) return cached.metadata;
      // After a failed refresh, wait a little before the next try rather than fetch on every sign-in.
      if (cached && now - failedAt < Math.min(options.refreshMs, RETRY_AFTER_FAILURE_MS))
        return cached.metadata;
      inFlight ??= load()
        .catch((error: unknown) => {
          failedAt = options.now();
          throw error;
        })
        .finally(() => {
          inFlight = undefined;
        });
      if (!cached) return inFlight;
      const stale = cached.metadata;
      return inFlight.catch(() => stale);
    },
  };
}
