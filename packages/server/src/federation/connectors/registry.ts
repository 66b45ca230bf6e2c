import { createHash } from 'node:crypto';
import { z } from 'zod';
import { createGoogleConnector } from './google-connector.js';
import { createOidcConnector } from './oidc-connector.js';
import type { ConnectorDeps, RedirectConnector } from './types.js';

/** The upstream kinds a connection can have that send the browser away (`local` is not one). */
export type RedirectConnectorType = RedirectConnector['type'];

/**
 * Builds a connector from a connection's stored settings (plain JSON) and decrypted secrets. Throws
 * an Error naming the bad key when they do not fit the type.
 */
export type ConnectorFactory = (
  connectionId: string,
  settings: Record<string, unknown>,
  secrets: Record<string, unknown>,
  deps: ConnectorDeps,
) => RedirectConnector;

const text = z.string().trim().min(1);

/**
 * `settings` of a Google connection. `domains` are the organization's domains: the caller merges them
 * in from the organization, so a domain added later rebuilds the connector (see the cache below).
 */
const googleSettings = z.object({
  clientId: text,
  issuer: z.url().optional(),
  domains: z.array(text).min(1),
  timeoutMs: z.number().int().positive().optional(),
  acceptIdentities: z.enum(['organization_domains', 'any_verified', 'any']).optional(),
});
const googleSecrets = z.object({ clientSecret: text });

/** `settings` of a generic OpenID Connect connection (the shape of config `ConnectionConfig` 'oidc'). */
const oidcSettings = z.object({
  issuer: z.url(),
  clientId: text,
  scopes: z.array(text).optional(),
  prompt: text.optional(),
  extraParams: z.record(z.string(), z.string()).optional(),
  claims: z
    .object({
      subject: text.optional(),
      email: text.optional(),
      name: text.optional(),
      groups: text.optional(),
    })
    .optional(),
  entraTenantId: text.optional(),
  timeoutMs: z.number().int().positive().optional(),
  tokenEndpointAuthMethod: z
    .enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt'])
    .optional(),
  privateKeyId: text.optional(),
});
const oidcSecrets = z.object({ clientSecret: text.optional(), privateKey: text.optional() });

function parse<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path.length ? `.${issue.path.join('.')}` : '';
  throw new Error(`connection ${where}${path}: ${issue?.message ?? 'invalid'}`);
}

/** Drops keys whose value is undefined (zod leaves them out already; this keeps the types exact). */
function defined<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

const factories: Partial<Record<RedirectConnectorType, ConnectorFactory>> = {
  google(connectionId, settings, secrets, deps) {
    const s = parse(googleSettings, settings, `${connectionId} settings`);
    const secret = parse(googleSecrets, secrets, `${connectionId} secrets`);
    return createGoogleConnector(
      defined({ id: connectionId, ...s, clientSecret: secret.clientSecret }),
      deps,
    );
  },
  oidc(connectionId, settings, secrets, deps) {
    const s = parse(oidcSettings, settings, `${connectionId} settings`);
    const secret = parse(oidcSecrets, secrets, `${connectionId} secrets`);
    return createOidcConnector(
      defined({
        id: connectionId,
        ...s,
        claims: s.claims && defined(s.claims),
        clientSecret: secret.clientSecret,
        privateKey: secret.privateKey ? defined({ pem: secret.privateKey, kid: s.privateKeyId }) : undefined,
      }),
      deps,
    );
  },
  // saml: connectors/saml registers its factory here, e.g.
  //   saml: (connectionId, settings, secrets, deps) => createSamlConnector(...)
  // or from its own module with registerConnectorFactory('saml', …).
};

/**
 * Adds or replaces the factory for a type. For connector kinds living in their own folder (SAML) and
 * for tests' mock connectors, which are registered exactly like real ones.
 */
export function registerConnectorFactory(type: RedirectConnectorType, factory: ConnectorFactory): void {
  factories[type] = factory;
  cache.clear();
}

interface CacheEntry {
  fingerprint: string;
  connector: RedirectConnector;
}

/**
 * One connector per connection: discovery documents and JWKS stay cached across sign-ins. An entry is
 * rebuilt when the connection's type, settings or secrets change.
 */
const cache = new Map<string, CacheEntry>();

function fingerprint(type: string, settings: unknown, secrets: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify([type, settings, secrets]))
    .digest('base64url');
}

/**
 * The connector for a connection, built on first use and cached per connection id. `deps` are taken
 * from the first call for a connection (they are process-wide in the server).
 */
export function createConnector(
  connectionId: string,
  type: string,
  settings: Record<string, unknown>,
  secrets: Record<string, unknown>,
  deps: ConnectorDeps = {},
): RedirectConnector {
  const print = fingerprint(type, settings, secrets);
  const hit = cache.get(connectionId);
  if (hit && hit.fingerprint === print) return hit.connector;
  const factory = Object.hasOwn(factories, type) ? factories[type as RedirectConnectorType] : undefined;
  if (!factory) throw new Error(`connection ${connectionId}: no connector for type "${type}"`);
  const connector = factory(connectionId, settings, secrets, deps);
  cache.set(connectionId, { fingerprint: print, connector });
  return connector;
}

/** Drops a connection's cached connector (after it is deleted, or to force rediscovery). */
export function forgetConnector(connectionId?: string): void {
  if (connectionId === undefined) cache.clear();
  else cache.delete(connectionId);
}
