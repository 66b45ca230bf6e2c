import type { ClientConfig, OrganizationConfig, OrganizationPolicy } from '../../../config/types.js';

/** The operator secret every conformance database is created with. */
export const SECRET = 'conformance operator secret';

export const policy: OrganizationPolicy = {
  require2sv: false,
  allowedClients: [],
  jitProvisioning: true,
  refreshIdleTtl: 86_400,
  refreshAbsoluteTtl: 864_000,
  maxUpstreamAge: 86_400,
  upstreamRevalidateInterval: 3_600,
};

export function org(
  id: string,
  domains: string[],
  connection?: OrganizationConfig['connection'],
): OrganizationConfig {
  return { id, name: `Org ${id}`, domains, connection: connection ?? { type: 'local' }, policy };
}

export function client(id: string, secret?: string): ClientConfig {
  return {
    id,
    name: `Client ${id}`,
    kind: secret ? 'web' : 'native',
    redirectUris: ['http://127.0.0.1/callback'],
    postLogoutRedirectUris: [],
    deviceFlow: false,
    tokenEndpointAuthMethod: secret ? 'client_secret_basic' : 'none',
    secret,
    idTokenSignedResponseAlg: 'ES256',
  };
}

/** Settles all and counts: exactly-one-winner assertions. */
export async function race<T>(attempts: Promise<T>[]) {
  const settled = await Promise.allSettled(attempts);
  return {
    fulfilled: settled.filter((s): s is PromiseFulfilledResult<Awaited<T>> => s.status === 'fulfilled'),
    rejected: settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected'),
  };
}
