/**
 * Maps the validated file (snake_case) to the typed configuration (camelCase), applying defaults
 * that depend on other keys and the checks that span several keys. Issue paths use the YAML names.
 */

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ConfigIssue } from './errors.js';
import { checkRedirectUri } from './redirect-uris.js';
import type { FileBranding, FileClient, FileConfig, FileOrganization } from './schema.js';
import type {
  AdminConfig,
  Argon2Config,
  BrandingConfig,
  ClientConfig,
  ConnectionConfig,
  ConnectionSecondFactor,
  DevUserConfig,
  Environment,
  LifetimesConfig,
  OrganizationConfig,
  ResourceConfig,
} from './types.js';

const MINUTE = 60;
const HOUR = 3600;
const DAY = 86_400;

export const DEFAULT_LIFETIMES: Readonly<LifetimesConfig> = Object.freeze({
  accessToken: 10 * MINUTE,
  idToken: 10 * MINUTE,
  authorizationCode: 60,
  deviceCode: 10 * MINUTE,
  interaction: HOUR,
  browserSession: 14 * DAY,
  refreshIdle: 14 * DAY,
  refreshAbsolute: 90 * DAY,
  refreshReuseGrace: 30,
  sessionEventsHeartbeat: 25,
});

/** OWASP Password Storage Cheat Sheet, Argon2id: m=19 MiB, t=2, p=1. */
export const DEFAULT_ARGON2: Readonly<Argon2Config> = Object.freeze({
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
});

export const DEFAULT_MAX_UPSTREAM_AGE = 90 * DAY;
export const DEFAULT_UPSTREAM_REVALIDATE_INTERVAL = HOUR;

type Issues = ConfigIssue[];

export function buildLifetimes(file: FileConfig['lifetimes'], issues: Issues): LifetimesConfig {
  const d = DEFAULT_LIFETIMES;
  const lifetimes: LifetimesConfig = {
    accessToken: file.access_token ?? d.accessToken,
    idToken: file.id_token ?? d.idToken,
    authorizationCode: file.authorization_code ?? d.authorizationCode,
    deviceCode: file.device_code ?? d.deviceCode,
    interaction: file.interaction ?? d.interaction,
    browserSession: file.browser_session ?? d.browserSession,
    refreshIdle: file.refresh_idle ?? d.refreshIdle,
    refreshAbsolute: file.refresh_absolute ?? d.refreshAbsolute,
    refreshReuseGrace: file.refresh_reuse_grace ?? d.refreshReuseGrace,
    sessionEventsHeartbeat: file.session_events_heartbeat ?? d.sessionEventsHeartbeat,
  };
  if (lifetimes.refreshIdle > lifetimes.refreshAbsolute) {
    issues.push({
      path: 'lifetimes.refresh_idle',
      message: 'must not be longer than lifetimes.refresh_absolute',
    });
  }
  return lifetimes;
}

export function buildArgon2(file: FileConfig['argon2'], issues: Issues): Argon2Config {
  const argon2: Argon2Config = {
    memoryCost: file.memory_cost ?? DEFAULT_ARGON2.memoryCost,
    timeCost: file.time_cost ?? DEFAULT_ARGON2.timeCost,
    parallelism: file.parallelism ?? DEFAULT_ARGON2.parallelism,
  };
  // Argon2 requires at least 8 KiB of memory per lane.
  if (argon2.memoryCost < 8 * argon2.parallelism) {
    issues.push({ path: 'argon2.memory_cost', message: 'must be at least 8 × argon2.parallelism (KiB)' });
  }
  return argon2;
}

/** JWK members that only a private key has: a client registers its public keys only. */
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];

/** A logo is small: it is sent with every page a person sees. */
export const MAX_LOGO_BYTES = 64 * 1024;
const LOGO_TYPES: Record<string, string> = {
  png: 'image/png',
  svg: 'image/svg+xml',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
};

/** WCAG 2.x contrast ratio of two `#rrggbb` colours (1 to 21). */
export function contrastRatio(a: string, b: string): number {
  const luminance = (hex: string) => {
    const [r, g, bl] = [1, 3, 5].map((i) => {
      const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
      return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    }) as [number, number, number];
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

/**
 * `branding:` of the instance, an organization or a client. The logo is read here, once: the pages'
 * CSP (img-src 'self' data:) loads no image from elsewhere, so a URL is refused rather than broken.
 */
export function buildBranding(
  file: FileBranding,
  at: string,
  cwd: string,
  issues: Issues,
): BrandingConfig | undefined {
  if (file === undefined) return undefined;
  const issue = (key: string, message: string) => issues.push({ path: `${at}.${key}`, message });
  const out: BrandingConfig = { displayName: file.display_name };
  if (file.accent_color !== undefined) {
    const color = file.accent_color.toLowerCase();
    const ratio = contrastRatio(color, '#ffffff');
    // WCAG 1.4.3: buttons carry white text on the accent.
    if (ratio < 4.5) {
      issue(
        'accent_color',
        `white text on ${color} has a contrast of ${ratio.toFixed(2)}:1, below the 4.5:1 buttons need (WCAG 1.4.3); choose a darker colour`,
      );
    } else out.accentColor = color;
  }
  if (file.logo !== undefined) out.logo = readLogo(file.logo, cwd, (m) => issue('logo', m));
  return out;
}

function readLogo(
  logo: string,
  cwd: string,
  fail: (message: string) => void,
): BrandingConfig['logo'] | undefined {
  const tooBig = (bytes: number) =>
    bytes > MAX_LOGO_BYTES ? `is ${bytes} bytes; a logo may have at most ${MAX_LOGO_BYTES} bytes` : undefined;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(logo)) {
    fail(
      "must be a data:image/… URI or the path of a file, not a URL: pages load images only from Latchkey itself (CSP img-src 'self' data:)",
    );
    return undefined;
  }
  if (logo.startsWith('data:')) {
    const match = /^data:(image\/(?:png|svg\+xml|jpeg|webp));base64,([A-Za-z0-9+/]+={0,2})$/.exec(logo);
    if (!match) {
      fail('must be a data:image/(png|svg+xml|jpeg|webp);base64,… URI');
      return undefined;
    }
    const base64 = match[2] as string;
    const problem = tooBig(Buffer.from(base64, 'base64').length);
    if (problem) fail(problem);
    return problem ? undefined : { mediaType: match[1] as string, base64 };
  }
  const mediaType = LOGO_TYPES[logo.slice(logo.lastIndexOf('.') + 1).toLowerCase()];
  if (mediaType === undefined) {
    fail('must be a .png, .svg, .jpg or .webp file (or a data:image/… URI)');
    return undefined;
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(resolve(cwd, logo));
  } catch (error) {
    fail(`cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    return undefined;
  }
  const problem = tooBig(bytes.length);
  if (problem) fail(problem);
  return problem ? undefined : { mediaType, base64: bytes.toString('base64') };
}

export function buildClients(
  file: FileClient[],
  env: Environment,
  issues: Issues,
  cwd: string = process.cwd(),
): ClientConfig[] {
  const seen = new Map<string, number>();
  return file.map((c, i) => {
    const at = (key: string) => `clients[${i}].${key}`;
    const issue = (key: string, message: string) => issues.push({ path: at(key), message });

    const first = seen.get(c.id);
    if (first !== undefined) issue('id', `duplicate client id "${c.id}" (also clients[${first}])`);
    else seen.set(c.id, i);

    const method =
      c.token_endpoint_auth_method ??
      (c.kind === 'native' ? 'none' : c.jwks !== undefined ? 'private_key_jwt' : 'client_secret_basic');

    if (c.kind === 'native') {
      // RFC 8252 §8.4: a secret shipped in a desktop app is not secret; native clients are public.
      if (method !== 'none') {
        issue('token_endpoint_auth_method', 'native clients are public and must use none (RFC 8252 §8.4)');
      }
      if (c.secret !== undefined) {
        issue('secret', 'native clients are public and must not have a secret (RFC 8252 §8.4); remove it');
      }
      if (c.jwks !== undefined) issue('jwks', 'native clients are public and must not have jwks; remove it');
      if (c.redirect_uris.length === 0 && !c.device_flow) {
        issue('redirect_uris', 'must have at least one entry (or set device_flow: true)');
      }
    } else {
      if (method === 'none') {
        issue(
          'token_endpoint_auth_method',
          'web clients are confidential: use client_secret_basic, client_secret_post or private_key_jwt',
        );
      } else if (method === 'private_key_jwt') {
        if (c.jwks === undefined) issue('jwks', 'is required for token_endpoint_auth_method private_key_jwt');
        if (c.secret !== undefined) issue('secret', 'is not used with private_key_jwt; remove it');
      } else {
        if (c.secret === undefined) {
          issue('secret', `is required for token_endpoint_auth_method ${method} (or give secret_file)`);
        }
        if (c.jwks !== undefined) issue('jwks', 'is only used with private_key_jwt; remove it');
      }
      if (c.redirect_uris.length === 0) issue('redirect_uris', 'must have at least one entry');
    }

    c.jwks?.keys.forEach((key, k) => {
      if (PRIVATE_JWK_MEMBERS.some((member) => member in key)) {
        issue(`jwks.keys[${k}]`, 'must be a public key: remove the private members (d, p, q, dp, dq, qi, k)');
      }
    });

    const checkUris = (key: string, uris: string[]) => {
      const unique = new Set<string>();
      uris.forEach((uri, j) => {
        const problem = checkRedirectUri(uri, c.kind, env);
        if (problem !== undefined) issue(`${key}[${j}]`, problem);
        else if (unique.has(uri)) issue(`${key}[${j}]`, 'is listed twice');
        unique.add(uri);
      });
    };
    checkUris('redirect_uris', c.redirect_uris);
    checkUris('post_logout_redirect_uris', c.post_logout_redirect_uris);

    return {
      id: c.id,
      name: c.name ?? c.id,
      branding: buildBranding(c.branding, `clients[${i}].branding`, cwd, issues),
      kind: c.kind,
      redirectUris: c.redirect_uris,
      postLogoutRedirectUris: c.post_logout_redirect_uris,
      deviceFlow: c.device_flow,
      tokenEndpointAuthMethod: method,
      secret: c.secret,
      jwks: c.jwks,
      downloadUrl: c.download_url,
      idTokenSignedResponseAlg: c.id_token_signed_response_alg,
      dpop: c.dpop,
    };
  });
}

export function buildResources(file: FileConfig['resources'], issues: Issues): ResourceConfig[] {
  const seen = new Map<string, number>();
  return file.map((r, i) => {
    const first = seen.get(r.id);
    if (first !== undefined) {
      issues.push({
        path: `resources[${i}].id`,
        message: `duplicate resource id "${r.id}" (also resources[${first}])`,
      });
    } else seen.set(r.id, i);
    return {
      id: r.id,
      name: r.name ?? r.id,
      scopes: r.scopes,
      accessTokenTtl: r.access_token_ttl,
      clients: buildResourceClients(r.clients, r.scopes, `resources[${i}]`, issues),
    };
  });
}

/**
 * `resources[].clients`: a list of client ids (every scope) or a mapping of client id to scopes.
 * Client ids are not checked against `clients:` — clients created with `latchkey admin clients`
 * live in the database only; an id that names no client admits nobody (it fails closed).
 */
function buildResourceClients(
  given: FileConfig['resources'][number]['clients'],
  scopes: readonly string[],
  at: string,
  issues: Issues,
): Record<string, string[]> | undefined {
  if (given === undefined) return undefined;
  const out: Record<string, string[]> = Object.create(null);
  if (Array.isArray(given)) {
    given.forEach((clientId, j) => {
      if (clientId in out)
        issues.push({ path: `${at}.clients[${j}]`, message: `client "${clientId}" is listed twice` });
      out[clientId] = [...scopes];
    });
    return { ...out };
  }
  for (const [clientId, list] of Object.entries(given)) {
    list.forEach((scope, j) => {
      if (!scopes.includes(scope))
        issues.push({
          path: `${at}.clients.${clientId}[${j}]`,
          message: `scope "${scope}" is not in ${at}.scopes`,
        });
    });
    out[clientId] = [...new Set(list)];
  }
  return { ...out };
}

function buildConnection(c: FileOrganization['connection']): ConnectionConfig {
  switch (c.type) {
    case 'local':
      return { type: 'local' };
    case 'google':
      return {
        type: 'google',
        clientId: c.client_id,
        clientSecret: c.client_secret,
        issuer: c.issuer,
        secondFactor: buildSecondFactor(c.second_factor),
      };
    case 'oidc':
      return {
        type: 'oidc',
        issuer: c.issuer,
        clientId: c.client_id,
        clientSecret: c.client_secret,
        scopes: c.scopes,
        prompt: c.prompt,
        extraParams: c.extra_params,
        claims: c.claims,
        entraTenantId: c.entra_tenant_id,
        secondFactor: buildSecondFactor(c.second_factor),
        tokenEndpointAuthMethod: c.token_endpoint_auth_method,
        privateKey: c.private_key,
        privateKeyId: c.private_key_id,
      };
    case 'saml':
      return {
        type: 'saml',
        idpMetadataXml: c.idp_metadata_xml,
        idpMetadataUrl: c.idp_metadata_url,
        attributes: c.attributes,
        secondFactor: buildSecondFactor(c.second_factor),
        spPrivateKey: c.sp_private_key,
        spCertificate: c.sp_certificate,
        signAuthnRequests: c.sign_authn_requests,
        authnRequestBinding: c.authn_request_binding,
        wantAssertionsEncrypted: c.want_assertions_encrypted,
      };
  }
}

function buildSecondFactor(s: {
  proof: ConnectionSecondFactor['proof'];
  trusted_acr: string[];
}): ConnectionSecondFactor {
  return { proof: s.proof, trustedAcr: s.trusted_acr };
}

export function buildOrganizations(
  file: FileOrganization[],
  clientIds: ReadonlySet<string>,
  lifetimes: LifetimesConfig,
  issues: Issues,
  cwd: string = process.cwd(),
): OrganizationConfig[] {
  const seen = new Map<string, number>();
  const domainOwner = new Map<string, string>();
  return file.map((o, i) => {
    const at = (key: string) => `organizations[${i}].${key}`;
    const issue = (key: string, message: string) => issues.push({ path: at(key), message });

    const first = seen.get(o.id);
    if (first !== undefined)
      issue('id', `duplicate organization id "${o.id}" (also organizations[${first}])`);
    else seen.set(o.id, i);

    // A domain routes an email to exactly one organization; two claims would make sign-in ambiguous.
    o.domains.forEach((domain, d) => {
      const owner = domainOwner.get(domain);
      if (owner === undefined) domainOwner.set(domain, o.id);
      else if (owner === o.id) issue(`domains[${d}]`, `domain "${domain}" is listed twice`);
      else issue(`domains[${d}]`, `domain "${domain}" is already claimed by organization "${owner}"`);
    });

    o.policy.allowed_clients.forEach((clientId, c) => {
      if (!clientIds.has(clientId)) issue(`policy.allowed_clients[${c}]`, `unknown client "${clientId}"`);
    });

    const p = o.policy;
    const policy = {
      require2sv: p.require_2sv,
      allowedClients: p.allowed_clients,
      jitProvisioning: p.jit_provisioning,
      refreshIdleTtl: p.refresh_idle_ttl ?? lifetimes.refreshIdle,
      refreshAbsoluteTtl: p.refresh_absolute_ttl ?? lifetimes.refreshAbsolute,
      maxUpstreamAge: p.max_upstream_age ?? DEFAULT_MAX_UPSTREAM_AGE,
      upstreamRevalidateInterval: p.upstream_revalidate_interval ?? DEFAULT_UPSTREAM_REVALIDATE_INTERVAL,
      acceptIdentities: p.accept_identities,
    };
    if (policy.refreshIdleTtl > policy.refreshAbsoluteTtl) {
      issue('policy.refresh_idle_ttl', 'must not be longer than the refresh absolute lifetime');
    }

    return {
      id: o.id,
      name: o.name,
      branding: buildBranding(o.branding, `organizations[${i}].branding`, cwd, issues),
      domains: o.domains,
      connection: buildConnection(o.connection),
      policy,
    };
  });
}

export function buildUsers(
  file: NonNullable<FileConfig['users']>,
  organizations: OrganizationConfig[],
  defaultOrganization: string | undefined,
  issues: Issues,
): DevUserConfig[] {
  const byDomain = new Map<string, OrganizationConfig>();
  for (const org of organizations)
    for (const domain of org.domains) if (!byDomain.has(domain)) byDomain.set(domain, org);
  const fallback = organizations.find((o) => o.id === defaultOrganization);
  const seen = new Map<string, number>();
  return file.map((u, i) => {
    const path = `users[${i}].email`;
    const first = seen.get(u.email);
    if (first !== undefined)
      issues.push({ path, message: `duplicate user "${u.email}" (also users[${first}])` });
    else seen.set(u.email, i);

    const domain = u.email.slice(u.email.lastIndexOf('@') + 1);
    const org = byDomain.get(domain) ?? fallback;
    if (org === undefined) {
      issues.push({
        path,
        message: `the domain ${domain} belongs to no organization; local accounts need an organization with connection { type: local } claiming it`,
      });
    } else if (org.connection.type !== 'local') {
      issues.push({
        path,
        message: `the domain ${domain} belongs to organization "${org.id}", whose connection is ${org.connection.type}; local accounts need connection { type: local }`,
      });
    }
    return { email: u.email, password: u.password, totpSecret: u.totp_secret, name: u.name };
  });
}

/** `admin:`: administrators name existing organizations; admin clients are declared clients. */
export function buildAdmin(
  file: FileConfig['admin'],
  organizations: readonly OrganizationConfig[],
  clients: readonly ClientConfig[],
  issues: Issues,
): AdminConfig {
  const administrators = file.administrators.map((a, i) => {
    if (a.organization !== undefined && !organizations.some((o) => o.id === a.organization)) {
      issues.push({
        path: `admin.administrators[${i}].organization`,
        message: `unknown organization "${a.organization}"`,
      });
    }
    return { email: a.email, organizationId: a.organization };
  });
  file.clients.forEach((id, i) => {
    if (!clients.some((c) => c.id === id)) {
      issues.push({
        path: `admin.clients[${i}]`,
        message: `unknown client "${id}" (declare it under clients:)`,
      });
    }
  });
  return { administrators, clients: [...file.clients] };
}
