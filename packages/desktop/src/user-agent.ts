/** Kept equal to package.json's version by package.test.ts (read at no cost at start-up). */
export const SDK_VERSION = '0.1.0';

const SYSTEM_NAMES: Partial<Record<NodeJS.Platform, string>> = {
  linux: 'Linux',
  win32: 'Windows',
  darwin: 'Macintosh; Mac OS X',
};

/**
 * The User-Agent of every request the SDK makes: the app first, as it names itself, then the
 * system and the SDK (`Acme Desktop/2.1 (Linux) latchkey-desktop/0.1.0`). Latchkey lists a
 * person's sessions by it ("Acme Desktop on Linux") and the device confirmation page names the
 * device by it; without it they read "oauth4webapi/v3" or "Node.js". Characters that could make the
 * header ambiguous (parentheses, slashes, control characters) are dropped from the app's name.
 */
export function sdkUserAgent(
  app: { appName?: string | undefined; appVersion?: string | undefined },
  platform: NodeJS.Platform = process.platform,
): string {
  const system = SYSTEM_NAMES[platform] ?? platform.replace(/[^\w.-]/g, '');
  const sdk = `latchkey-desktop/${SDK_VERSION}`;
  const name = (app.appName ?? '')
    .replace(/[^A-Za-z0-9 ._-]/g, '')
    .trim()
    .slice(0, 40);
  if (!/^[A-Za-z]/.test(name)) return `${sdk} (${system})`;
  const version = (app.appVersion ?? '').replace(/[^\w.+-]/g, '').slice(0, 20);
  return `${name}/${/^\d/.test(version) ? version : '0'} (${system}) ${sdk}`;
}
