/** Values that may come from either an environment variable or the file, checked the same way. */

import { resolve } from 'node:path';
import type { ConfigIssue } from './errors.js';
import { MIN_SECRET_LENGTH, SECRET_TOO_SHORT } from './operator-secret.js';
import { isLoopbackHost } from './redirect-uris.js';
import { addUrlPassword } from './references.js';
import { isProxyEntry, LOG_LEVELS } from './schema.js';
import type { Environment, LatchkeyConfig } from './types.js';

export const DEFAULT_PORT = 4000;
export const DEFAULT_DATABASE = 'sqlite:./data/latchkey.db';
export const ISSUER_HINT =
  'must be an absolute http(s) URL without query or fragment, e.g. https://sso.example.com';
export const DATABASE_HINT = 'must be sqlite:<path> or postgres://user@host:5432/db';

/** The issuer without a trailing slash, or `undefined` when it is not a usable issuer URL. */
export function normalizeIssuer(value: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (url.hostname === '' || url.search !== '' || url.hash !== '' || value.includes('#')) return undefined;
  if (url.username !== '' || url.password !== '') return undefined;
  return url;
}

export function issuerString(url: URL): string {
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** Loopback issuers (127.0.0.1, [::1], localhost) are development; any other host means production. */
export function isLoopbackIssuer(url: URL): boolean {
  return isLoopbackHost(url.hostname);
}

/** `sqlite:<path>` with the path made absolute against `cwd`, or a PostgreSQL URL as given. */
export function normalizeDatabaseUrl(value: string, cwd: string): string | undefined {
  const trimmed = value.trim();
  if (trimmed.startsWith('sqlite:')) {
    const path = trimmed.slice('sqlite:'.length);
    if (path === '') return undefined;
    if (path === ':memory:') return trimmed;
    return `sqlite:${resolve(cwd, path)}`;
  }
  if (/^postgres(ql)?:\/\//.test(trimmed)) {
    try {
      return new URL(trimmed).hostname !== '' ? trimmed : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

export function isRedisUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '';
  } catch {
    return false;
  }
}

export interface EnvSettings {
  issuer?: string;
  host?: string;
  port?: number;
  databaseUrl?: string;
  secret?: string;
  secretFile?: string;
  /** LATCHKEY_SECRET was given but is unusable (already reported). */
  secretInvalid?: boolean;
  configPath?: string;
  env?: Environment;
  redisUrl?: string;
  trustedProxies?: string[];
  logLevel?: LatchkeyConfig['logLevel'];
}

/** An environment variable, with an empty value treated as unset (as in `LATCHKEY_PORT=`). */
export function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** Reads and checks the LATCHKEY_* variables. Issues name the variable. */
export function readEnv(
  env: NodeJS.ProcessEnv,
  cwd: string,
  issues: ConfigIssue[],
  secrets: Set<string>,
): EnvSettings {
  const out: EnvSettings = {};
  const issue = (path: string, message: string) => issues.push({ path, message });

  const issuer = envValue(env, 'LATCHKEY_ISSUER');
  if (issuer !== undefined) {
    const url = normalizeIssuer(issuer);
    if (url) out.issuer = issuerString(url);
    else issue('LATCHKEY_ISSUER', ISSUER_HINT);
  }

  const host = envValue(env, 'LATCHKEY_HOST');
  if (host !== undefined) {
    if (/^[A-Za-z0-9.:[\]-]+$/.test(host)) out.host = host.replace(/^\[(.*)\]$/, '$1');
    else issue('LATCHKEY_HOST', 'must be an IP address or host name to bind, e.g. 0.0.0.0 or 127.0.0.1');
  }

  const port = envValue(env, 'LATCHKEY_PORT');
  if (port !== undefined) {
    const n = Number(port);
    if (/^\d+$/.test(port) && n >= 1 && n <= 65_535) out.port = n;
    else issue('LATCHKEY_PORT', 'must be an integer 1-65535');
  }

  const database = envValue(env, 'LATCHKEY_DATABASE_URL');
  if (database !== undefined) {
    addUrlPassword(database, secrets);
    const normalized = normalizeDatabaseUrl(database, cwd);
    if (normalized) out.databaseUrl = normalized;
    else issue('LATCHKEY_DATABASE_URL', DATABASE_HINT);
  }

  // Surrounding whitespace (a newline from `$(cat file)`) is not part of the secret.
  const secret = envValue(env, 'LATCHKEY_SECRET');
  const secretFile = envValue(env, 'LATCHKEY_SECRET_FILE');
  if (secret !== undefined) {
    secrets.add(secret);
    out.secret = secret;
    if (secretFile !== undefined) {
      issue('LATCHKEY_SECRET', 'set only one of LATCHKEY_SECRET and LATCHKEY_SECRET_FILE');
      out.secretInvalid = true;
    } else if (secret.length < MIN_SECRET_LENGTH) {
      issue('LATCHKEY_SECRET', SECRET_TOO_SHORT);
      out.secretInvalid = true;
    }
  }
  if (secretFile !== undefined) out.secretFile = secretFile;
  const configPath = envValue(env, 'LATCHKEY_CONFIG');
  if (configPath !== undefined) out.configPath = configPath;

  const mode = envValue(env, 'LATCHKEY_ENV');
  if (mode !== undefined) {
    if (mode === 'development' || mode === 'production') out.env = mode;
    else issue('LATCHKEY_ENV', 'must be development or production');
  }

  const redis = envValue(env, 'LATCHKEY_REDIS_URL');
  if (redis !== undefined) {
    addUrlPassword(redis, secrets);
    if (isRedisUrl(redis)) out.redisUrl = redis;
    else issue('LATCHKEY_REDIS_URL', 'must be a redis:// or rediss:// URL');
  }

  const proxies = envValue(env, 'LATCHKEY_TRUSTED_PROXIES');
  if (proxies !== undefined) {
    const entries = proxies
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '');
    const bad = entries.filter((p) => !isProxyEntry(p));
    if (bad.length > 0) {
      issue(
        'LATCHKEY_TRUSTED_PROXIES',
        `${bad.map((b) => JSON.stringify(b)).join(', ')}: each entry must be an IP address, a CIDR range (10.0.0.0/8) or loopback/linklocal/uniquelocal`,
      );
    } else out.trustedProxies = entries;
  }

  const logLevel = envValue(env, 'LATCHKEY_LOG_LEVEL');
  if (logLevel !== undefined) {
    if ((LOG_LEVELS as readonly string[]).includes(logLevel)) {
      out.logLevel = logLevel as LatchkeyConfig['logLevel'];
    } else issue('LATCHKEY_LOG_LEVEL', `must be one of: ${LOG_LEVELS.join(', ')}`);
  }
  return out;
}
