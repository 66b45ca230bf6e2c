import { describe, expect, it } from 'vitest';
import { browserCommandFromEnv, canOpenBrowser } from './browser.js';

describe('$BROWSER', () => {
  const url = 'http://127.0.0.1:4000/auth?a=1&b=2';

  it('appends the URL to the command, or puts it where %s is', () => {
    expect(browserCommandFromEnv(url, { BROWSER: 'firefox --new-window' })).toEqual([
      'firefox',
      ['--new-window', url],
    ]);
    expect(browserCommandFromEnv(url, { BROWSER: 'my-open --url=%s --quiet' })).toEqual([
      'my-open',
      [`--url=${url}`, '--quiet'],
    ]);
  });

  it('uses the first entry of a list, and nothing when unset or blank', () => {
    if (process.platform !== 'win32')
      expect(browserCommandFromEnv(url, { BROWSER: 'w3m:lynx' })).toEqual(['w3m', [url]]);
    expect(browserCommandFromEnv(url, {})).toBeUndefined();
    expect(browserCommandFromEnv(url, { BROWSER: '  ' })).toBeUndefined();
  });

  it.runIf(process.platform === 'linux')('on Linux a browser needs a display or $BROWSER', () => {
    expect(canOpenBrowser({})).toBe(false);
    expect(canOpenBrowser({ DISPLAY: ':0' })).toBe(true);
    expect(canOpenBrowser({ WAYLAND_DISPLAY: 'wayland-0' })).toBe(true);
    expect(canOpenBrowser({ BROWSER: 'firefox' })).toBe(true);
  });
});
