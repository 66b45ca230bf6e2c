import type { ClientConfig } from '../config/types.js';
import type { Repositories } from '../storage/repositories.js';

/** oidc-provider client metadata for a Latchkey client (RFC 7591 names). */
export function clientMetadata(client: ClientConfig): Record<string, unknown> {
  const grantTypes = ['authorization_code', 'refresh_token'];
  if (client.deviceFlow) grantTypes.push('urn:ietf:params:oauth:grant-type:device_code');
  return {
    client_id: client.id,
    client_name: client.name,
    application_type: client.kind === 'native' ? 'native' : 'web',
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    ...(client.secret ? { client_secret: client.secret } : {}),
    ...(client.jwks ? { jwks: client.jwks } : {}),
    redirect_uris: client.redirectUris,
    post_logout_redirect_uris: client.postLogoutRedirectUris,
    grant_types: grantTypes,
    response_types: ['code'],
    id_token_signed_response_alg: client.idTokenSignedResponseAlg,
    ...(client.downloadUrl ? { download_url: client.downloadUrl } : {}),
    // RFC 9449 §5.2: the engine then refuses every token request of this client without a proof.
    dpop_bound_access_tokens: client.dpop === 'required',
  };
}

/**
 * How long a process trusts the client metadata it read: a client added or changed by another
 * process or the admin CLI is seen within this time, and a busy server reads each client once per
 * interval instead of once per request.
 */
const CLIENT_CACHE_MS = 5_000;

/**
 * The engine's `Client` model over the `clients` table: read-only (clients are managed by the
 * configuration file and the admin commands), with a short cache.
 */
export function createClientAdapter(clients: Pick<Repositories['clients'], 'find'>) {
  const cache = new Map<string, { at: number; value: Record<string, unknown> | undefined }>();
  return class ClientAdapter {
    async find(id: string) {
      const cached = cache.get(id);
      if (cached && Date.now() - cached.at < CLIENT_CACHE_MS) return cached.value;
      const client = await clients.find(id);
      const value = client ? clientMetadata(client) : undefined;
      cache.set(id, { at: Date.now(), value });
      return value;
    }
    async upsert() {
      throw new Error('clients are managed by configuration and the admin CLI');
    }
    async destroy() {}
    async consume() {}
    async findByUid() {
      return undefined;
    }
    async findByUserCode() {
      return undefined;
    }
    async revokeByGrantId() {}
  };
}
