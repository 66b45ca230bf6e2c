import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../stores/atomic-write.js';
import { run } from './run.js';
import type { SchemeRegistration } from './types.js';

/** Quotes one argument of a desktop entry's `Exec` key (Desktop Entry Specification, "The Exec key"). */
export function quoteExecArgument(argument: string): string {
  if (argument !== '' && !/[\s"'\\`$<>~|&;*?#()]/.test(argument)) return argument.replace(/%/g, '%%');
  return `"${argument.replace(/(["`$\\])/g, '\\$1').replace(/%/g, '%%')}"`;
}

/** The `.desktop` file that makes this app the handler of `x-scheme-handler/<scheme>`. */
export function linuxDesktopEntry(registration: SchemeRegistration): string {
  const exec = [...registration.command.map(quoteExecArgument), '--', '%u'].join(' ');
  return [
    '[Desktop Entry]',
    'Type=Application',
    `Name=${registration.name}`,
    `Exec=${exec}`,
    `MimeType=x-scheme-handler/${registration.scheme};`,
    'NoDisplay=true',
    'Terminal=false',
    '',
  ].join('\n');
}

export function linuxDesktopFileName(scheme: string): string {
  return `latchkey-${scheme.replace(/[^A-Za-z0-9.-]/g, '-')}.desktop`;
}

/**
 * Registers the scheme for the current user: writes `~/.local/share/applications/<name>.desktop`
 * (`$XDG_DATA_HOME/applications`), refreshes the desktop database when `update-desktop-database` is
 * there, and makes it the default with `xdg-mime default`. Returns the file written.
 */
export async function registerLinuxScheme(
  registration: SchemeRegistration,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const dataHome = env.XDG_DATA_HOME || join(env.HOME || homedir(), '.local', 'share');
  const directory = join(dataHome, 'applications');
  const fileName = linuxDesktopFileName(registration.scheme);
  await mkdir(directory, { recursive: true });
  const path = join(directory, fileName);
  await writeFileAtomic(path, linuxDesktopEntry(registration), 0o644);
  await run('update-desktop-database', [directory], { env }).catch(() => {});
  await run('xdg-mime', ['default', fileName, `x-scheme-handler/${registration.scheme}`], { env });
  return path;
}
