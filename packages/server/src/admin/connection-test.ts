import { X509Certificate } from 'node:crypto';
import type { AdminContext } from './context.js';
import { AdminError } from './errors.js';

/**
 * "Test connection": what an administrator wants to know before the first person signs in — can
 * Latchkey reach the IdP, and is what it publishes what the connection expects? Each check says
 * exactly what is wrong, in the administrator's words. Nothing is changed and nobody signs in.
 */
export interface ConnectionCheck {
  check: string;
  ok: boolean;
  message: string;
}

export interface ConnectionTestResult {
  organizationId: string;
  type: string;
  ok: boolean;
  checks: ConnectionCheck[];
}

const TIMEOUT_MS = 10_000;

export async function testConnection(
  ctx: AdminContext,
  organizationId: string,
  fetchImpl: typeof fetch = fetch,
): Promise<ConnectionTestResult> {
  const org = await ctx.repos.organizations.findById(organizationId);
  if (!org) throw new AdminError('not_found', `no organization ${organizationId}`);
  const connection = await ctx.repos.organizations.connection(organizationId);
  const type = connection?.type ?? 'local';
  const settings = connection?.settings ?? {};
  let checks: ConnectionCheck[];
  if (type === 'local') {
    checks = [{ check: 'type', ok: true, message: 'local accounts: there is no identity provider to reach' }];
  } else if (type === 'google' || type === 'oidc') {
    checks = await testOidc(String(settings.issuer ?? 'https://accounts.google.com'), fetchImpl);
  } else if (type === 'saml') {
    checks = await testSaml(settings, fetchImpl);
  } else {
    checks = [{ check: 'type', ok: false, message: `unknown connection type "${type}"` }];
  }
  const result = { organizationId, type, ok: checks.every((c) => c.ok), checks };
  await ctx.audit({
    action: 'connection_tested',
    outcome: result.ok ? 'success' : 'failure',
    organizationId,
    details: { type, failed: checks.filter((c) => !c.ok).map((c) => c.check) },
  });
  return result;
}

async function get(
  url: string,
  fetchImpl: typeof fetch,
  accept: string,
): Promise<{ ok: true; text: string } | { ok: false; message: string }> {
  let response: Response;
  try {
    response = await fetchImpl(url, {
      headers: { accept },
      redirect: 'error',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    const e = error as Error & { cause?: { code?: string } };
    if (e.name === 'TimeoutError')
      return { ok: false, message: `${url} did not answer within ${TIMEOUT_MS / 1000} s` };
    const code = e.cause?.code;
    return {
      ok: false,
      message: `${url} cannot be reached${code ? ` (${code})` : ''}: ${e.cause ? String((e.cause as Error).message ?? code) : e.message}`,
    };
  }
  const text = await response.text();
  if (!response.ok) return { ok: false, message: `${url} answered HTTP ${response.status}` };
  return { ok: true, text };
}

async function testOidc(issuer: string, fetchImpl: typeof fetch): Promise<ConnectionCheck[]> {
  const checks: ConnectionCheck[] = [];
  const discoveryUrl = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const fetched = await get(discoveryUrl, fetchImpl, 'application/json');
  if (!fetched.ok) return [{ check: 'discovery', ok: false, message: fetched.message }];
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(fetched.text) as Record<string, unknown>;
  } catch {
    return [{ check: 'discovery', ok: false, message: `${discoveryUrl} is not JSON` }];
  }
  checks.push({ check: 'discovery', ok: true, message: `${discoveryUrl} answered` });
  // OpenID Connect Discovery 1.0 §4.3: the issuer in the document must equal the one configured.
  checks.push(
    doc.issuer === issuer
      ? { check: 'issuer', ok: true, message: `the document's issuer is ${issuer}` }
      : {
          check: 'issuer',
          ok: false,
          message: `the document names issuer "${String(doc.issuer)}", the connection expects "${issuer}" (they must be identical, trailing slash included)`,
        },
  );
  for (const field of ['authorization_endpoint', 'token_endpoint', 'jwks_uri']) {
    const value = doc[field];
    checks.push(
      typeof value === 'string' && value.startsWith('http')
        ? { check: field, ok: true, message: value }
        : { check: field, ok: false, message: `the document has no ${field}` },
    );
  }
  const methods = doc.code_challenge_methods_supported;
  if (Array.isArray(methods) && !methods.includes('S256')) {
    checks.push({
      check: 'pkce',
      ok: false,
      message: 'the IdP does not list PKCE S256 (code_challenge_methods_supported)',
    });
  }
  if (typeof doc.jwks_uri === 'string') {
    const jwks = await get(doc.jwks_uri, fetchImpl, 'application/json');
    if (!jwks.ok) checks.push({ check: 'jwks', ok: false, message: jwks.message });
    else {
      let keys: unknown;
      try {
        keys = (JSON.parse(jwks.text) as { keys?: unknown }).keys;
      } catch {
        keys = undefined;
      }
      checks.push(
        Array.isArray(keys) && keys.length > 0
          ? {
              check: 'jwks',
              ok: true,
              message: `${keys.length} signing key${keys.length === 1 ? '' : 's'} published`,
            }
          : {
              check: 'jwks',
              ok: false,
              message: `${doc.jwks_uri} publishes no keys: ID tokens could not be verified`,
            },
      );
    }
  }
  return checks;
}

async function testSaml(
  settings: Record<string, unknown>,
  fetchImpl: typeof fetch,
): Promise<ConnectionCheck[]> {
  const checks: ConnectionCheck[] = [];
  let xml = typeof settings.idpMetadataXml === 'string' ? settings.idpMetadataXml : undefined;
  const url = typeof settings.idpMetadataUrl === 'string' ? settings.idpMetadataUrl : undefined;
  if (xml === undefined && url !== undefined) {
    const fetched = await get(url, fetchImpl, 'application/samlmetadata+xml, application/xml, text/xml');
    if (!fetched.ok) return [{ check: 'metadata', ok: false, message: fetched.message }];
    checks.push({ check: 'metadata', ok: true, message: `${url} answered` });
    xml = fetched.text;
  }
  if (xml === undefined)
    return [{ check: 'metadata', ok: false, message: 'the connection has no IdP metadata (XML or URL)' }];
  // Loaded when a SAML connection is tested: a server without SAML never carries the XML parser.
  const { parseIdpMetadata } = await import('../federation/connectors/saml/idp-metadata.js');
  let metadata: ReturnType<typeof parseIdpMetadata>;
  try {
    metadata = parseIdpMetadata(xml);
  } catch (error) {
    return [...checks, { check: 'metadata', ok: false, message: (error as Error).message }];
  }
  checks.push({ check: 'entity_id', ok: true, message: metadata.entityId });
  checks.push({ check: 'sso_redirect', ok: true, message: metadata.ssoRedirectUrl });
  const now = Date.now();
  const valid = metadata.signingCertificates.filter((pem) => {
    try {
      const cert = new X509Certificate(pem);
      return Date.parse(cert.validTo) > now && Date.parse(cert.validFrom) <= now;
    } catch {
      return false;
    }
  });
  checks.push(
    valid.length > 0
      ? {
          check: 'signing_certificate',
          ok: true,
          message: `${valid.length} valid signing certificate${valid.length === 1 ? '' : 's'}`,
        }
      : {
          check: 'signing_certificate',
          ok: false,
          message: `none of the ${metadata.signingCertificates.length} signing certificates is valid now (expired or not yet valid): responses would be refused`,
        },
  );
  if (metadata.wantAuthnRequestsSigned) {
    checks.push({
      check: 'signed_requests',
      ok: false,
      message:
        'the IdP wants signed AuthnRequests (WantAuthnRequestsSigned), which Latchkey does not send yet',
    });
  }
  return checks;
}
