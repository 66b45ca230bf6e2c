import { UnsupportedError } from './errors.js';

/**
 * The command named by `$BROWSER`, the convention xdg-open, Python's webbrowser and git share: a
 * colon-separated list whose first entry is used; `%s` stands for the URL, else the URL is appended.
 * Lets a user pick a browser, and lets a test hand the URL to the browser it drives.
 */
export function browserCommandFromEnv(
  url: string,
  env: NodeJS.ProcessEnv = process.env,
): [string, string[]] | undefined {
  const entry = env.BROWSER?.split(process.platform === 'win32' ? ';' : ':')[0]?.trim();
  if (!entry) return undefined;
  const words = entry.split(/\s+/);
  const args = words.slice(1).map((word) => word.replaceAll('%s', url));
  if (!entry.includes('%s')) args.push(url);
  return [words[0] as string, args];
}

/**
 * Opens a URL in the user's default browser: the system browser, never an embedded web view
 * (RFC 8252 §8.12), so the user's existing session, password manager and passkeys work. `$BROWSER`,
 * when set, names the browser instead (see {@link browserCommandFromEnv}).
 */
export async function openSystemBrowser(url: string): Promise<void> {
  // Loaded when used: a silent sign-in (every app start) never needs it.
  const { spawn } = await import('node:child_process');
  const [command, args] =
    browserCommandFromEnv(url) ??
    (process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? // rundll32 takes the URL as one argument: no cmd.exe quoting of `&` to get wrong.
          ['rundll32', ['url.dll,FileProtocolHandler', url]]
        : ['xdg-open', [url]]);
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

/**
 * Whether a browser can be shown: on Linux and the BSDs, only with a graphical session (`DISPLAY` or
 * `WAYLAND_DISPLAY`) or an explicit `$BROWSER`; elsewhere always. Without one, xdg-open would start a
 * text browser in the terminal or fail, so callers print the URL instead (SSH sessions, containers).
 */
export function canOpenBrowser(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.BROWSER?.trim()) return true;
  if (process.platform === 'darwin' || process.platform === 'win32') return true;
  return Boolean(env.DISPLAY || env.WAYLAND_DISPLAY);
}
