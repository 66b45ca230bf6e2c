import { spawn } from 'node:child_process';
import { UnsupportedError } from './errors.js';

/**
 * Opens a URL in the user's default browser: the system browser, never an embedded web view
 * (RFC 8252 §8.12), so the user's existing session, password manager and passkeys work.
 */
export function openSystemBrowser(url: string): Promise<void> {
  const [command, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? // rundll32 takes the URL as one argument: no cmd.exe quoting of `&` to get wrong.
          ['rundll32', ['url.dll,FileProtocolHandler', url]]
        : ['xdg-open', [url]];
  return new Promise((resolve, reject) => {
    const child = spawn(command as string, args as string[], { stdio: 'ignore', detached: true });
    child.once('error', (error) =>
      reject(
        new UnsupportedError(`Cannot open a browser (${command}: ${error.message}); open the URL yourself`, {
          cause: error,
        }),
      ),
    );
    child.once('spawn', () => {
      child.unref();
      resolve();
    });
  });
}
