import { createHash, randomBytes, sign, verify } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { DOMParser } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import { encrypt } from 'xml-encryption';
import { type ParsedAuthnRequest, parseAuthnRequestXml, parseRedirectAuthnRequest } from './authn-request.js';
import { craftResponse, escapeXml, type ResponseUser, type SamlResponseVariant } from './responses.js';
import { generateSigningKey, type SigningKey } from './signing-key.js';

export interface StandinSamlUser {
  email: string;
  password: string;
  name?: string | undefined;
  groups?: string[] | undefined;
  /** The persistent NameID; derived from the email when absent. */
  subject?: string | undefined;
  /** The AuthnContextClassRef of this user's assertions (e.g. a two-factor class). Default: PasswordProtectedTransport. */
  authnContextClassRef?: string | undefined;
}

export interface StandinSamlIdpOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  users: StandinSamlUser[];
  spEntityId: string;
  /** The service provider's Assertion Consumer Service URL (HTTP-POST binding). */
  acsUrl: string;
  /** The service provider's certificate (PEM), as its SP metadata publishes it: verifies its signed requests, and assertions are encrypted to it. */
  spCertificate?: string | undefined;
  /** `WantAuthnRequestsSigned="true"`: an AuthnRequest without a valid signature by `spCertificate` is refused. */
  requireSignedRequests?: boolean | undefined;
  /** Send the assertion encrypted to `spCertificate` (`EncryptedAssertion`, AES-256-GCM, RSA-OAEP). */
  encryptAssertions?: boolean | undefined;
  /** The service provider's SingleLogoutService (HTTP-Redirect), for IdP-initiated logout. */
  spSloUrl?: string | undefined;
}

/** An AuthnRequest as it reached the stand-in, for tests to assert on. */
export interface ReceivedAuthnRequest {
  binding: 'redirect' | 'post';
  /** A valid signature by the SP certificate (Redirect: `SigAlg`/`Signature`; POST: an enveloped XML signature). */
  signed: boolean;
  sigAlg?: string | undefined;
}

/** An SP-initiated LogoutRequest as it reached the stand-in (SAML Profiles §4.4.3), for tests to assert on. */
export interface ReceivedLogoutRequest {
  id: string;
  issuer?: string | undefined;
  nameId?: string | undefined;
  sessionIndex?: string | undefined;
  /** A valid HTTP-Redirect signature by the SP certificate. */
  signed: boolean;
  /** The StatusCode the stand-in answered with (Success only for a signed request from the SP). */
  answered: string;
}

/** The form fields an HTTP-POST binding response carries (SAML Bindings §3.5). */
export interface CraftedPost {
  body: { SAMLResponse: string; RelayState?: string };
  /** The response as sent, for debugging a failing test. */
  xml: string;
  assertionId: string;
}

export interface StandinSamlIdp {
  entityId: string;
  /** The IdP metadata: entity id, the HTTP-Redirect SSO endpoint and every published signing certificate. */
  readonly metadataXml: string;
  metadataUrl: string;
  ssoUrl: string;
  /** Every AuthnRequest received, oldest first. */
  readonly received: ReceivedAuthnRequest[];
  /**
   * An IdP-initiated LogoutRequest for a user (SAML Profiles §4.4) on the HTTP-Redirect binding,
   * signed with the IdP's key unless `signed: false`, to `spSloUrl`.
   */
  logoutRequestUrl(email: string, options?: { signed?: boolean; key?: 'idp' | 'foreign' }): string;
  /** The StatusCode of every LogoutResponse the service provider sent back, oldest first. */
  readonly logoutResponses: string[];
  /** Every LogoutRequest the service provider sent (SP-initiated logout), oldest first. */
  readonly logoutRequests: ReceivedLogoutRequest[];
  /**
   * A LogoutResponse (Success) to `spSloUrl` answering `inResponseTo`, signed with the IdP's key
   * unless `signed: false` (or with a key nobody published): what a forger would send.
   */
  logoutResponseUrl(inResponseTo: string, options?: { signed?: boolean; key?: 'idp' | 'foreign' }): string;
  /** Publishes a new signing certificate next to the old one and signs with it from now on (rotation). */
  rotateSigningKey(): void;
  /** Drops every published certificate but the current one (the end of a rotation). */
  retireOldSigningKeys(): void;
  /**
   * Builds a response to `request` (the redirect URL the service provider produced, or its parsed
   * AuthnRequest) without the sign-in page: `valid`, or an attack the service provider must refuse.
   */
  craft(
    variant: SamlResponseVariant,
    request: string | URL | ParsedAuthnRequest,
    options?: {
      /** The user to answer for; defaults to the request's Subject hint, then the first user. */
      email?: string;
      /** Sign with this published key (0 = the oldest) instead of the current one. */
      keyIndex?: number;
    },
  ): CraftedPost;
  close(): Promise<void>;
}

const PENDING_TTL_MS = 10 * 60_000;
const SAML_ASSERTION_NS = 'urn:oasis:names:tc:SAML:2.0:assertion';

/**
 * A SAML 2.0 IdP on 127.0.0.1 for tests and the demo: HTTP-Redirect AuthnRequests in, a sign-in page
 * (email prefilled from the request's Subject hint, password), and a signed HTTP-POST response out.
 * Its signing keys are generated at start; nothing here is fit for production.
 */
export async function startStandinSamlIdp(options: StandinSamlIdpOptions): Promise<StandinSamlIdp> {
  const users = options.users.map((user) => ({
    ...user,
    subject:
      user.subject ?? `u-${createHash('sha256').update(user.email.toLowerCase()).digest('hex').slice(0, 24)}`,
  }));
  const published: SigningKey[] = [generateSigningKey('Latchkey stand-in SAML IdP')];
  let signingKey = published[0]!;
  const foreignKey = generateSigningKey('Someone else');
  let lastAssertionId: string | undefined;
  const pending = new Map<string, { request: ParsedAuthnRequest; expiresAt: number }>();
  const received: ReceivedAuthnRequest[] = [];
  const logoutResponses: string[] = [];
  const logoutRequests: ReceivedLogoutRequest[] = [];

  /** SAML Bindings §3.4.4.1: sign the query as sent (SAMLRequest/SAMLResponse, RelayState, SigAlg). */
  function signedRedirect(
    target: string,
    query: URLSearchParams,
    how: { signed?: boolean; key?: 'idp' | 'foreign' } = {},
  ): string {
    if (how.signed !== false) {
      query.set('SigAlg', 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
      const key = how.key === 'foreign' ? foreignKey : signingKey;
      query.set(
        'Signature',
        sign('sha256', Buffer.from(query.toString()), key.privateKey).toString('base64'),
      );
    }
    return `${target}?${query.toString()}`;
  }

  function logoutResponseUrl(
    inResponseTo: string,
    how: { signed?: boolean; key?: 'idp' | 'foreign'; status?: string; relayState?: string } = {},
  ): string {
    if (!options.spSloUrl) throw new Error('no spSloUrl');
    const xml =
      `<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="${SAML_ASSERTION_NS}"` +
      ` ID="_${randomBytes(20).toString('hex')}" Version="2.0" IssueInstant="${new Date().toISOString()}"` +
      ` Destination="${escapeXml(options.spSloUrl)}" InResponseTo="${escapeXml(inResponseTo)}">` +
      `<saml:Issuer>${escapeXml(entityId)}</saml:Issuer>` +
      `<samlp:Status><samlp:StatusCode Value="${escapeXml(how.status ?? 'urn:oasis:names:tc:SAML:2.0:status:Success')}"/></samlp:Status>` +
      '</samlp:LogoutResponse>';
    const query = new URLSearchParams({
      SAMLResponse: deflateRawSync(Buffer.from(xml, 'utf8')).toString('base64'),
    });
    if (how.relayState) query.set('RelayState', how.relayState);
    return signedRedirect(options.spSloUrl, query, how);
  }

  function logoutRequestUrl(email: string, how: { signed?: boolean; key?: 'idp' | 'foreign' } = {}): string {
    const user = findUser(email);
    if (!user || !options.spSloUrl) throw new Error('no such user, or no spSloUrl');
    const xml =
      `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="${SAML_ASSERTION_NS}"` +
      ` ID="_${randomBytes(20).toString('hex')}" Version="2.0" IssueInstant="${new Date().toISOString()}"` +
      ` Destination="${escapeXml(options.spSloUrl)}">` +
      `<saml:Issuer>${escapeXml(entityId)}</saml:Issuer>` +
      `<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">${escapeXml(user.subject)}</saml:NameID>` +
      '</samlp:LogoutRequest>';
    const query = new URLSearchParams({
      SAMLRequest: deflateRawSync(Buffer.from(xml, 'utf8')).toString('base64'),
      RelayState: 'standin-logout',
    });
    if (how.signed !== false) {
      query.set('SigAlg', 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
      const key = how.key === 'foreign' ? foreignKey : signingKey;
      query.set(
        'Signature',
        sign('sha256', Buffer.from(query.toString()), key.privateKey).toString('base64'),
      );
    }
    return `${options.spSloUrl}?${query.toString()}`;
  }

  /** SAML Bindings §3.4.4.1: the signature covers the raw, URL-encoded query parameters as sent. */
  function redirectSignatureValid(rawQuery: string): { signed: boolean; sigAlg?: string } {
    const parts = new Map(
      rawQuery.split('&').map((part) => {
        const at = part.indexOf('=');
        return [part.slice(0, at), part] as const;
      }),
    );
    const signature = parts.get('Signature');
    const sigAlgPart = parts.get('SigAlg');
    if (!signature || !sigAlgPart || !options.spCertificate) return { signed: false };
    const sigAlg = decodeURIComponent(sigAlgPart.slice('SigAlg='.length).replace(/\+/g, ' '));
    const signedText = ['SAMLRequest', 'RelayState', 'SigAlg']
      .map((name) => parts.get(name))
      .filter((part): part is string => part !== undefined)
      .join('&');
    const algorithm = sigAlg === 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256' ? 'sha256' : undefined;
    if (!algorithm) return { signed: false, sigAlg };
    const value = Buffer.from(decodeURIComponent(signature.slice('Signature='.length)), 'base64');
    return { signed: verify(algorithm, Buffer.from(signedText), options.spCertificate, value), sigAlg };
  }

  /** SAML Bindings §3.5.4: an enveloped signature over the request element itself. */
  function postSignatureValid(xml: string, requestId: string): boolean {
    if (!options.spCertificate) return false;
    const doc = new DOMParser().parseFromString(xml, 'text/xml');
    const root = doc.documentElement;
    const signature = Array.from(root.childNodes as unknown as Node[]).find(
      (n) => n.nodeType === 1 && (n as Element).localName === 'Signature',
    );
    if (!signature) return false;
    const verifier = new SignedXml({ publicCert: options.spCertificate });
    verifier.loadSignature(signature as never);
    try {
      if (!verifier.checkSignature(xml)) return false;
    } catch {
      return false;
    }
    const references = (verifier as unknown as { references?: { uri?: string }[] }).references ?? [];
    return references.some((reference) => reference.uri === `#${requestId}`);
  }

  /** Replaces the signed Assertion with an EncryptedAssertion to the SP certificate (SAML Core §2.3.4). */
  async function encryptAssertion(xml: string): Promise<string> {
    const start = xml.indexOf('<saml:Assertion');
    const end = xml.indexOf('</saml:Assertion>') + '</saml:Assertion>'.length;
    if (start < 0 || end < start || !options.spCertificate) throw new Error('nothing to encrypt');
    // The assertion leaves the Response: it must declare the `saml` prefix it inherited (its
    // signature's exclusive canonicalization is unchanged by that).
    const assertion = xml
      .slice(start, end)
      .replace('<saml:Assertion', `<saml:Assertion xmlns:saml="${SAML_ASSERTION_NS}"`);
    const encrypted = await new Promise<string>((resolve, reject) =>
      encrypt(
        assertion,
        {
          rsa_pub: options.spCertificate as string,
          pem: options.spCertificate as string,
          encryptionAlgorithm: 'http://www.w3.org/2009/xmlenc11#aes256-gcm',
          keyEncryptionAlgorithm: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
        },
        (error, result) => (error ? reject(error) : resolve(result)),
      ),
    );
    return `${xml.slice(0, start)}<saml:EncryptedAssertion>${encrypted}</saml:EncryptedAssertion>${xml.slice(end)}`;
  }

  /** A request passed its checks: the sign-in page. */
  function acceptRequest(res: ServerResponse, request: ParsedAuthnRequest, signed: boolean): void {
    if (options.requireSignedRequests && !signed) {
      page(res, 400, 'Bad request', '<p>This identity provider accepts only signed AuthnRequests.</p>');
      return;
    }
    const problem = checkRequest(request);
    if (problem) {
      page(res, 400, 'Bad request', `<p>${escapeXml(problem)}</p>`);
      return;
    }
    const login = randomBytes(16).toString('base64url');
    pending.set(login, { request, expiresAt: Date.now() + PENDING_TTL_MS });
    signInPage(res, 200, login, request.subjectHint ?? '');
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) page(res, 500, 'Error', `<p>${escapeXml(String(error))}</p>`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const entityId = `${base}/saml/metadata`;
  const ssoUrl = `${base}/saml/sso`;

  const metadataXml = () =>
    '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" ' +
    `entityID="${escapeXml(entityId)}">` +
    `<md:IDPSSODescriptor WantAuthnRequestsSigned="${options.requireSignedRequests ? 'true' : 'false'}" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
    published
      .map(
        (key) =>
          `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${key.certificateBase64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`,
      )
      .join('') +
    `<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${escapeXml(`${base}/saml/slo`)}"/>` +
    '<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>' +
    `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${escapeXml(ssoUrl)}"/>` +
    `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${escapeXml(ssoUrl)}"/>` +
    '</md:IDPSSODescriptor>' +
    '</md:EntityDescriptor>';

  function findUser(email: string | undefined) {
    const wanted = email?.trim().toLowerCase();
    return wanted ? users.find((user) => user.email.toLowerCase() === wanted) : undefined;
  }

  function issue(
    variant: SamlResponseVariant,
    request: ParsedAuthnRequest,
    user: ResponseUser,
    key: SigningKey = signingKey,
  ): CraftedPost {
    const crafted = craftResponse(variant, {
      idpEntityId: entityId,
      spEntityId: options.spEntityId,
      acsUrl: options.acsUrl,
      requestId: request.id,
      user,
      signingKey: key,
      foreignKey,
      previousAssertionId: lastAssertionId,
    });
    lastAssertionId = crafted.assertionId;
    const body: CraftedPost['body'] = { SAMLResponse: Buffer.from(crafted.xml, 'utf8').toString('base64') };
    if (request.relayState !== undefined) body.RelayState = request.relayState;
    return { body, xml: crafted.xml, assertionId: crafted.assertionId };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', base);
    if (req.method === 'GET' && url.pathname === '/saml/metadata') {
      res.writeHead(200, { 'content-type': 'application/samlmetadata+xml; charset=utf-8' });
      res.end(metadataXml());
      return;
    }
    if (req.method === 'GET' && url.pathname === '/saml/slo' && url.searchParams.has('SAMLRequest')) {
      // An SP-initiated LogoutRequest: answered Success only when the SP signed it.
      let xml: string;
      try {
        xml = inflateRawSync(Buffer.from(url.searchParams.get('SAMLRequest') ?? '', 'base64')).toString(
          'utf8',
        );
      } catch {
        page(res, 400, 'Bad request', '<p>SAMLRequest is not DEFLATE-encoded.</p>');
        return;
      }
      const doc = new DOMParser().parseFromString(xml, 'text/xml');
      const root = doc.documentElement;
      const first = (name: string) => {
        const found = root?.getElementsByTagNameNS('*', name)[0];
        return found?.textContent ?? undefined;
      };
      const id = root?.getAttribute('ID') ?? '';
      const { signed } = redirectSignatureValid(req.url?.split('?')[1] ?? '');
      const answered = signed
        ? 'urn:oasis:names:tc:SAML:2.0:status:Success'
        : 'urn:oasis:names:tc:SAML:2.0:status:Requester';
      logoutRequests.push({
        id,
        issuer: first('Issuer'),
        nameId: first('NameID'),
        sessionIndex: first('SessionIndex'),
        signed,
        answered,
      });
      const relayState = url.searchParams.get('RelayState') ?? undefined;
      res.writeHead(303, {
        location: logoutResponseUrl(id, { status: answered, ...(relayState ? { relayState } : {}) }),
      });
      res.end();
      return;
    }
    if (req.method === 'GET' && url.pathname === '/saml/slo') {
      // The service provider's LogoutResponse to an IdP-initiated logout.
      const encoded = url.searchParams.get('SAMLResponse');
      const xml = encoded ? inflateRawSync(Buffer.from(encoded, 'base64')).toString('utf8') : '';
      logoutResponses.push(/StatusCode[^>]*Value="([^"]+)"/.exec(xml)?.[1] ?? 'none');
      page(res, 200, 'Signed out', '<p>You are signed out.</p>');
      return;
    }
    if (req.method === 'GET' && url.pathname === '/saml/sso') {
      let request: ParsedAuthnRequest;
      try {
        request = parseRedirectAuthnRequest(url.searchParams);
      } catch (error) {
        page(res, 400, 'Bad request', `<p>${escapeXml((error as Error).message)}</p>`);
        return;
      }
      const check = redirectSignatureValid((req.url ?? '').split('?')[1] ?? '');
      received.push({ binding: 'redirect', signed: check.signed, sigAlg: check.sigAlg });
      acceptRequest(res, request, check.signed);
      return;
    }
    if (req.method === 'POST' && url.pathname === '/saml/sso') {
      const form = new URLSearchParams(await readBody(req));
      const postedRequest = form.get('SAMLRequest');
      if (postedRequest !== null) {
        // The HTTP-POST binding: the AuthnRequest base64-encoded, not deflated.
        let request: ParsedAuthnRequest;
        const xml = Buffer.from(postedRequest, 'base64').toString('utf8');
        try {
          request = parseAuthnRequestXml(xml, form.get('RelayState') ?? undefined);
        } catch (error) {
          page(res, 400, 'Bad request', `<p>${escapeXml((error as Error).message)}</p>`);
          return;
        }
        const signed = postSignatureValid(xml, request.id);
        received.push({ binding: 'post', signed });
        acceptRequest(res, request, signed);
        return;
      }
      const login = form.get('login') ?? '';
      const entry = pending.get(login);
      if (!entry || entry.expiresAt < Date.now()) {
        page(
          res,
          400,
          'Sign-in expired',
          '<p>This sign-in has expired. Go back to the application and start again.</p>',
        );
        return;
      }
      const email = form.get('email') ?? '';
      const user = findUser(email);
      if (!user || user.password !== (form.get('password') ?? '')) {
        signInPage(res, 401, login, email, 'Wrong email or password.');
        return;
      }
      pending.delete(login);
      const post = issue('valid', entry.request, user);
      if (options.encryptAssertions) {
        post.body.SAMLResponse = Buffer.from(await encryptAssertion(post.xml), 'utf8').toString('base64');
      }
      autoPost(res, entry.request.acsUrl ?? options.acsUrl, post.body);
      return;
    }
    page(res, 404, 'Not found', '<p>Not found.</p>');
  }

  function checkRequest(request: ParsedAuthnRequest): string | undefined {
    if (request.issuer !== options.spEntityId) return `Unknown service provider ${request.issuer}`;
    if (request.acsUrl !== undefined && request.acsUrl !== options.acsUrl)
      return 'Unregistered AssertionConsumerServiceURL';
    if (request.destination !== undefined && request.destination !== ssoUrl) return 'Wrong Destination';
    return undefined;
  }

  return {
    entityId,
    get metadataXml() {
      return metadataXml();
    },
    metadataUrl: entityId,
    ssoUrl,
    received,
    logoutRequestUrl,
    logoutResponses,
    logoutRequests,
    logoutResponseUrl,
    rotateSigningKey() {
      signingKey = generateSigningKey(`Latchkey stand-in SAML IdP ${published.length + 1}`);
      published.push(signingKey);
    },
    retireOldSigningKeys() {
      published.splice(0, published.length, signingKey);
    },
    craft(variant, request, craftOptions) {
      const parsed =
        typeof request === 'string' || request instanceof URL ? parseRedirectAuthnRequest(request) : request;
      const user = findUser(craftOptions?.email ?? parsed.subjectHint) ?? users[0];
      if (!user) throw new Error('the stand-in SAML IdP has no users');
      const key = craftOptions?.keyIndex === undefined ? signingKey : published[craftOptions.keyIndex];
      if (!key) throw new Error(`no published signing key at index ${craftOptions?.keyIndex}`);
      return issue(variant, parsed, user, key);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function page(res: ServerResponse, status: number, title: string, body: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeXml(title)} · Stand-in SAML IdP</title></head>` +
      `<body><main><h1>${escapeXml(title)}</h1>${body}</main></body></html>`,
  );
}

function signInPage(res: ServerResponse, status: number, login: string, email: string, error?: string): void {
  page(
    res,
    status,
    'Sign in',
    `${error ? `<p role="alert">${escapeXml(error)}</p>` : ''}` +
      '<form method="post" action="/saml/sso">' +
      `<input type="hidden" name="login" value="${escapeXml(login)}">` +
      `<label>Email <input type="email" name="email" value="${escapeXml(email)}" autocomplete="username" required></label>` +
      `<label>Password <input type="password" name="password" autocomplete="current-password" ${email ? 'autofocus ' : ''}required></label>` +
      '<button type="submit">Sign in</button>' +
      '</form>',
  );
}

/** The HTTP-POST binding: an auto-submitting form to the ACS URL (SAML Bindings §3.5.4). */
function autoPost(res: ServerResponse, action: string, fields: Record<string, string>): void {
  const inputs = Object.entries(fields)
    .map(([name, value]) => `<input type="hidden" name="${escapeXml(name)}" value="${escapeXml(value)}">`)
    .join('');
  page(
    res,
    200,
    'Signing in…',
    `<form method="post" action="${escapeXml(action)}">${inputs}<noscript><button type="submit">Continue</button></noscript></form>` +
      '<script>document.forms[0].submit()</script>',
  );
}
