import { realpathSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  type AuthenticationResult,
  createClient,
  createFileStore,
  createKeychainStore,
  InteractionRequiredError,
  type LatchkeyClient,
  LatchkeyError,
  NetworkError,
  type RevocationOutcome,
  registerScheme,
  type TokenStore,
} from '@latchkey/desktop';
import { type CliConfig, ConfigError, type ConfigFlags, resolveConfig } from './config.js';
import { type Io, startSpinner } from './output.js';
import { watch } from './watch.js';

/** Exit codes, stable for scripts. */
export const ExitCode = {
  Ok: 0,
  Failure: 1,
  Usage: 2,
  /** Not signed in, or the server no longer accepts the stored sign-in: run `login`. */
  NotSignedIn: 3,
  /** The chosen token store cannot be used (no keychain): use `--store file`. */
  StoreUnavailable: 4,
  /** Signed in, but the server cannot be reached. */
  Offline: 5,
} as const;

export const USAGE = `Usage: latchkey-desktop <command> [options]

Commands:
  login [--email E] [--flow loopback|scheme|device] [--no-browser]
                        sign in in the browser (or with a device code)
  whoami                show the signed-in account (signs in silently)
  token [--resource R] [--scope S]
                        print an access token (for R, an API's resource indicator)
  logout [--everywhere] revoke the stored sign-in; --everywhere also ends the browser session
  watch                 stay running and report the moment the server ends the sign-in
                        (live sign-out; exits 3 then)
  register-scheme       make this program the handler of the --redirect-uri scheme
  open-url <url>        hand a redirect URL to the waiting login (what the OS runs)

Options:
  --issuer URL          Latchkey server (env LATCHKEY_ISSUER)
  --client-id ID        this client's id (env LATCHKEY_CLIENT_ID)
  --redirect-uri URI    private-use redirect for --flow scheme (env LATCHKEY_REDIRECT_URI)
  --store keychain|file where the refresh token lives (env LATCHKEY_STORE); default keychain
  --store-dir DIR       directory of the file store (env LATCHKEY_STORE_DIR)
  --cache-dir DIR       cache directory (env LATCHKEY_CACHE_DIR)
  --config FILE         JSON config file (env LATCHKEY_DESKTOP_CONFIG)
  --json                machine-readable output on stdout
  -h, --help            this help
`;

const OPTIONS = {
  issuer: { type: 'string' },
  'client-id': { type: 'string' },
  'redirect-uri': { type: 'string' },
  store: { type: 'string' },
  'store-dir': { type: 'string' },
  'cache-dir': { type: 'string' },
  config: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  email: { type: 'string' },
  flow: { type: 'string' },
  'no-browser': { type: 'boolean' },
  resource: { type: 'string' },
  scope: { type: 'string', multiple: true },
  everywhere: { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

class UsageError extends Error {}

function makeStore(config: CliConfig, io: Io): TokenStore {
  if (config.store === 'file') {
    return createFileStore({
      directory: config.storeDir,
      onWarning: (message) => io.stderr.write(`warning: ${message}\n`),
    });
  }
  return createKeychainStore();
}

/** What `logout` says, by what became of the stored refresh token. */
const LOGOUT_MESSAGES: Record<RevocationOutcome, string> = {
  revoked: 'Signed out.',
  'not-signed-in': 'Not signed in on this device: nothing to revoke.',
  'server-unreachable':
    'Signed out on this device; the server could not be reached to revoke the sign-in, which stays valid there until it expires.',
  unsupported:
    'Signed out on this device; the server offers no revocation, so the sign-in stays valid there until it expires.',
};

function describeAccount(account: { email?: string; subject: string }): string {
  return account.email ?? account.subject;
}

/** Runs one command; resolves the exit code. Never calls process.exit (tests call it in-process too). */
export async function run(argv: string[], io: Io): Promise<number> {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    }));
  } catch (error) {
    io.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
    return ExitCode.Usage;
  }
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    (values.help ? io.stdout : io.stderr).write(USAGE);
    return values.help ? ExitCode.Ok : ExitCode.Usage;
  }
  const json = values.json ?? false;
  const print = (text: string, data: unknown) =>
    io.stdout.write(json ? `${JSON.stringify(data)}\n` : `${text}\n`);

  let config: CliConfig;
  try {
    config = await resolveConfig(values as ConfigFlags, io.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr.write(`${error.message}\n`);
      return ExitCode.Usage;
    }
    throw error;
  }

  let client: LatchkeyClient | undefined;
  const open = async (redirect: string) => {
    client = await createClient({
      issuer: config.issuer,
      clientId: config.clientId,
      redirect,
      store: makeStore(config, io),
      appName: 'latchkey-desktop',
      resources: config.resources,
      dpop: config.dpop,
      ...(config.cacheDir ? { cacheDir: config.cacheDir } : {}),
    });
    return client;
  };
  const schemeRedirect = () => {
    if (!config.redirectUri)
      throw new UsageError(
        'This needs the private-use redirect URI: pass --redirect-uri (or set LATCHKEY_REDIRECT_URI)',
      );
    return config.redirectUri;
  };

  try {
    switch (command) {
      case 'login':
        return await login(
          await open(values.flow === 'scheme' ? schemeRedirect() : 'loopback'),
          values,
          io,
          print,
          json,
        );
      case 'whoami': {
        const signedOut = (loginHint: string | undefined) => {
          print(
            `Not signed in.${loginHint ? ` Last account: ${loginHint}.` : ''} Run: latchkey-desktop login`,
            loginHint ? { status: 'signed-out', loginHint } : { status: 'signed-out' },
          );
          return ExitCode.NotSignedIn;
        };
        const whoamiClient = await open('loopback');
        // getState reads the store only; whoami also asks the server whether it still honours the
        // sign-in, with a silent sign-in (which rotates the refresh token).
        const state = await whoamiClient.getState();
        if (state.status !== 'signed-in')
          return signedOut(state.status === 'signed-out' ? state.loginHint : undefined);
        try {
          const { account } = await whoamiClient.signInSilently();
          print(`${describeAccount(account)} (${account.issuer})`, { status: 'signed-in', account });
          return ExitCode.Ok;
        } catch (error) {
          if (error instanceof NetworkError) {
            print(`${describeAccount(state.account)} (offline: ${error.message})`, {
              status: 'offline',
              account: state.account,
            });
            return ExitCode.Offline;
          }
          if (error instanceof InteractionRequiredError) return signedOut(error.loginHint);
          throw error;
        }
      }
      case 'token': {
        const result = await (await open('loopback')).signInSilently({
          ...(values.resource ? { resource: values.resource } : {}),
          ...(values.scope ? { scopes: values.scope } : {}),
        });
        print(result.accessToken, {
          access_token: result.accessToken,
          expires_at: Math.floor(result.expiresOn / 1000),
          scope: result.scopes.join(' '),
          ...(result.resource ? { resource: result.resource } : {}),
        });
        return ExitCode.Ok;
      }
      case 'logout': {
        const noBrowser = values['no-browser'] ?? false;
        const result = await (await open('loopback')).signOut({
          everywhere: values.everywhere ?? false,
          ...(noBrowser
            ? {
                openBrowser: (url: string) =>
                  void io.stderr.write(`Open this URL to end the browser session:\n${url}\n`),
              }
            : {}),
        });
        print(LOGOUT_MESSAGES[result.revocation], { status: 'signed-out', ...result });
        return ExitCode.Ok;
      }
      case 'watch':
        return await watch(await open('loopback'), io, print, {
          ok: ExitCode.Ok,
          notSignedIn: ExitCode.NotSignedIn,
          offline: ExitCode.Offline,
        });
      case 'register-scheme': {
        const redirect = new URL(schemeRedirect());
        const scheme = redirect.protocol.slice(0, -1);
        const baked = [
          '--issuer',
          config.issuer,
          '--client-id',
          config.clientId,
          '--redirect-uri',
          schemeRedirect(),
          '--store',
          config.store,
          ...(config.store === 'file' ? ['--store-dir', config.storeDir] : []),
          ...(config.cacheDir ? ['--cache-dir', config.cacheDir] : []),
        ];
        const entry = realpathSync(process.argv[1] ?? '');
        const where = await registerScheme({
          scheme,
          name: 'Latchkey desktop',
          command: [process.execPath, entry, ...baked, 'open-url'],
        });
        print(`Registered ${scheme}: → ${where}`, { scheme, registered: where });
        return ExitCode.Ok;
      }
      case 'open-url': {
        const url = rest[0];
        if (!url) throw new UsageError('open-url needs the URL');
        const outcome = await (await open(schemeRedirect())).handleRedirect(url);
        const who = outcome.account ? describeAccount(outcome.account) : 'the user';
        const text =
          outcome.handledBy === 'running-app'
            ? `Handed the sign-in of ${who} to the waiting latchkey-desktop.`
            : `Signed in as ${who}.`;
        print(text, { status: 'signed-in', handledBy: outcome.handledBy, account: outcome.account });
        return ExitCode.Ok;
      }
      default:
        throw new UsageError(`Unknown command "${command}"`);
    }
  } catch (error) {
    return report(error, io, json);
  } finally {
    await client?.close();
  }
}

async function login(
  client: LatchkeyClient,
  values: Values,
  io: Io,
  print: (text: string, data: unknown) => void,
  json: boolean,
): Promise<number> {
  const flow = values.flow ?? 'loopback';
  if (!['loopback', 'scheme', 'device'].includes(flow))
    throw new UsageError(`--flow must be loopback, scheme or device, not "${flow}"`);
  // No graphical session (SSH, a container) and no $BROWSER: print the URL instead of starting
  // xdg-open, which would fail or open a text browser in this terminal.
  const { canOpenBrowser } = await import('@latchkey/desktop');
  const noBrowser = (values['no-browser'] ?? false) || !canOpenBrowser(io.env);
  let result: AuthenticationResult;
  if (flow === 'device') {
    let spinner: { stop(final?: string): void } | undefined;
    result = await client
      .signInWithDeviceCode(
        async (info) => {
          const target = info.verificationUriComplete ?? info.verificationUri;
          io.stderr.write(
            `To sign in, open ${info.verificationUri} and enter the code\n\n    ${info.userCode}\n\n`,
          );
          io.stderr.write(`${codeExpiryText(info.expiresAt)}\n\n`);
          // LATCHKEY_DESKTOP_QR=1: a terminal at the other end of a pipe (the demo labels the lines).
          if ((io.stderr.isTTY || io.env.LATCHKEY_DESKTOP_QR === '1') && !json) {
            // Loaded only here: importing it costs every other command ~20 ms of start-up.
            const { default: qrcode } = await import('qrcode');
            io.stderr.write(`${await qrcode.toString(target, { type: 'terminal', small: true })}\n`);
          }
          if (info.verificationUriComplete)
            io.stderr.write(`or open this link:\n${info.verificationUriComplete}\n`);
          spinner = startSpinner(io, 'Waiting for approval…', !json);
        },
        { ...(values.email ? { loginHint: values.email } : {}) },
      )
      .finally(() => spinner?.stop());
  } else {
    let spinner: { stop(final?: string): void } | undefined;
    result = await client
      .signIn({
        ...(values.email ? { loginHint: values.email } : {}),
        ...(noBrowser
          ? {
              openBrowser: (url: string) => {
                // On its own line so it can be copied from an SSH session.
                io.stderr.write(`Open this URL in a browser to sign in:\n${url}\n`);
                spinner = startSpinner(io, 'Waiting for the browser…', !json);
              },
            }
          : {
              openBrowser: async (url: string) => {
                const { openSystemBrowser } = await import('@latchkey/desktop');
                await openSystemBrowser(url).catch(() =>
                  io.stderr.write(`Could not open a browser. Open this URL:\n${url}\n`),
                );
                spinner = startSpinner(io, 'Waiting for the browser…', !json);
              },
            }),
      })
      .finally(() => spinner?.stop());
  }
  print(`Signed in as ${describeAccount(result.account)}.`, { status: 'signed-in', account: result.account });
  return ExitCode.Ok;
}

function report(error: unknown, io: Io, json: boolean): number {
  const write = (code: string, message: string, exit: number, extra: Record<string, unknown> = {}) => {
    if (json) io.stdout.write(`${JSON.stringify({ status: 'error', code, message, ...extra })}\n`);
    io.stderr.write(`${message}\n`);
    return exit;
  };
  if (error instanceof UsageError) return write('usage', `${error.message}\n\n${USAGE}`, ExitCode.Usage);
  if (error instanceof LatchkeyError) {
    switch (error.code) {
      case 'interaction_required': {
        const hint = (error as { loginHint?: string }).loginHint;
        return write(
          error.code,
          `${error.message}. Run: latchkey-desktop login${hint ? ` --email ${hint}` : ''}`,
          ExitCode.NotSignedIn,
          hint ? { loginHint: hint } : {},
        );
      }
      case 'store_unavailable':
        return write(
          error.code,
          `${error.message}\nTo keep the sign-in in an encrypted file instead, add --store file (or set LATCHKEY_STORE=file).`,
          ExitCode.StoreUnavailable,
        );
      case 'network_error':
        return write(error.code, `Cannot reach the server: ${error.message}`, ExitCode.Offline);
      default:
        return write(error.code, error.message, ExitCode.Failure);
    }
  }
  return write(
    'internal',
    error instanceof Error ? (error.stack ?? error.message) : String(error),
    ExitCode.Failure,
  );
}

/** "The code expires in 10 minutes (at 07:40).": how long the person has to enter it (RFC 8628 §3.2 expires_in). */
export function codeExpiryText(expiresAt: number, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((expiresAt - now) / 1000));
  const minutes = Math.round(seconds / 60);
  const span = seconds < 120 ? `${seconds} ${seconds === 1 ? 'second' : 'seconds'}` : `${minutes} minutes`;
  const at = new Date(expiresAt).toTimeString().slice(0, 5);
  return `The code expires in ${span} (at ${at}).`;
}
