import { UnsupportedError } from '../errors.js';
import { registerLinuxScheme } from './linux.js';
import { run } from './run.js';
import type { SchemeRegistration } from './types.js';
import { windowsSchemeRegistrationCommands } from './windows.js';

export { linuxDesktopEntry, linuxDesktopFileName, quoteExecArgument, registerLinuxScheme } from './linux.js';
export type { SchemeRegistration } from './types.js';
export { quoteWindowsArgument, windowsSchemeRegistrationCommands } from './windows.js';

/**
 * Makes the OS start `command` with the URL when the browser opens `<scheme>:…` (RFC 8252 §7.1):
 * Linux through a `.desktop` file and `xdg-mime`, Windows through `HKCU\Software\Classes`. On macOS
 * the scheme is declared in the app bundle's Info.plist (`CFBundleURLTypes`) at build time, which a
 * running program cannot do: this throws `UnsupportedError` there (see the README).
 * Returns a description of what was registered (the `.desktop` path, or the registry key).
 */
export async function registerScheme(registration: SchemeRegistration): Promise<string> {
  if (process.platform === 'linux' || process.platform === 'freebsd')
    return registerLinuxScheme(registration);
  if (process.platform === 'win32') {
    for (const [file, ...args] of windowsSchemeRegistrationCommands(registration))
      await run(file as string, args, { windowsHide: true });
    return `HKCU\\Software\\Classes\\${registration.scheme}`;
  }
  throw new UnsupportedError(
    'On macOS a URL scheme is declared in the app bundle (Info.plist CFBundleURLTypes); see the @latchkey/desktop README',
  );
}
