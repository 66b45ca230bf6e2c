import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

/** Debian's Chromium, (Playwright's own download does not work here). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
  });
}

/**
 * Follows navigations to private-use schemes (e.g. `com.acme.desktop:/oauth2redirect?...`) the way
 * an OS would hand them to the app: the URL is captured instead of opening anything.
 */
export function captureSchemeNavigations(
  context: BrowserContext,
  scheme: string,
): { next(timeoutMs?: number): Promise<string> } {
  const seen: string[] = [];
  const waiters: ((url: string) => void)[] = [];
  const deliver = (url: string) => {
    const waiter = waiters.shift();
    if (waiter) waiter(url);
    else seen.push(url);
  };
  // The engine answers the click with a redirect chain ending at the app's URI; a real browser
  // would then ask permission to open the app. Reading the Location header is what the OS would get.
  context.on('response', (response) => {
    const location = response.headers().location;
    if (location?.startsWith(`${scheme}:`)) deliver(location);
  });
  return {
    next(timeoutMs = 10_000) {
      const ready = seen.shift();
      if (ready) return Promise.resolve(ready);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no ${scheme}: navigation within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push((url) => {
          clearTimeout(timer);
          resolve(url);
        });
      });
    },
  };
}

/** Saves a screenshot under test-results/<suite>/<name>.png (CI keeps the folder). */
export async function screenshot(page: Page, suite: string, name: string): Promise<void> {
  const dir = path.resolve(process.cwd(), 'test-results', suite);
  await mkdir(dir, { recursive: true });
  // Headless Chromium now and then answers "Unable to capture screenshot" while a frame is being
  // composited (seen after WebAuthn ceremonies on a loaded machine); a second try a moment later works.
  for (let attempt = 1; ; attempt += 1) {
    try {
      await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
      return;
    } catch (error) {
      if (attempt >= 3 || !/Unable to capture screenshot/.test(String(error))) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
    }
  }
}

/**
 * Waits until the locator's text equals (string) or contains (RegExp / { contains }) the expectation;
 * fails with the last text seen. vitest's `expect` has no web-first assertions, so tests poll.
 */
export async function waitForText(
  locator: import('playwright-core').Locator,
  expected: string | RegExp,
  timeoutMs = 10_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      last = ((await locator.first().innerText({ timeout: 1_000 })) ?? '').trim();
      if (typeof expected === 'string' ? last === expected : expected.test(last)) return last;
    } catch {
      // not there yet
    }
    if (Date.now() > deadline)
      throw new Error(`expected text ${String(expected)}, last seen: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
