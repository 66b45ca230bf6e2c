/**
 * The operator secret, from which encryption keys for secrets at rest are derived.
 * Precedence: LATCHKEY_SECRET, LATCHKEY_SECRET_FILE, then `secret_file:` in the file. In development
 * with none of them, a random key is generated once into `<database dir>/secret.key` (mode 0600)
 * and reused on later starts; production refuses that, since losing the file loses every secret.
 */

import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { ConfigIssue } from './errors.js';
import { errorCode } from './references.js';
import type { Environment } from './types.js';

export const MIN_SECRET_LENGTH = 32;
export const SECRET_TOO_SHORT = `must be at least ${MIN_SECRET_LENGTH} characters (generate one with: openssl rand -base64 32)`;

export interface OperatorSecretInput {
  envSecret?: string | undefined;
  envSecretFile?: string | undefined;
  fileSecretFile?: string | undefined;
  databaseUrl: string | undefined;
  env: Environment;
  cwd: string;
  /** False when other issues exist: nothing is written to disk for a configuration that fails. */
  mayGenerate: boolean;
}

export interface OperatorSecret {
  secret: string;
  source: string;
}

/** Where a development key is generated: beside the SQLite database, else `./data`. */
export function generatedSecretPath(databaseUrl: string | undefined, cwd: string): string {
  if (databaseUrl?.startsWith('sqlite:') && databaseUrl !== 'sqlite::memory:') {
    return join(dirname(resolve(cwd, databaseUrl.slice('sqlite:'.length))), 'secret.key');
  }
  return join(resolve(cwd, 'data'), 'secret.key');
}

export async function resolveOperatorSecret(
  input: OperatorSecretInput,
  issues: ConfigIssue[],
  secrets: Set<string>,
): Promise<OperatorSecret | undefined> {
  if (input.envSecret !== undefined) {
    if (input.envSecretFile !== undefined) {
      issues.push({
        path: 'LATCHKEY_SECRET',
        message: 'set only one of LATCHKEY_SECRET and LATCHKEY_SECRET_FILE',
      });
      return undefined;
    }
    if (input.envSecret.length < MIN_SECRET_LENGTH) {
      issues.push({ path: 'LATCHKEY_SECRET', message: SECRET_TOO_SHORT });
      return undefined;
    }
    return { secret: input.envSecret, source: 'env' };
  }

  const fileRef =
    input.envSecretFile !== undefined
      ? { key: 'LATCHKEY_SECRET_FILE', path: input.envSecretFile }
      : input.fileSecretFile !== undefined
        ? { key: 'secret_file', path: input.fileSecretFile }
        : undefined;
  if (fileRef !== undefined) {
    const path = resolve(input.cwd, fileRef.path);
    let secret: string;
    try {
      secret = (await readFile(path, 'utf8')).trim();
    } catch (error) {
      issues.push({ path: fileRef.key, message: `cannot read ${path} (${errorCode(error)})` });
      return undefined;
    }
    secrets.add(secret);
    if (secret.length < MIN_SECRET_LENGTH) {
      issues.push({ path: fileRef.key, message: `the secret in ${path} ${SECRET_TOO_SHORT}` });
      return undefined;
    }
    return { secret, source: `file:${path}` };
  }

  if (input.env === 'production') {
    issues.push({
      path: 'LATCHKEY_SECRET',
      message:
        'production requires an operator secret: set LATCHKEY_SECRET or LATCHKEY_SECRET_FILE (or secret_file: in the file); a generated key file is for development only',
    });
    return undefined;
  }
  if (!input.mayGenerate) return undefined;

  const path = generatedSecretPath(input.databaseUrl, input.cwd);
  try {
    const existing = await readGenerated(path);
    if (existing !== undefined) {
      secrets.add(existing);
      if (existing.length < MIN_SECRET_LENGTH) {
        issues.push({
          path: 'LATCHKEY_SECRET',
          message: `the generated key file ${path} is damaged; delete it or set LATCHKEY_SECRET`,
        });
        return undefined;
      }
      return { secret: existing, source: `generated:${path}` };
    }
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const secret = randomBytes(32).toString('base64url');
    try {
      // `wx`: if another process created the file meanwhile, use its key rather than overwrite it.
      await writeFile(path, `${secret}\n`, { flag: 'wx', mode: 0o600 });
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
      const raced = await readGenerated(path);
      if (raced === undefined || raced.length < MIN_SECRET_LENGTH) throw error;
      secrets.add(raced);
      return { secret: raced, source: `generated:${path}` };
    }
    await chmod(path, 0o600);
    secrets.add(secret);
    return { secret, source: `generated:${path}` };
  } catch (error) {
    issues.push({
      path: 'LATCHKEY_SECRET',
      message: `not set, and the development key file ${path} cannot be created or read (${errorCode(error)})`,
    });
    return undefined;
  }
}

async function readGenerated(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}
