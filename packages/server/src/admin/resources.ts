import type { AdminContext } from './context.js';

export interface ResourceSummary {
  id: string;
  name: string;
  scopes: string[];
  accessTokenTtl: number | null;
  /** Client id → scopes; null: every client, every scope. */
  clients: Record<string, readonly string[]> | null;
  source: 'config' | 'built_in';
}

/** The APIs apps get access tokens for: the file's resources and Latchkey's own admin API. */
export async function listResources(ctx: AdminContext): Promise<ResourceSummary[]> {
  const declared: ResourceSummary[] = ctx.config.resources.map((r) => ({
    id: r.id,
    name: r.name,
    scopes: [...r.scopes],
    accessTokenTtl: r.accessTokenTtl ?? null,
    clients: r.clients ? { ...r.clients } : null,
    source: 'config',
  }));
  const admin = adminApiResource(ctx.config);
  return [
    ...declared,
    {
      id: admin.id,
      name: admin.name,
      scopes: [...admin.scopes],
      accessTokenTtl: admin.accessTokenTtl ?? null,
      clients: admin.clients ? { ...admin.clients } : null,
      source: 'built_in',
    },
  ];
}

/** The console's own client id (an OIDC client of Latchkey, registered at start). */
export const ADMIN_CONSOLE_CLIENT_ID = 'latchkey-admin-console';
export const ADMIN_SCOPE = 'admin';

/**
 * The admin API as a resource (RFC 8707): `<issuer>/admin/api`, one scope `admin`, admitting the
 * console and the clients `admin.clients` lists. Access tokens for it are RFC 9068 JWTs; who may
 * do what is decided per request by the caller's roles (admin/admins.ts), not by the token.
 */
export function adminApiResource(config: { issuer: string; admin: { clients: readonly string[] } }) {
  const clients: Record<string, readonly string[]> = { [ADMIN_CONSOLE_CLIENT_ID]: [ADMIN_SCOPE] };
  for (const id of config.admin.clients) clients[id] = [ADMIN_SCOPE];
  return {
    id: `${config.issuer}/admin/api`,
    name: 'Latchkey Admin API',
    scopes: [ADMIN_SCOPE],
    accessTokenTtl: 300,
    clients,
  };
}
