/**
 * The app proper, loaded by main.ts once the launch worker is on its way: the redirect hand-off
 * (`acme-desktop -- <url>`), the scheme registration, GTK and the window.
 */
import { realpathSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  type AuthenticationResult,
  defaultCacheDir,
  type LatchkeyClient,
  NoPendingSignInError,
} from '@latchkey/desktop';
import { startApp } from './app.js';
import { clientFor, makeStore } from './client.js';
import { type AppConfig, configFlags, type Invocation } from './config.js';
import { hasDisplay, loadToolkit } from './gtk.js';
import { activateRunning, listenForActivation } from './instance.js';
import { isRegistered, register, type SchemeStatus, schemeRegistration } from './scheme.js';
import type { LaunchOutcome } from './session.js';
import { createWindow } from './window.js';

const env = process.env;

export interface Launch {
  /** The launch worker's outcome (a plain launch with a display), started before this module loaded. */
  early?: Promise<LaunchOutcome | undefined>;
  windowSocket: string;
  trace: boolean;
  emit(event: Record<string, unknown>): void;
  say(text: string): void;
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

/** Everything after the launcher (main.ts): the redirect hand-off, the scheme, the window. */
export async function run(invocation: Invocation, launch: Launch): Promise<number> {
  const { emit, say, trace, windowSocket } = launch;
  const { config } = invocation;
  const cacheDir = config.cacheDir ?? defaultCacheDir();
  const command = [process.execPath, realpathSync(process.argv[1] ?? ''), ...configFlags(config)];
  if (invocation.registerOnly) {
    const status = await register(schemeRegistration(config.redirectUri, command), env);
    process.stdout.write(`${status.message}\n`);
    return status.registered ? 0 : 1;
  }

  const store = makeStore(config);
  let client: LatchkeyClient | undefined;
  let initial: AuthenticationResult | undefined;
  let initialReason: string | undefined;
  if (invocation.url) {
    // Started by the OS for a com.acme.desktop: link.
    client = await clientFor(config, config.redirectUri, store);
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
  client ??= await clientFor(config, redirect, store);
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
    cacheDir,
    repairScheme: () => register(schemeRegistration(config.redirectUri, command), env),
    ...(trace ? { trace: emit } : {}),
    ...(initial ? { initial } : {}),
    ...(launch.early && !initial ? { early: launch.early } : {}),
    ...(initialReason ? { initialReason } : {}),
    onQuit: () => quit(),
  });
  if (schemeStatus && !schemeStatus.registered)
    app.window.status(`${schemeStatus.message}. Signing in through 127.0.0.1 instead.`);
  const activation = await listenForActivation(windowSocket, () => {
    emit({ event: 'activate' });
    app.present();
  }).catch(() => undefined);
  // SIGTERM / SIGINT / SIGHUP (logout, `kill`, Ctrl-C in a terminal) close the window cleanly, through
  // GLib's own signal source: node-gtk polls Node's loop only while it has referenced handles, and
  // Node's signal watchers are unreferenced, so `process.on(signal)` would wait for other activity.
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
