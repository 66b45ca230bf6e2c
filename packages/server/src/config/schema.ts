/**
 * The zod schema of the YAML configuration file (snake_case keys, exactly as written by operators).
 * Every object is strict: an unknown key is an error, so a typo never silently loses a setting.
 * Durations are parsed here; defaults that depend on other keys are applied by `load.ts`.
 */

import { isIP } from 'node:net';
import { z } from 'zod';
import { DURATION_HINT, parseDuration } from './durations.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const text = z.string().trim().min(1);

/** Ids appear in URLs, tokens and logs: visible ASCII, no spaces. */
const identifier = z
  .string()
  .regex(/^[A-Za-z0-9][\x21-\x7e]*$/, 'must start with a letter or digit and contain no spaces');

/** A duration in seconds; `undefined` when absent (the default is applied later). */
function duration(min = 0) {
  return z
    .unknown()
    .optional()
    .transform((value, ctx): number | undefined => {
      if (value === undefined) return undefined;
      const seconds = parseDuration(value);
      if (seconds === undefined) {
        ctx.addIssue({ code: 'custom', message: DURATION_HINT });
        return z.NEVER;
      }
      if (seconds < min) {
        ctx.addIssue({ code: 'custom', message: `must be at least ${min} second${min === 1 ? '' : 's'}` });
        return z.NEVER;
      }
      return seconds;
    });
}

function isUrl(value: string, protocols: readonly string[]): boolean {
  try {
    const url = new URL(value);
    return protocols.includes(url.protocol) && url.hostname !== '';
  } catch {
    return false;
  }
}

const httpUrl = z.string().refine((v) => isUrl(v, ['http:', 'https:']), 'must be an http(s) URL');

/** Upstream IdP URLs: https, or http on a loopback host (stand-in IdPs in tests and demos). */
const upstreamUrl = z.string().refine((v) => {
  if (!isUrl(v, ['http:', 'https:'])) return false;
  const url = new URL(v);
  return url.protocol === 'https:' || ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
}, 'must be an https URL (http only for 127.0.0.1, [::1] or localhost)');

/** An OAuth scope token (RFC 6749 §3.3): printable ASCII without spaces, quotes or backslashes. */
const scopeToken = z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'must be a scope name without spaces');

const domain = z
  .string()
  .transform((v) => v.trim().toLowerCase().replace(/\.$/, ''))
  .refine(
    (v) => /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(v),
    'must be a domain name such as example.com',
  );

const email = z
  .string()
  .transform((v) => v.trim().toLowerCase())
  .refine((v) => /^[^@\s]+@[a-z0-9.-]+\.[a-z0-9-]+$/.test(v), 'must be an email address');

/** RFC 4648 base32, as authenticator apps use; spaces are ignored. Never echoed: it is a secret. */
const base32Secret = z
  .string()
  .transform((v) => v.replace(/\s+/g, '').toUpperCase())
  .refine(
    (v) => /^[A-Z2-7]{16,}=*$/.test(v),
    'must be base32 (letters A-Z, digits 2-7), at least 16 characters',
  );

/** Trusted proxy entries as proxy-addr (Fastify's trustProxy) understands them. */
export function isProxyEntry(value: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(value)) return true;
  const [address, prefix, ...rest] = value.split('/');
  if (rest.length > 0 || address === undefined) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

const proxyEntry = z
  .string()
  .trim()
  .refine(isProxyEntry, 'must be an IP address, a CIDR range (10.0.0.0/8) or loopback/linklocal/uniquelocal');

const claimNames = z
  .strictObject({
    subject: text.default('sub'),
    email: text.default('email'),
    name: text.default('name'),
    groups: text.default('groups'),
  })
  .prefault({});

const localConnection = z.strictObject({ type: z.literal('local') });

/** See ConnectionSecondFactor in config/types.ts. */
const secondFactor = z
  .strictObject({
    proof: z.enum(['upstream_claims', 'latchkey', 'trust_upstream']).default('upstream_claims'),
    trusted_acr: z.array(text).default([]),
  })
  .prefault({});

const googleConnection = z.strictObject({
  type: z.literal('google'),
  client_id: text,
  client_secret: text,
  issuer: upstreamUrl.default('https://accounts.google.com'),
  second_factor: secondFactor,
});

const oidcConnection = z
  .strictObject({
    type: z.literal('oidc'),
    issuer: upstreamUrl,
    client_id: text,
    client_secret: text.optional(),
    scopes: z
      .array(scopeToken)
      .default(['openid', 'email', 'profile'])
      .refine((scopes) => scopes.includes('openid'), 'must include openid'),
    prompt: text.optional(),
    extra_params: z.record(z.string(), z.string()).default({}),
    claims: claimNames,
    entra_tenant_id: text.optional(),
    second_factor: secondFactor,
    token_endpoint_auth_method: z
      .enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt'])
      .optional(),
    private_key: text.optional(),
    private_key_id: text.optional(),
  })
  .superRefine((value, ctx) => {
    const method = value.token_endpoint_auth_method;
    if (method === 'private_key_jwt' && value.private_key === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['private_key'],
        message: 'is required for token_endpoint_auth_method private_key_jwt (or give private_key_file)',
      });
    }
    if (
      (method === 'client_secret_basic' || method === 'client_secret_post') &&
      value.client_secret === undefined
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['client_secret'],
        message: `is required for token_endpoint_auth_method ${method} (or give client_secret_file)`,
      });
    }
  });

const samlConnection = z
  .strictObject({
    type: z.literal('saml'),
    idp_metadata_xml: text.optional(),
    idp_metadata_url: upstreamUrl.optional(),
    attributes: z
      .strictObject({
        subject: text.optional(),
        email: text.default('email'),
        name: text.default('name'),
        groups: text.default('groups'),
      })
      .prefault({}),
    second_factor: secondFactor,
    sp_private_key: text.optional(),
    sp_certificate: text.optional(),
    sign_authn_requests: z.boolean().optional(),
    authn_request_binding: z.enum(['redirect', 'post']).default('redirect'),
    want_assertions_encrypted: z.boolean().default(false),
  })
  .superRefine((value, ctx) => {
    const given = Number(value.idp_metadata_xml !== undefined) + Number(value.idp_metadata_url !== undefined);
    if (given !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['idp_metadata_xml'],
        message: 'give exactly one of idp_metadata_xml (or idp_metadata_xml_file) and idp_metadata_url',
      });
    }
    if ((value.sp_private_key === undefined) !== (value.sp_certificate === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [value.sp_private_key === undefined ? 'sp_private_key' : 'sp_certificate'],
        message: 'give sp_private_key and sp_certificate together (or their _file forms)',
      });
    }
    if (
      (value.sign_authn_requests === true || value.want_assertions_encrypted) &&
      value.sp_private_key === undefined
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['sp_private_key'],
        message: 'is required for sign_authn_requests and want_assertions_encrypted',
      });
    }
  });

const connection = z.discriminatedUnion('type', [
  localConnection,
  googleConnection,
  oidcConnection,
  samlConnection,
]);

const policy = z
  .strictObject({
    require_2sv: z.boolean().default(false),
    allowed_clients: z.array(z.string()).default([]),
    jit_provisioning: z.boolean().default(true),
    refresh_idle_ttl: duration(1),
    refresh_absolute_ttl: duration(1),
    max_upstream_age: duration(1),
    upstream_revalidate_interval: duration(1),
    accept_identities: z
      .enum(['organization_domains', 'any_verified', 'any'])
      .default('organization_domains'),
  })
  .prefault({});

/**
 * How pages look for an organization, an app or the whole instance (checked in build.ts: the logo is
 * a data: URI or a file, never a URL; the accent keeps white button text readable).
 */
const branding = z
  .strictObject({
    display_name: text.max(80).optional(),
    logo: text.optional(),
    accent_color: z
      .string()
      .trim()
      .regex(/^#[0-9a-fA-F]{6}$/, 'must be a colour written #rrggbb, e.g. #1c4f80')
      .optional(),
  })
  .optional();

const organization = z.strictObject({
  id: identifier,
  name: text,
  branding,
  domains: z.array(domain).default([]),
  connection,
  policy,
});

const jwk = z.record(z.string(), z.unknown());

const client = z.strictObject({
  id: identifier,
  name: text.optional(),
  branding,
  kind: z.enum(['native', 'web']).default('native'),
  redirect_uris: z.array(z.string()).default([]),
  post_logout_redirect_uris: z.array(z.string()).default([]),
  device_flow: z.boolean().default(false),
  token_endpoint_auth_method: z
    .enum(['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'])
    .optional(),
  secret: text.optional(),
  jwks: z.strictObject({ keys: z.array(jwk).min(1) }).optional(),
  download_url: httpUrl.optional(),
  // OpenID Connect's default (Core §3.1.3.7, Registration §2): what a library assumes when the
  // client does not say; our SDK's apps declare ES256.
  id_token_signed_response_alg: z.enum(['ES256', 'RS256']).default('RS256'),
  /**
   * Sender-constrained tokens (RFC 9449). `required`: every token request must carry a DPoP proof.
   * `optional` (the default, so configurations written before the key keep working): tokens are
   * bound when the request carries a proof.
   */
  dpop: z.enum(['required', 'optional']).default('optional'),
});

const resource = z.strictObject({
  id: z.string().refine((v) => {
    try {
      return new URL(v).hash === '' && !v.includes('#');
    } catch {
      return false;
    }
  }, 'must be an absolute URI without a fragment, e.g. https://api.example.com (RFC 8707)'),
  name: text.optional(),
  scopes: z.array(scopeToken).default([]),
  access_token_ttl: duration(1),
  /**
   * Which clients may get tokens for this resource: a list of client ids (each with every scope of
   * the resource), or a mapping of client id to the scopes it may have. Absent: every client, every
   * scope (configurations written before the key existed). Checked against `scopes` in build.ts.
   */
  clients: z
    .union([z.array(z.string()), z.record(z.string(), z.array(z.string()))], {
      error: 'must be a list of client ids or a mapping of client id to a list of scopes',
    })
    .optional(),
});

const user = z.strictObject({
  email,
  password: text.optional(),
  totp_secret: base32Secret.optional(),
  name: text.optional(),
});

const lifetimes = z
  .strictObject({
    access_token: duration(1),
    id_token: duration(1),
    authorization_code: duration(1),
    device_code: duration(1),
    interaction: duration(1),
    browser_session: duration(1),
    refresh_idle: duration(1),
    refresh_absolute: duration(1),
    refresh_reuse_grace: duration(0),
    session_events_heartbeat: duration(1),
  })
  .prefault({});

/** Server-wide DPoP settings (the nonce secret is derived from the operator secret). */
const dpop = z
  .strictObject({
    /** Every DPoP proof must carry a nonce this server issued (RFC 9449 §8); off by default. */
    require_nonce: z.boolean().default(false),
  })
  .prefault({});

const argon2 = z
  .strictObject({
    memory_cost: z.number().int().min(8).max(4_194_304).optional(),
    time_cost: z.number().int().min(1).max(100).optional(),
    parallelism: z.number().int().min(1).max(64).optional(),
  })
  .prefault({});

/** Who may use the admin API and console, and which apps besides the console may call it. */
const admin = z
  .strictObject({
    administrators: z.array(z.strictObject({ email, organization: identifier.optional() })).default([]),
    clients: z.array(identifier).default([]),
  })
  .prefault({});

export const fileSchema = z.strictObject({
  issuer: z.string().optional(),
  database: z.string().optional(),
  secret_file: text.optional(),
  redis_url: z.string().optional(),
  trusted_proxies: z.array(proxyEntry).optional(),
  log_level: z.enum(LOG_LEVELS).optional(),
  default_organization: z.string().optional(),
  lifetimes,
  argon2,
  dpop,
  clients: z.array(client).default([]),
  resources: z.array(resource).default([]),
  organizations: z.array(organization).default([]),
  users: z.array(user).optional(),
  admin,
  branding,
});

export type FileConfig = z.output<typeof fileSchema>;
export type FileClient = z.output<typeof client>;
export type FileOrganization = z.output<typeof organization>;
export type FileBranding = z.output<typeof branding>;

/**
 * Messages for zod issues that never include the input value (it may be a secret).
 * Schema-level messages (refinements above) take precedence over this map.
 */
export function issueMessage(issue: z.core.$ZodRawIssue): string {
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.input === undefined) return 'is required';
      const expected = String(issue.expected);
      const names: Record<string, string> = {
        string: 'must be a string',
        number: 'must be a number',
        int: 'must be an integer',
        boolean: 'must be true or false',
        array: 'must be a list',
        object: 'must be a mapping (key: value)',
        record: 'must be a mapping (key: value)',
      };
      return names[expected] ?? `must be of type ${expected}`;
    }
    case 'too_small':
      if (issue.origin === 'string') return 'must not be empty';
      if (issue.origin === 'array')
        return `must have at least ${issue.minimum} entr${issue.minimum === 1 ? 'y' : 'ies'}`;
      return `must be at least ${issue.minimum}`;
    case 'too_big':
      if (issue.origin === 'array') return `must have at most ${issue.maximum} entries`;
      return `must be at most ${issue.maximum}`;
    case 'invalid_value':
      return `must be one of: ${issue.values.map((v) => String(v)).join(', ')}`;
    case 'invalid_union':
      if ('options' in issue && Array.isArray(issue.options)) {
        return `must be one of: ${issue.options.map((v) => String(v)).join(', ')}`;
      }
      return 'has an invalid value';
    case 'unrecognized_keys':
      return 'unknown key';
    case 'invalid_format':
      return `must be a valid ${issue.format}`;
    default:
      return 'is invalid';
  }
}

/** The schemas the admin API validates a connection and a policy with (the same as the file's). */
export { connection as connectionSchema, policy as policySchema };
