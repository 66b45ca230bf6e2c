import { createHash } from 'node:crypto';
import type { Repositories } from '../storage/repositories.js';
import { createConnector } from './connectors/registry.js';
import type { SamlConnector, SamlReplayStore, SamlRequestStore } from './connectors/saml/index.js';
import type { RedirectConnector } from './connectors/types.js';
import type { AcceptIdentities } from './identity-rule.js';

/** The organization fields a connector is built from (`organizations.listWithDetails()`). */
export interface OrganizationWithConnection {
  id: string;
  domains: string[];
  /** The identity rule decides whether Google's hosted-domain check applies (`federation/identity-rule.ts`). */
  policy?: { acceptIdentities?: AcceptIdentities | undefined } | undefined;
  connection?:
    | { id: string; type: string; settings: Record<string, unknown>; secrets: Record<string, string> }
    | undefined;
}

/** Latchkey's fixed-path endpoints for upstream round trips; the IdP administrator registers these. */
export function upstreamUrls(issuer: string, connectionId?: string) {
  const base = issuer.replace(/\/+$/, '');
  const connection = encodeURIComponent(connectionId ?? '');
  return {
    /** OIDC redirect URI, one for every OIDC/Google connection (correlated by `state`). */
    oidcCallback: `${base}/upstream/callback`,
    /** SAML SP entity id (Issuer of our AuthnRequests, the Audience we accept). */
    samlEntityId: `${base}/saml/${connection}`,
    samlAcs: `${base}/saml/${connection}/acs`,
    samlMetadata: `${base}/saml/${connection}/metadata`,
    /** SAML SingleLogoutService (HTTP-Redirect): IdP-initiated LogoutRequests arrive here. */
    samlSlo: `${base}/saml/${connection}/slo`,
  };
}

/**
 * The SAML connector's shared stores on `upstream_requests` and `replay_cache` (the IdP's
 * POST may land on any server process, so node-saml's in-memory caches cannot be used). Request ids
 * are scoped to the connection so two connections can never answer each other's requests.
 */
export function samlStores(
  repos: Pick<Repositories, 'upstreamRequests' | 'replayCache'>,
  connectionId: string,
): { requestStore: SamlRequestStore; replayStore: SamlReplayStore } {
  const key = (id: string) => `saml-request:${connectionId}:${id}`;
  return {
    requestStore: {
      async save(id, expiresAt) {
        await repos.upstreamRequests.create({
          id: key(id),
          connectionId,
          interactionUid: '',
          data: {},
          expiresAt,
        });
      },
      // One conditional UPDATE … RETURNING in the repository: exactly one caller gets the row.
      consume: async (id) => (await repos.upstreamRequests.consume(key(id))) !== undefined,
    },
    replayStore: { remember: (k, expiresAt) => repos.replayCache.remember(k, expiresAt) },
  };
}

/**
 * Builds (and caches) the connector of an organization's connection. OIDC and Google connectors come
 * from the shared registry (their discovery and JWKS caches hold no per-database state); SAML
 * connectors are built here per server, since their request and replay stores are this server's
 * database.
 */
export function createConnectorSource(options: {
  issuer: string;
  repos: Pick<Repositories, 'upstreamRequests' | 'replayCache'>;
}) {
  const samlConnectors = new Map<string, { print: string; connector: SamlConnector }>();

  async function forOrganization(org: OrganizationWithConnection): Promise<RedirectConnector | undefined> {
    const connection = org.connection;
    if (!connection || connection.type === 'local') return undefined;
    const { id, type, settings, secrets } = connection;
    if (type === 'google') {
      // The hosted-domain check needs the organization's domains, merged in at every use so a
      // domain added later rebuilds the connector (the registry fingerprints its settings).
      return createConnector(
        id,
        type,
        {
          ...settings,
          domains: org.domains,
          ...(org.policy?.acceptIdentities ? { acceptIdentities: org.policy.acceptIdentities } : {}),
        },
        secrets,
      );
    }
    if (type === 'oidc') return createConnector(id, type, settings, secrets);
    if (type === 'saml') return samlConnector(org, connection);
    throw new Error(`connection ${id}: unknown type ${type}`);
  }

  async function samlConnector(
    org: OrganizationWithConnection,
    connection: NonNullable<OrganizationWithConnection['connection']>,
  ): Promise<SamlConnector> {
    const print = createHash('sha256')
      .update(JSON.stringify([connection.settings, connection.secrets, org.domains]))
      .digest('base64url');
    const hit = samlConnectors.get(connection.id);
    if (hit && hit.print === print) return hit.connector;
    const settings = connection.settings as {
      idpMetadataXml?: string;
      idpMetadataUrl?: string;
      attributes?: { subject?: string; email?: string; name?: string; groups?: string };
      spCertificate?: string;
      signAuthnRequests?: boolean;
      authnRequestBinding?: 'redirect' | 'post';
      wantAssertionsEncrypted?: boolean;
    };
    const urls = upstreamUrls(options.issuer, connection.id);
    // The SAML stack (node-saml, xml-crypto, xmldom: about 4 MB resident) loads with the first SAML
    // connector, not at start: most deployments never use it.
    const { createSamlConnector } = await import('./connectors/saml/index.js');
    const connector = createSamlConnector(
      {
        id: connection.id,
        spEntityId: urls.samlEntityId,
        callbackUrl: urls.samlAcs,
        idpMetadataXml: settings.idpMetadataXml,
        idpMetadataUrl: settings.idpMetadataUrl,
        attributes: {
          subject: settings.attributes?.subject,
          email: settings.attributes?.email ?? 'email',
          name: settings.attributes?.name ?? 'name',
          groups: settings.attributes?.groups ?? 'groups',
        },
        // SAML has no email_verified: an email is vouched for only in the organization's domains.
        domains: org.domains,
        spPrivateKey: connection.secrets.spPrivateKey,
        spCertificate: settings.spCertificate,
        logoutUrl: urls.samlSlo,
        signAuthnRequests: settings.signAuthnRequests,
        authnRequestBinding: settings.authnRequestBinding,
        wantAssertionsEncrypted: settings.wantAssertionsEncrypted,
      },
      samlStores(options.repos, connection.id),
    );
    samlConnectors.set(connection.id, { print, connector });
    return connector;
  }

  return { forOrganization };
}

export type ConnectorSource = ReturnType<typeof createConnectorSource>;
