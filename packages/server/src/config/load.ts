/**
 * `loadConfig()`: environment variables and the optional YAML file -> one validated, deep-frozen
 * `LatchkeyConfig`. Validation happens once, here, at start; every problem is reported at once,
 * each named by its YAML key path or environment variable, and no message contains a secret value.
 *
 * Steps: read env -> read file -> resolve secret references -> schema -> merge (env wins) ->
 * cross-field checks -> production checks -> operator secret -> freeze.
 */

import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import {
  buildAdmin,
  buildArgon2,
  buildBranding,
  buildClients,
  buildLifetimes,
  buildOrganizations,
  buildResources,
  buildUsers,
} from './build.js';
import { ConfigError, type ConfigIssue, redactText } from './errors.js';
import { deepFreeze } from './freeze.js';
import { resolveOperatorSecret } from './operator-secret.js';
import { errorCode, formatPath, resolveReferences } from './references.js';
import { type FileConfig, fileSchema, issueMessage } from './schema.js';
import { keysAt } from './schema-keys.js';
import { didYouMean } from './suggest.js';
import type { Environment, LatchkeyConfig } from './types.js';
import {
  DATABASE_HINT,
  DEFAULT_DATABASE,
  DEFAULT_PORT,
  envValue,
  ISSUER_HINT,
  isLoopbackIssuer,
  isRedisUrl,
  issuerString,
  normalizeDatabaseUrl,
  normalizeIssuer,
  readEnv,
} from './values.js';

export interface LoadConfigOptions {
  /** Environment variables; defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** The YAML file (from `--config`); defaults to LATCHKEY_CONFIG. Relative to `cwd`. */
  configPath?: string;
  /** Directory that relative paths are resolved against; defaults to `process.cwd()`. */
  cwd?: string;
}

/**
 * Loads, validates and freezes the configuration.
 * @throws {ConfigError} listing every problem found.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<Readonly<LatchkeyConfig>> {
  const env = options.env ?? process.env;
  const cwd = resolve(options.cwd ?? process.cwd());
  const issues: ConfigIssue[] = [];
  const secrets = new Set<string>();
  const fail = (configFile: string | undefined): ConfigError => {
    const sources = configFile !== undefined ? [`file ${configFile}`, 'environment'] : ['environment'];
    const clean = issues.map((i) => ({ path: i.path, message: redactText(i.message, secrets) }));
    return new ConfigError(clean, sources);
  };

  // 1. Environment.
  const fromEnv = readEnv(env, cwd, issues, secrets);

  // 2-4. File: read, resolve references, validate with the schema.
  const configKey = options.configPath !== undefined ? '--config' : 'LATCHKEY_CONFIG';
  const configPath = options.configPath ?? fromEnv.configPath;
  const configFile = configPath !== undefined ? resolve(cwd, configPath) : undefined;
  let file: FileConfig;
  let failedSections: ReadonlySet<string> = new Set();
  if (configFile !== undefined) {
    const read = await readConfigFile(configFile, configKey, env, cwd, issues, secrets);
    if (read === undefined) throw fail(configFile);
    file = read.file;
    failedSections = read.failedSections;
  } else {
    file = fileSchema.parse({});
  }
  const schemaIssues = issues.length;

  // 5. Merge: environment variables override the file.
  let issuerKey = fromEnv.issuer !== undefined ? 'LATCHKEY_ISSUER' : 'issuer';
  let issuerUrl: URL | undefined;
  if (fromEnv.issuer !== undefined) issuerUrl = normalizeIssuer(fromEnv.issuer);
  else if (file.issuer !== undefined) {
    issuerUrl = normalizeIssuer(file.issuer);
    if (issuerUrl === undefined) issues.push({ path: 'issuer', message: ISSUER_HINT });
  } else {
    issuerKey = 'LATCHKEY_ISSUER';
    issuerUrl = new URL(`http://127.0.0.1:${fromEnv.port ?? DEFAULT_PORT}`);
  }
  const issuer = issuerUrl !== undefined ? issuerString(issuerUrl) : '';
  // Behind a reverse proxy the issuer usually has no port; the server then listens on the default.
  const port = fromEnv.port ?? (issuerUrl?.port ? Number(issuerUrl.port) : DEFAULT_PORT);

  // A non-loopback issuer is production whatever LATCHKEY_ENV says: development defaults must not
  // leak onto a reachable server.
  const mode: Environment =
    fromEnv.env === 'production' || (issuerUrl !== undefined && !isLoopbackIssuer(issuerUrl))
      ? 'production'
      : 'development';

  let databaseUrl = fromEnv.databaseUrl;
  if (envValue(env, 'LATCHKEY_DATABASE_URL') === undefined) {
    if (file.database !== undefined) {
      databaseUrl = normalizeDatabaseUrl(file.database, cwd);
      if (databaseUrl === undefined) issues.push({ path: 'database', message: DATABASE_HINT });
    } else {
      databaseUrl = normalizeDatabaseUrl(DEFAULT_DATABASE, cwd);
    }
  }

  let redisUrl = fromEnv.redisUrl;
  if (redisUrl === undefined && file.redis_url !== undefined) {
    if (isRedisUrl(file.redis_url)) redisUrl = file.redis_url;
    else issues.push({ path: 'redis_url', message: 'must be a redis:// or rediss:// URL' });
  }

  // 6. Sections and cross-field checks.
  const lifetimes = buildLifetimes(file.lifetimes, issues);
  const argon2 = buildArgon2(file.argon2, issues);
  const clients = buildClients(file.clients, mode, issues, cwd);
  const resources = buildResources(file.resources, issues);
  const organizations = buildOrganizations(
    file.organizations,
    new Set(clients.map((c) => c.id)),
    lifetimes,
    issues,
    cwd,
  );
  const branding = buildBranding(file.branding, 'branding', cwd, issues);
  const defaultOrganization = file.default_organization;
  if (defaultOrganization !== undefined && !organizations.some((o) => o.id === defaultOrganization)) {
    issues.push({ path: 'default_organization', message: `unknown organization "${defaultOrganization}"` });
  }
  const users = buildUsers(file.users ?? [], organizations, defaultOrganization, issues);
  const admin = buildAdmin(file.admin, organizations, clients, issues);

  if (failedSections.size > 0) {
    const crossField = issues.splice(schemaIssues);
    issues.push(...crossField.filter((issue) => !dependsOnFailed(issue.path, failedSections)));
  }

  // 7. Production refuses development defaults (an http issuer, a generated key file, `users:`).
  if (mode === 'production') {
    if (issuerUrl?.protocol === 'http:') {
      issues.push({
        path: issuerKey,
        message:
          'production requires an https issuer (production because of LATCHKEY_ENV=production or a non-loopback issuer)',
      });
    }
    if (file.users !== undefined && file.users.length > 0) {
      issues.push({
        path: 'users',
        message:
          'local development users are refused in production; create accounts with `latchkey admin` instead',
      });
    }
  }

  // 8. Operator secret last: a development key file is generated only for a configuration that works.
  const operatorSecret = fromEnv.secretInvalid
    ? undefined
    : await resolveOperatorSecret(
        {
          envSecret: fromEnv.secret,
          envSecretFile: fromEnv.secretFile,
          fileSecretFile: file.secret_file,
          databaseUrl,
          env: mode,
          cwd,
          mayGenerate: issues.length === 0,
        },
        issues,
        secrets,
      );

  if (issues.length > 0 || operatorSecret === undefined || databaseUrl === undefined) throw fail(configFile);

  const config: LatchkeyConfig = {
    env: mode,
    issuer,
    host: fromEnv.host ?? '127.0.0.1',
    port,
    databaseUrl,
    secret: operatorSecret.secret,
    secretSource: operatorSecret.source,
    redisUrl,
    trustedProxies: fromEnv.trustedProxies ?? file.trusted_proxies ?? [],
    logLevel: fromEnv.logLevel ?? file.log_level ?? 'info',
    lifetimes,
    argon2,
    dpop: { requireNonce: file.dpop.require_nonce },
    defaultOrganization,
    clients,
    resources,
    organizations,
    users,
    configFile,
    admin,
    branding,
  };
  return deepFreeze(config);
}

/** Reads, parses, resolves and validates the file; `undefined` when it cannot be used at all. */
async function readConfigFile(
  path: string,
  configKey: string,
  env: NodeJS.ProcessEnv,
  cwd: string,
  issues: ConfigIssue[],
  secrets: Set<string>,
): Promise<{ file: FileConfig; failedSections: ReadonlySet<string> } | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    issues.push({ path: configKey, message: `cannot read ${path} (${errorCode(error)})` });
    return undefined;
  }

  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    for (const error of doc.errors) {
      // Only the first line: the rest of yaml's message quotes the source, which may hold a secret.
      const message = (error.message.split('\n')[0] ?? 'syntax error').replace(
        / at line \d+, column \d+:?$/,
        '',
      );
      const at = error.linePos?.[0];
      issues.push({ path: at ? `line ${at.line}, column ${at.col}` : '(yaml)', message: `YAML: ${message}` });
    }
    return undefined;
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch {
    issues.push({ path: '(yaml)', message: 'YAML: the document cannot be read (too many aliases?)' });
    return undefined;
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    issues.push({ path: '(root)', message: 'must be a mapping of settings (issuer:, clients:, …)' });
    return undefined;
  }
  // `users:` with nothing after it is null in YAML: read it as absent.
  const root = raw as Record<string, unknown>;
  for (const [key, value] of Object.entries(root)) if (value === null) delete root[key];

  const references = resolveReferences(root, env, cwd);
  issues.push(...references.issues);
  for (const secret of references.secrets) secrets.add(secret);

  const parsed = fileSchema.safeParse(root, { error: (issue) => issueMessage(issue) });
  const underFailed = (path: string) =>
    references.failedPaths.some(
      (failed) => path === failed || path.startsWith(`${failed}.`) || path.startsWith(`${failed}[`),
    );
  if (parsed.success) return { file: parsed.data, failedSections: new Set() };
  for (const issue of zodIssues(parsed.error.issues)) if (!underFailed(issue.path)) issues.push(issue);
  // Every problem in one pass: the sections that are valid on their own still go through the
  // cross-field checks below, so fixing the reported problems does not reveal a second batch.
  const partial: Record<string, unknown> = {};
  const failedSections = new Set<string>();
  const shape = fileSchema.shape as Record<string, z.ZodType>;
  for (const [key, section] of Object.entries(shape)) {
    const one = section.safeParse(root[key], { error: (issue) => issueMessage(issue) });
    if (one.success) partial[key] = one.data;
    else {
      failedSections.add(key);
      partial[key] = section.safeParse(undefined).data;
    }
  }
  return { file: partial as FileConfig, failedSections };
}

/**
 * Cross-field problems that only follow from a broken section (a user whose organization is in a
 * list that failed validation) are left out: they would vanish with the fix of that section.
 */
const DEPENDS_ON: Record<string, string[]> = {
  users: ['organizations', 'default_organization'],
  organizations: ['clients', 'lifetimes'],
  default_organization: ['organizations'],
  admin: ['organizations', 'clients'],
};

function dependsOnFailed(path: string, failed: ReadonlySet<string>): boolean {
  const section = /^[a-z_0-9]+/.exec(path)?.[0] ?? '';
  return (DEPENDS_ON[section] ?? []).some((d) => failed.has(d));
}

function zodIssues(list: readonly z.core.$ZodIssue[], prefix: (string | number)[] = []): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of list) {
    const path = [...prefix, ...issue.path.filter((p): p is string | number => typeof p !== 'symbol')];
    if (issue.code === 'unrecognized_keys') {
      const known = keysAt(fileSchema, path);
      for (const key of issue.keys) {
        out.push({ path: formatPath([...path, key]), message: `unknown key${didYouMean(key, known)}` });
      }
    } else {
      out.push({ path: formatPath(path), message: issue.message });
    }
  }
  return out;
}
