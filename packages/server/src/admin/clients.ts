import { checkRedirectUri } from '../config/redirect-uris.js';
import type { ClientConfig } from '../config/types.js';
import type { AdminContext } from './context.js';
import { AdminError } from './errors.js';

export interface AddClientInput {
  id: string;
  name?: string | undefined;
  kind?: 'native' | 'web' | undefined;
  redirectUris: string[];
  deviceFlow?: boolean | undefined;
  /** Web clients only: the shared secret (client_secret_basic). */
  secret?: string | undefined;
  /** The ID token's signing algorithm (default RS256, OpenID Connect's default). */
  idTokenSignedResponseAlg?: 'ES256' | 'RS256' | undefined;
  /** RFC 9449 (docs/dpop.md). Default: `required` for a native (public) client, `optional` for a web one. */
  dpop?: 'required' | 'optional' | undefined;
}

export interface ClientSummary {
  id: string;
  name: string;
  kind: 'native' | 'web';
  redirectUris: string[];
  deviceFlow: boolean;
  /** The algorithm of its ID tokens. */
  idTokenSignedResponseAlg: 'ES256' | 'RS256';
  /** RFC 9449: `optional` for a client stored before the setting existed. */
  dpop: 'required' | 'optional';
  source: string;
}

const CLIENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Registers a client under the same rules as the configuration file (RFC 8252 for native apps);
 * a running server sees it within its client cache time (5 s).
 */
export async function addClient(ctx: AdminContext, input: AddClientInput): Promise<ClientSummary> {
  if (!CLIENT_ID.test(input.id)) {
    throw new AdminError('invalid', `--id: "${input.id}" must be letters, digits, dot, dash or underscore`);
  }
  const kind = input.kind ?? 'native';
  if (input.redirectUris.length === 0) {
    throw new AdminError('invalid', '--redirect-uri: give at least one redirect URI');
  }
  for (const uri of input.redirectUris) {
    const problem = checkRedirectUri(uri, kind, ctx.config.env);
    if (problem) throw new AdminError('invalid', `--redirect-uri ${uri}: ${problem}`);
  }
  if (kind === 'web' && !input.secret) {
    throw new AdminError('invalid', '--secret: a web (confidential) client needs a secret (read from stdin)');
  }
  if (kind === 'native' && input.secret) {
    throw new AdminError(
      'invalid',
      '--kind native: a native desktop app is a public client and has no secret',
    );
  }
  const client: ClientConfig = {
    id: input.id,
    name: input.name ?? input.id,
    kind,
    redirectUris: [...new Set(input.redirectUris)],
    postLogoutRedirectUris: [],
    deviceFlow: input.deviceFlow ?? false,
    tokenEndpointAuthMethod: kind === 'native' ? 'none' : 'client_secret_basic',
    secret: input.secret,
    idTokenSignedResponseAlg: input.idTokenSignedResponseAlg ?? 'RS256',
    // A new public client is for an app built with DPoP (our SDK signs proofs by default).
    dpop: input.dpop ?? (kind === 'native' ? 'required' : 'optional'),
  };
  if (await ctx.repos.clients.find(client.id)) {
    throw new AdminError('already_exists', `client ${client.id} already exists`);
  }
  await ctx.repos.clients.add(client);
  await ctx.audit({
    action: 'client_added',
    clientId: client.id,
    details: { kind, redirectUris: client.redirectUris, deviceFlow: client.deviceFlow, dpop: client.dpop },
  });
  return summarize({ ...client, source: 'admin' });
}

export async function listClients(ctx: AdminContext): Promise<ClientSummary[]> {
  return (await ctx.repos.clients.list()).map(summarize);
}

/**
 * Removes a client added with the CLI. Its tokens stop working at once: the engine looks the client
 * up on every token request. A client declared in the configuration file would come back at the
 * next start, so it is refused here.
 */
export async function removeClient(ctx: AdminContext, id: string): Promise<void> {
  const existing = (await ctx.repos.clients.list()).find((c) => c.id === id);
  if (!existing) throw new AdminError('not_found', `no client with id ${id}`);
  if (ctx.config.clients.some((c) => c.id === id)) {
    throw new AdminError(
      'declared_in_config',
      `client ${id} is declared in the configuration file${ctx.config.configFile ? ` (${ctx.config.configFile})` : ''}; remove it there`,
    );
  }
  await ctx.repos.clients.remove(id);
  await ctx.audit({ action: 'client_removed', clientId: id });
}

function summarize(client: ClientConfig & { source: string }): ClientSummary {
  return {
    id: client.id,
    name: client.name,
    kind: client.kind,
    redirectUris: client.redirectUris,
    deviceFlow: client.deviceFlow,
    idTokenSignedResponseAlg: client.idTokenSignedResponseAlg,
    dpop: client.dpop ?? 'optional',
    source: client.source,
  };
}
