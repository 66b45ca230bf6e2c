import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface SecretServiceSession {
  available: boolean;
  /** Why the keychain tests are skipped, when they are. */
  reason?: string;
  /** Environment for child processes that should use this Secret Service (HOME, DBUS_SESSION_BUS_ADDRESS). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * Starts a private D-Bus session with gnome-keyring's Secret Service, its login keyring unlocked with
 * a throwaway password, and points this process at it (`DBUS_SESSION_BUS_ADDRESS`; set it before the
 * first keyring call, libdbus connects once). Resolves `available: false` with a reason when
 * `dbus-run-session` or `gnome-keyring-daemon` is missing: the caller skips and logs the reason.
 */
export async function startSecretService(
  options: { applyToProcess?: boolean } = {},
): Promise<SecretServiceSession> {
  if (process.platform !== 'linux')
    return { available: false, reason: 'not Linux', env: {}, async stop() {} };
  const home = await mkdtemp(join(tmpdir(), 'latchkey-keyring-'));
  const script =
    'printf "throwaway-test-password" | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1 || exit 3; ' +
    'echo "$DBUS_SESSION_BUS_ADDRESS"; exec sleep 3600';
  const child = spawn('dbus-run-session', ['--', 'sh', '-c', script], {
    env: { ...process.env, HOME: home, XDG_DATA_HOME: join(home, '.local', 'share') },
    stdio: ['ignore', 'pipe', 'ignore'],
    detached: true,
  });
  const stop = async () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGTERM');
    } catch {}
    await rm(home, { recursive: true, force: true }).catch(() => {});
  };
  const address = await new Promise<string | undefined>((resolve) => {
    child.once('error', () => resolve(undefined));
    child.once('exit', () => resolve(undefined));
    createInterface({ input: child.stdout }).once('line', resolve);
    setTimeout(() => resolve(undefined), 10_000);
  });
  if (!address) {
    await stop();
    return {
      available: false,
      reason: 'no dbus-run-session or gnome-keyring-daemon (install dbus and gnome-keyring)',
      env: {},
      async stop() {},
    };
  }
  const env = { HOME: home, DBUS_SESSION_BUS_ADDRESS: address };
  if (options.applyToProcess ?? true) process.env.DBUS_SESSION_BUS_ADDRESS = address;
  return { available: true, env, stop };
}
