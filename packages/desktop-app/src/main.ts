/**
 * `acme-desktop`: one process per window. With a redirect URL (what the OS runs for a
 * `com.acme.desktop:` link) it hands the URL to the running window over the SDK's local socket and
 * exits; with no window running it finishes the sign-in itself and becomes the app.
 *
 * This module stays small on purpose: a plain launch first asks a running window to come to the
 * front, then starts the silent sign-in on a worker thread (early.ts), and only then loads the SDK,
 * GTK and the window (run.ts), so that the refresh and the API call run while GTK starts.
 */
import { parseInvocation, USAGE, UsageError } from './config.js';
import { startEarlyLaunch } from './early.js';
import { hasDisplay } from './gtk.js';
import { activateRunning, windowSocketPath } from './instance.js';

const env = process.env;
const trace = env.ACME_DESKTOP_TRACE === '1';
const emit = (event: Record<string, unknown>) => {
  if (trace) process.stdout.write(`${JSON.stringify(event)}\n`);
};
const say = (text: string) => process.stderr.write(`acme-desktop: ${text}\n`);

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
  const windowSocket = windowSocketPath(invocation.config, env);
  const plain = !invocation.url && !invocation.registerOnly;
  if (plain && (await activateRunning(windowSocket))) {
    say('Acme Desktop is already open: brought its window to the front.');
    return 0;
  }
  // ACME_DESKTOP_EARLY=0: everything on the main thread (bench/desktop-app.mjs compares both).
  const early =
    plain && hasDisplay(env) && env.ACME_DESKTOP_EARLY !== '0'
      ? startEarlyLaunch(invocation.config, 'loopback')
      : undefined;
  const { run } = await import('./run.js');
  return run(invocation, { ...(early ? { early } : {}), windowSocket, trace, emit, say });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    say(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
