import type { SchemeRegistration } from './types.js';

/** Quotes one argument for a Windows command line (CommandLineToArgvW rules). */
export function quoteWindowsArgument(argument: string): string {
  if (argument !== '' && !/[\s"]/.test(argument)) return argument;
  let quoted = '"';
  let backslashes = 0;
  for (const char of argument) {
    if (char === '\\') {
      backslashes++;
      continue;
    }
    if (char === '"') {
      quoted += '\\'.repeat(backslashes * 2 + 1) + char;
    } else {
      quoted += '\\'.repeat(backslashes) + char;
    }
    backslashes = 0;
  }
  return `${quoted}${'\\'.repeat(backslashes * 2)}"`;
}

/**
 * The `reg add` invocations (argv arrays, run without a shell) that register a URL scheme for the
 * current user under `HKCU\Software\Classes` — no administrator rights needed. The open command ends
 * in `-- "%1"` so a URL that starts with `-` is never read as an option of the app.
 */
export function windowsSchemeRegistrationCommands(registration: SchemeRegistration): string[][] {
  const key = `HKCU\\Software\\Classes\\${registration.scheme}`;
  const command = `${registration.command.map(quoteWindowsArgument).join(' ')} -- "%1"`;
  return [
    ['reg', 'add', key, '/ve', '/t', 'REG_SZ', '/d', `URL:${registration.name}`, '/f'],
    ['reg', 'add', key, '/v', 'URL Protocol', '/t', 'REG_SZ', '/d', '', '/f'],
    ['reg', 'add', `${key}\\shell\\open\\command`, '/ve', '/t', 'REG_SZ', '/d', command, '/f'],
  ];
}
