import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';

/**
 * What Acme Desktop needs to know. A shipped app compiles these in (its issuer, its client id, its
 * scheme); here flags, `LATCHKEY_*` variables (the same as latchkey-desktop's) and a JSON file
 * (`--config`, the one `npm run demo` writes) can override the defaults, which are the demo's.
 */
export interface AppConfig {
  issuer: string;
  clientId: string;
  /** The private-use redirect URI; its scheme is what the OS hands to this app. */
  redirectUri: string;
  /** `auto`: the scheme when it can be registered, loopback otherwise. */
  flow: 'auto' | 'scheme' | 'loopback' | 'device';
  store: 'keychain' | 'file';
  storeDir?: string;
  cacheDir?: string;
  /** The API the app calls once signed in: its resource indicator and where it listens. */
  api: { resource: string; url: string };
  configFile?: string;
}

export const DEFAULTS = {
  issuer: 'http://127.0.0.1:4000',
  clientId: 'acme-desktop',
  redirectUri: 'com.acme.desktop:/oauth2redirect',
  apiResource: 'https://api.acme.test',
  apiUrl: 'http://127.0.0.1:4200',
};

export const USAGE = `Usage: acme-desktop [options] [-- <com.acme.desktop: URL>]

Opens the Acme Desktop window: signed in silently when a sign-in is stored, else the sign-in form.
Given a redirect URL (what the OS runs once the scheme is registered), hands it to the running window
and exits, or, with no window running, becomes the app.

Options:
  --config FILE         JSON settings (what npm run demo writes: data/demo/acme-desktop.json)
  --issuer URL          Latchkey server (env LATCHKEY_ISSUER; default ${DEFAULTS.issuer})
  --client-id ID        (env LATCHKEY_CLIENT_ID; default ${DEFAULTS.clientId})
  --redirect-uri URI    (env LATCHKEY_REDIRECT_URI; default ${DEFAULTS.redirectUri})
  --flow auto|scheme|loopback|device
                        how the browser comes home (default auto: the scheme, else loopback)
  --store keychain|file --store-dir DIR --cache-dir DIR
  --api-url URL         where the Acme API listens (env ACME_API_URL; default ${DEFAULTS.apiUrl})
  --register-scheme     register the scheme with the desktop and exit
  -h, --help
`;

const OPTIONS = {
  config: { type: 'string' },
  issuer: { type: 'string' },
  'client-id': { type: 'string' },
  'redirect-uri': { type: 'string' },
  flow: { type: 'string' },
  store: { type: 'string' },
  'store-dir': { type: 'string' },
  'cache-dir': { type: 'string' },
  'api-url': { type: 'string' },
  'register-scheme': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export class UsageError extends Error {}

export interface Invocation {
  config: AppConfig;
  /** A redirect URL the OS handed over (`acme-desktop -- <url>`). */
  url?: string;
  registerOnly: boolean;
  help: boolean;
}

interface FileConfig {
  issuer?: string;
  clientId?: string;
  redirectUri?: string;
  store?: string;
  storeDir?: string;
  cacheDir?: string;
  resources?: string[];
  apiUrl?: string;
}

export async function parseInvocation(argv: string[], env: NodeJS.ProcessEnv): Promise<Invocation> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1) throw new UsageError(`One URL at most, not ${positionals.length}`);
  let file: FileConfig = {};
  const configFile = values.config ?? env.ACME_DESKTOP_CONFIG;
  if (configFile) {
    try {
      file = JSON.parse(await readFile(configFile, 'utf8')) as FileConfig;
    } catch (error) {
      throw new UsageError(`Cannot read ${configFile}: ${(error as Error).message}`);
    }
  }
  const flow = values.flow ?? env.ACME_DESKTOP_FLOW ?? 'auto';
  if (flow !== 'auto' && flow !== 'scheme' && flow !== 'loopback' && flow !== 'device')
    throw new UsageError(`--flow must be auto, scheme, loopback or device, not "${flow}"`);
  const store = values.store ?? env.LATCHKEY_STORE ?? file.store ?? 'keychain';
  if (store !== 'keychain' && store !== 'file')
    throw new UsageError(`--store must be keychain or file, not "${store}"`);
  const storeDir = values['store-dir'] ?? env.LATCHKEY_STORE_DIR ?? file.storeDir;
  const cacheDir = values['cache-dir'] ?? env.LATCHKEY_CACHE_DIR ?? file.cacheDir;
  const resource = env.LATCHKEY_RESOURCES?.split(/[\s,]+/)[0] || file.resources?.[0] || DEFAULTS.apiResource;
  const config: AppConfig = {
    issuer: values.issuer ?? env.LATCHKEY_ISSUER ?? file.issuer ?? DEFAULTS.issuer,
    clientId: values['client-id'] ?? env.LATCHKEY_CLIENT_ID ?? file.clientId ?? DEFAULTS.clientId,
    redirectUri:
      values['redirect-uri'] ?? env.LATCHKEY_REDIRECT_URI ?? file.redirectUri ?? DEFAULTS.redirectUri,
    flow,
    store,
    ...(storeDir ? { storeDir: path.resolve(storeDir) } : {}),
    ...(cacheDir ? { cacheDir: path.resolve(cacheDir) } : {}),
    api: { resource, url: values['api-url'] ?? env.ACME_API_URL ?? file.apiUrl ?? DEFAULTS.apiUrl },
    ...(configFile ? { configFile: path.resolve(configFile) } : {}),
  };
  return {
    config,
    ...(positionals[0] ? { url: positionals[0] } : {}),
    registerOnly: values['register-scheme'] ?? false,
    help: values.help ?? false,
  };
}

/** The flags that reproduce `config` in a process the OS starts (the scheme handler's command line). */
export function configFlags(config: AppConfig): string[] {
  if (config.configFile) return ['--config', config.configFile];
  return [
    '--issuer',
    config.issuer,
    '--client-id',
    config.clientId,
    '--redirect-uri',
    config.redirectUri,
    '--store',
    config.store,
    ...(config.storeDir ? ['--store-dir', config.storeDir] : []),
    ...(config.cacheDir ? ['--cache-dir', config.cacheDir] : []),
    '--api-url',
    config.api.url,
  ];
}
