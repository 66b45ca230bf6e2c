/**
 * Registering `com.acme.desktop:` with the desktop, through the SDK: on Linux a `.desktop` file
 * (`Exec=… -- %u`) and `xdg-mime default`; on Windows the per-user registry keys. Done on the first
 * run, redone when the command changed (the app moved), and from the menu ("Repair link handling").
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  linuxDesktopEntry,
  linuxDesktopFileName,
  registerScheme,
  type SchemeRegistration,
} from '@latchkey/desktop';

export interface SchemeStatus {
  registered: boolean;
  message: string;
  where?: string;
}

export function schemeRegistration(redirectUri: string, command: string[]): SchemeRegistration {
  return { scheme: new URL(redirectUri).protocol.slice(0, -1), name: 'Acme Desktop', command };
}

function linuxEntryPath(scheme: string, env: NodeJS.ProcessEnv): string {
  const dataHome = env.XDG_DATA_HOME || path.join(env.HOME || homedir(), '.local', 'share');
  return path.join(dataHome, 'applications', linuxDesktopFileName(scheme));
}

/** Whether this exact command is the registered handler (no process started on Linux: one file read). */
export async function isRegistered(registration: SchemeRegistration, env = process.env): Promise<boolean> {
  if (process.platform !== 'linux') return false;
  const text = await readFile(linuxEntryPath(registration.scheme, env), 'utf8').catch(() => undefined);
  return text === linuxDesktopEntry(registration);
}

/** Who handles the scheme according to xdg-mime (the `.desktop` file name), if anyone. */
export async function registeredHandler(scheme: string, env = process.env): Promise<string | undefined> {
  try {
    const { stdout } = await promisify(execFile)(
      'xdg-mime',
      ['query', 'default', `x-scheme-handler/${scheme}`],
      {
        env,
      },
    );
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

export async function register(registration: SchemeRegistration, env = process.env): Promise<SchemeStatus> {
  try {
    const where = await registerScheme(registration);
    if (process.platform === 'linux') {
      const handler = await registeredHandler(registration.scheme, env);
      if (handler !== linuxDesktopFileName(registration.scheme))
        return {
          registered: false,
          where,
          message: `${registration.scheme}: links open ${handler ?? 'nothing'}, not Acme Desktop`,
        };
    }
    return {
      registered: true,
      where,
      message: `${registration.scheme}: links open Acme Desktop (${where}).`,
    };
  } catch (error) {
    return {
      registered: false,
      message: `Cannot register ${registration.scheme}: (${(error as Error).message})`,
    };
  }
}
