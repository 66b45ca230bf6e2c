/**
 * `acme-desktop`: one process per window. With a redirect URL (what the OS runs for a
 * `com.acme.desktop:` link) it hands the URL to the running window over the SDK's local socket and
 * exits; with no window running it finishes the sign-in itself and becomes the app.
 */
import { realpathSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  type AuthenticationResult,
  createClient,
  createFileStore,
  createKeychainStore,
  defaultCacheDir,
  defaultSocketPath,
  type LatchkeyClient,
  NoPendingSignInError,
  type TokenStore,
} from '@latchkey/desktop';
import { startApp } from './app.js';
import { type AppConfig, configFlags, parseInvocation, USAGE, UsageError } from './config.js';
import { hasDisplay, loadToolkit } from './gtk.js';
import { activateRunning, listenForActivation } from './instance.js';
import { isRegistered, register, type SchemeStatus, schemeRegistration } from './scheme.js';
import { createWindow } from './window.js';

const env = process.env;
const trace = env.ACME_DESKTOP_TRACE === '1';
const emit = (event: Record<string, unknown>) => {
  if (trace) process.stdout.write(`${JSON.stringify(event)}\n`);
};
const say = (text: string) => process.stderr.write(`acme-desktop: ${text}\n`);

function makeStore(config: AppConfig): TokenStore {
  if (config.store === 'file') {
    return createFileStore({
      directory: config.storeDir ?? path.join(defaultCacheDir(), '..', 'acme-desktop', 'tokens'),
      onWarning: () => {},
    });
  }
  return createKeychainStore();
}

/** Registers the scheme on the first run (or when the command changed); remembers it off Linux. */
async function ensureScheme(config: AppConfig, command: string[], cacheDir: string): Promise<SchemeStatus> {
  const registration = schemeRegistration(config.redirectUri, command);
  if (process.platform === 'linux') {
    if (await isRegistered(registration, env)) return { registered: true, message: 'registered' };
    return register(registration, env);
  }
  const marker = path.join(cacheDir, 'acme-desktop-scheme.json');
  const wanted = JSON.stringify(registration);
  if ((await readFile(marker, 'utf8').catch(() => '')) === wanted)
    return { registered: true, message: 'registered' };
  const status = await register(registration, env);
  if (status.registered)
    await mkdir(cacheDir, { recursive: true })
      .then(() => writeFile(marker, wanted))
      .catch(() => {});
  return status;
}

async function main(): Promise<number> {
  emit({ event: 'start', ms: Math.round(performance.now()) });
  let invocation: Awaited<ReturnType<typeof parseInvocation>>;
  try {
    invocation = await parseInvocation(process.argv.slice(2), env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (invocation.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const { config } = invocation;
  const cacheDir = config.cacheDir ?? defaultCacheDir();
  const command = [process.execPath, realpathSync(process.argv[1] ?? ''), ...configFlags(config)];
  if (invocation.registerOnly) {
    const status = await register(schemeRegistration(config.redirectUri, command), env);
    process.stdout.write(`${status.message}\n`);
    return status.registered ? 0 : 1;
  }

  const store = makeStore(config);
  const clientFor = (redirect: string) =>
    createClient({
      issuer: config.issuer,
      clientId: config.clientId,
      redirect,
      store,
      resources: [config.api.resource],
      cacheDir,
    });
  const windowSocket = defaultSocketPath(cacheDir, config.issuer, `${config.clientId}#window`);

  let client: LatchkeyClient | undefined;
  let initial: AuthenticationResult | undefined;
  let initialReason: string | undefined;
  if (invocation.url) {
    // Started by the OS for a com.acme.desktop: link.
    client = await clientFor(config.redirectUri);
    try {
      const outcome = await client.handleRedirect(invocation.url);
      emit({ event: 'redirect', handledBy: outcome.handledBy });
      if (outcome.handledBy === 'running-app') {
        await client.close();
        return 0; // the window has it, and comes to the front by itself
      }
      initial = outcome.result; // cold start: this process is the app now
    } catch (error) {
      emit({ event: 'redirect', error: (error as Error).message });
      if (await activateRunning(windowSocket)) {
        say(`the window is open; this link was not for it (${(error as Error).message})`);
        await client.close();
        return error instanceof NoPendingSignInError ? 0 : 1;
      }
      initialReason =
        error instanceof NoPendingSignInError
          ? 'That sign-in link was already used or has expired. Log in again.'
          : `Sign-in did not finish: ${(error as Error).message}`;
    }
  } else if (await activateRunning(windowSocket)) {
    say('Acme Desktop is already open: brought its window to the front.');
    return 0;
  }

  if (!hasDisplay(env)) {
    say('no display (DISPLAY / WAYLAND_DISPLAY): use latchkey-desktop, the command-line client, here.');
    await client?.close();
    return initial ? 0 : 1;
  }

  let flow: 'scheme' | 'loopback' | 'device' = config.flow === 'auto' ? 'scheme' : config.flow;
  let schemeStatus: SchemeStatus | undefined;
  if (flow === 'scheme') {
    schemeStatus = await ensureScheme(config, command, cacheDir);
    if (!schemeStatus.registered) {
      say(schemeStatus.message);
      if (config.flow === 'auto') flow = 'loopback';
    }
  }
  const redirect = flow === 'loopback' ? 'loopback' : config.redirectUri;
  if (client && redirect !== config.redirectUri) {
    await client.close();
    client = undefined;
  }
  client ??= await clientFor(redirect);
  emit({ event: 'client', flow, ms: Math.round(performance.now()) });

  const { GLib } = loadToolkit();
  emit({ event: 'toolkit', ms: Math.round(performance.now()) });
  let quit!: () => void;
  const quitted = new Promise<void>((resolve) => {
    quit = resolve;
  });
  const app = startApp({
    config,
    client,
    flow,
    makeWindow: createWindow,
    repairScheme: () => register(schemeRegistration(config.redirectUri, command), env),
    ...(trace ? { trace: emit } : {}),
    ...(initial ? { initial } : {}),
    ...(initialReason ? { initialReason } : {}),
    onQuit: () => quit(),
  });
  if (schemeStatus && !schemeStatus.registered)
    app.window.status(`${schemeStatus.message}. Signing in through 127.0.0.1 instead.`);
  const activation = await listenForActivation(windowSocket, () => {
    emit({ event: 'activate' });
    app.present();
  }).catch(() => undefined);
  // SIGTERM / SIGINT / SIGHUP (logout, `kill`, Ctrl-C in a terminal) close the window cleanly. GLib's
  // own signal source: Node's `process.on(signal)` listeners are not called while GLib runs the loop.
  for (const signal of [2, 15, 1]) {
    GLib.unixSignalAdd(GLib.PRIORITY_DEFAULT, signal, () => {
      void app.quit();
      return false;
    });
  }
  // GLib's main loop (started by bin/acme-desktop.cjs) dispatches the window's events meanwhile.
  await quitted;
  await activation?.close();
  emit({ event: 'exit' });
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    say(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
