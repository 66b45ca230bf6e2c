import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Settings of the command line client, from flags, then environment, then the config file. */
export interface CliConfig {
  issuer: string;
  clientId: string;
  /** Private-use scheme redirect for `--flow scheme`, e.g. `com.example.app:/oauth2redirect`. */
  redirectUri?: string;
  store: 'keychain' | 'file';
  /** Directory of the file store. */
  storeDir: string;
  cacheDir?: string;
  resources: string[];
  /** `LATCHKEY_DPOP=off`: bearer tokens instead of DPoP-bound ones (RFC 9449), e.g. to compare costs. */
  dpop: boolean;
  /** The config file read, if any. */
  configFile?: string;
}

export interface ConfigFlags {
  issuer?: string;
  'client-id'?: string;
  'redirect-uri'?: string;
  store?: string;
  'store-dir'?: string;
  'cache-dir'?: string;
  config?: string;
}

/** Per-user configuration directory: `$XDG_CONFIG_HOME/latchkey`, `%APPDATA%\latchkey`, `~/Library/Application Support/latchkey`. */
export function defaultConfigDir(env: NodeJS.ProcessEnv): string {
  const home = env.HOME || homedir();
  if (process.platform === 'win32') return join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'latchkey');
  if (process.platform === 'darwin') return join(home, 'Library', 'Application Support', 'latchkey');
  return join(env.XDG_CONFIG_HOME || join(home, '.config'), 'latchkey');
}

export class ConfigError extends Error {}

interface FileConfig {
  issuer?: string;
  clientId?: string;
  redirectUri?: string;
  store?: string;
  storeDir?: string;
  cacheDir?: string;
  resources?: string[];
}

/**
 * Resolves the configuration. The file is JSON (`desktop.json` in the config directory, or
 * `--config` / `LATCHKEY_DESKTOP_CONFIG`): `{ "issuer", "clientId", "redirectUri", "store", "storeDir",
 * "cacheDir", "resources" }`.
 */
export async function resolveConfig(flags: ConfigFlags, env: NodeJS.ProcessEnv): Promise<CliConfig> {
  const explicit = flags.config ?? env.LATCHKEY_DESKTOP_CONFIG;
  const configFile = explicit ?? join(defaultConfigDir(env), 'desktop.json');
  let file: FileConfig = {};
  try {
    file = JSON.parse(await readFile(configFile, 'utf8')) as FileConfig;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (explicit || code !== 'ENOENT')
      throw new ConfigError(`Cannot read the config file ${configFile}: ${(error as Error).message}`);
  }
  const issuer = flags.issuer ?? env.LATCHKEY_ISSUER ?? file.issuer;
  const clientId = flags['client-id'] ?? env.LATCHKEY_CLIENT_ID ?? file.clientId;
  if (!issuer)
    throw new ConfigError(
      'No issuer: pass --issuer, set LATCHKEY_ISSUER, or put "issuer" in the config file',
    );
  if (!clientId)
    throw new ConfigError(
      'No client id: pass --client-id, set LATCHKEY_CLIENT_ID, or put "clientId" in the config file',
    );
  const store = flags.store ?? env.LATCHKEY_STORE ?? file.store ?? 'keychain';
  if (store !== 'keychain' && store !== 'file')
    throw new ConfigError(`--store must be "keychain" or "file", not "${store}"`);
  const redirectUri = flags['redirect-uri'] ?? env.LATCHKEY_REDIRECT_URI ?? file.redirectUri;
  const cacheDir = flags['cache-dir'] ?? env.LATCHKEY_CACHE_DIR ?? file.cacheDir;
  const resources = env.LATCHKEY_RESOURCES
    ? env.LATCHKEY_RESOURCES.split(/[\s,]+/).filter(Boolean)
    : (file.resources ?? []);
  return {
    issuer,
    clientId,
    ...(redirectUri ? { redirectUri } : {}),
    store,
    storeDir:
      flags['store-dir'] ?? env.LATCHKEY_STORE_DIR ?? file.storeDir ?? join(defaultConfigDir(env), 'tokens'),
    ...(cacheDir ? { cacheDir } : {}),
    resources,
    dpop: env.LATCHKEY_DPOP !== 'off',
    ...(explicit || Object.keys(file).length ? { configFile } : {}),
  };
}
