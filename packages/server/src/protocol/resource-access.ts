import type Provider from 'oidc-provider';

/** A registered resource (API) as the engine needs it; `clients` as in config ResourceConfig. */
export interface ResourceInfo {
  id: string;
  name: string;
  scopes: string[];
  accessTokenTtl?: number | undefined;
  /** Client id → the scopes it may have; undefined admits every client with every scope. */
  clients?: Readonly<Record<string, readonly string[]>> | undefined;
}

/**
 * The scopes of `resource` that `clientId` may have, or undefined when the resource does not admit
 * the client at all. An absent allow-list admits every client with every scope (configurations
 * written before `resources[].clients` existed).
 */
export function allowedScopes(resource: ResourceInfo, clientId: string): readonly string[] | undefined {
  if (!resource.clients) return resource.scopes;
  return Object.hasOwn(resource.clients, clientId) ? resource.clients[clientId] : undefined;
}

const lookups = new WeakMap<Provider, (id: string) => ResourceInfo | undefined>();

/** Remembers how an engine finds resources, so the launch page can name them (see below). */
export function registerResourceLookup(provider: Provider, find: (id: string) => ResourceInfo | undefined) {
  lookups.set(provider, find);
}

/**
 * What the launch page says an app will reach besides the person's identity: each API the
 * authorization names (RFC 8707 `resource`) and the scopes the grant will carry for it — the scopes
 * asked for that the API admits for this client (the same intersection the engine grants).
 */
export function resourcesReached(
  provider: Provider,
  clientId: string,
  params: Record<string, unknown>,
): { name: string; scopes: string[] }[] {
  const find = lookups.get(provider);
  const given = params.resource;
  const indicators = (Array.isArray(given) ? given : [given]).filter(
    (v): v is string => typeof v === 'string' && v !== '',
  );
  if (!find || indicators.length === 0) return [];
  const asked = new Set(typeof params.scope === 'string' ? params.scope.split(' ') : []);
  const out: { name: string; scopes: string[] }[] = [];
  for (const indicator of new Set(indicators)) {
    const resource = find(indicator);
    const allowed = resource ? allowedScopes(resource, clientId) : undefined;
    if (!resource || !allowed) continue;
    out.push({ name: resource.name, scopes: allowed.filter((s) => asked.has(s)) });
  }
  return out;
}
