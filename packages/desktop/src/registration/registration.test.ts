import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { linuxDesktopEntry, quoteExecArgument, registerLinuxScheme } from './linux.js';
import { quoteWindowsArgument, windowsSchemeRegistrationCommands } from './windows.js';

const run = promisify(execFile);
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('Windows (HKCU registry)', () => {
  it('builds reg add commands ending in -- "%1"', () => {
    const commands = windowsSchemeRegistrationCommands({
      scheme: 'com.example.app',
      name: 'Example App',
      command: ['C:\\Program Files\\Example\\example.exe', 'open-url'],
    });
    expect(commands).toEqual([
      [
        'reg',
        'add',
        'HKCU\\Software\\Classes\\com.example.app',
        '/ve',
        '/t',
        'REG_SZ',
        '/d',
        'URL:Example App',
        '/f',
      ],
      [
        'reg',
        'add',
        'HKCU\\Software\\Classes\\com.example.app',
        '/v',
        'URL Protocol',
        '/t',
        'REG_SZ',
        '/d',
        '',
        '/f',
      ],
      [
        'reg',
        'add',
        'HKCU\\Software\\Classes\\com.example.app\\shell\\open\\command',
        '/ve',
        '/t',
        'REG_SZ',
        '/d',
        '"C:\\Program Files\\Example\\example.exe" open-url -- "%1"',
        '/f',
      ],
    ]);
  });

  it('quotes arguments by the CommandLineToArgvW rules', () => {
    expect(quoteWindowsArgument('plain')).toBe('plain');
    expect(quoteWindowsArgument('with space')).toBe('"with space"');
    expect(quoteWindowsArgument('say "hi"')).toBe('"say \\"hi\\""');
    expect(quoteWindowsArgument('C:\\dir with space\\')).toBe('"C:\\dir with space\\\\"');
  });
});

describe('Linux (.desktop + xdg-mime)', () => {
  it('quotes Exec arguments', () => {
    expect(quoteExecArgument('/usr/bin/node')).toBe('/usr/bin/node');
    expect(quoteExecArgument('/opt/My App/app')).toBe('"/opt/My App/app"');
    expect(quoteExecArgument('100%')).toBe('100%%');
    expect(
      linuxDesktopEntry({
        scheme: 'com.example.app',
        name: 'Example',
        command: ['/usr/bin/app', 'open-url'],
      }),
    ).toContain('Exec=/usr/bin/app open-url -- %u\nMimeType=x-scheme-handler/com.example.app;');
  });

  it('registers with the real xdg-mime in a temporary HOME', async () => {
    const home = await mkdtemp(join(tmpdir(), 'latchkey-home-'));
    dirs.push(home);
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home };
    const path = await registerLinuxScheme(
      { scheme: 'com.example.app', name: 'Example', command: ['/usr/bin/example', 'open-url'] },
      env,
    );
    expect(path).toBe(join(home, '.local/share/applications/latchkey-com.example.app.desktop'));
    expect(await readFile(path, 'utf8')).toContain('MimeType=x-scheme-handler/com.example.app;');
    const { stdout } = await run('xdg-mime', ['query', 'default', 'x-scheme-handler/com.example.app'], {
      env,
    });
    expect(stdout.trim()).toBe('latchkey-com.example.app.desktop');
    expect(await readFile(join(home, '.config/mimeapps.list'), 'utf8')).toContain(
      'x-scheme-handler/com.example.app=latchkey-com.example.app.desktop',
    );
  });
});
