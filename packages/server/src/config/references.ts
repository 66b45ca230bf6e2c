/**
 * Secret references in the configuration file, resolved before validation:
 * - `key: ${ENV_VAR}` takes the value of an environment variable (the whole value; `$${X}` is a
 *   literal `${X}`);
 * - `key_file: /path` reads the value from a file (trimmed), relative paths against the working directory.
 * Every resolved secret value is collected so that error messages can be scrubbed of it.
 */

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ConfigIssue } from './errors.js';

/** Keys whose values are secrets: never shown in messages. */
export const SECRET_KEYS: ReadonlySet<string> = new Set([
  'secret',
  'client_secret',
  'password',
  'totp_secret',
  'private_key',
  'sp_private_key',
]);

/** Keys that accept `${ENV_VAR}` and `<key>_file`. URLs may carry passwords; metadata XML is long. */
export const REFERENCE_KEYS: ReadonlySet<string> = new Set([
  ...SECRET_KEYS,
  'idp_metadata_xml',
  'sp_certificate',
  'database',
  'redis_url',
]);

const ENV_REFERENCE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;
const ESCAPED_REFERENCE = /^\$(\$\{[A-Za-z_][A-Za-z0-9_]*\})$/;

export type PathSegment = string | number;

export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? segment : `.${segment}`;
  }
  return out === '' ? '(root)' : out;
}

export interface ResolvedReferences {
  issues: ConfigIssue[];
  /** Paths (formatted) whose value could not be resolved; later issues under them are noise. */
  failedPaths: string[];
  /** Secret values seen in the file (resolved or literal), for scrubbing messages. */
  secrets: Set<string>;
}

/** Resolves references in place in a parsed YAML tree. */
export function resolveReferences(root: unknown, env: NodeJS.ProcessEnv, cwd: string): ResolvedReferences {
  const result: ResolvedReferences = { issues: [], failedPaths: [], secrets: new Set() };
  walk(root, [], env, cwd, result);
  return result;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function walk(
  node: unknown,
  path: PathSegment[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  result: ResolvedReferences,
): void {
  if (Array.isArray(node)) {
    node.forEach((child, index) => {
      walk(child, [...path, index], env, cwd, result);
    });
    return;
  }
  if (!isMapping(node)) return;
  for (const key of REFERENCE_KEYS) {
    // The top-level `secret_file` is the operator secret, handled with the environment variables.
    if (path.length === 0 && key === 'secret') continue;
    resolveKey(node, key, path, env, cwd, result);
  }
  for (const [key, child] of Object.entries(node)) walk(child, [...path, key], env, cwd, result);
}

function resolveKey(
  node: Record<string, unknown>,
  key: string,
  path: PathSegment[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  result: ResolvedReferences,
): void {
  const fileKey = `${key}_file`;
  const keyPath = formatPath([...path, key]);
  const fileKeyPath = formatPath([...path, fileKey]);
  const fail = (at: string, message: string) => {
    result.issues.push({ path: at, message });
    result.failedPaths.push(keyPath);
    delete node[fileKey];
    node[key] = '<unresolved>';
  };
  const remember = (value: string) => {
    if (SECRET_KEYS.has(key)) result.secrets.add(value);
    else if (key === 'database' || key === 'redis_url') addUrlPassword(value, result.secrets);
  };

  if (fileKey in node) {
    if (key in node) {
      fail(fileKeyPath, `give either ${key} or ${fileKey}, not both`);
      return;
    }
    const file = node[fileKey];
    if (typeof file !== 'string' || file.trim() === '') {
      fail(fileKeyPath, 'must be a file path');
      return;
    }
    const absolute = resolve(cwd, file);
    let content: string;
    try {
      content = readFileSync(absolute, 'utf8').trim();
    } catch (error) {
      fail(fileKeyPath, `cannot read ${absolute} (${errorCode(error)})`);
      return;
    }
    if (content === '') {
      fail(fileKeyPath, `${absolute} is empty`);
      return;
    }
    delete node[fileKey];
    node[key] = content;
    remember(content);
    return;
  }

  const value = node[key];
  if (typeof value !== 'string') return;
  const escaped = ESCAPED_REFERENCE.exec(value);
  if (escaped) {
    node[key] = escaped[1];
    remember(escaped[1] as string);
    return;
  }
  const reference = ENV_REFERENCE.exec(value);
  if (!reference) {
    remember(value);
    return;
  }
  const name = reference[1] as string;
  const resolved = env[name];
  if (resolved === undefined || resolved === '') {
    fail(keyPath, `environment variable ${name} is not set (referenced as \${${name}})`);
    return;
  }
  node[key] = resolved;
  remember(resolved);
}

/** The password of a URL such as `postgres://user:pass@host/db`, in raw and decoded forms. */
export function addUrlPassword(value: string, secrets: Set<string>): void {
  try {
    const url = new URL(value);
    if (url.password !== '') {
      secrets.add(url.password);
      secrets.add(decodeURIComponent(url.password));
    }
  } catch {
    // Not a URL: validation reports it without echoing the value.
  }
}

export function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'unreadable';
}
