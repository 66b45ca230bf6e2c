/**
 * Plays the browser for a test-only interaction route (test OP) or any server that approves without
 * a form: follows redirects from the authorization URL with a cookie jar, and stops at the first
 * Location outside `issuer` — the redirect to the app (loopback or private-use scheme), not followed.
 */
export async function driveAuthorization(
  authorizationUrl: string,
  options: { maxHops?: number } = {},
): Promise<string> {
  const start = new URL(authorizationUrl);
  const jar = new Map<string, string>();
  let url = start;
  for (let hop = 0; hop < (options.maxHops ?? 20); hop++) {
    const cookie = [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
    const response = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const index = pair?.indexOf('=') ?? -1;
      if (pair && index > 0) jar.set(pair.slice(0, index).trim(), pair.slice(index + 1).trim());
    }
    const location = response.headers.get('location');
    await response.arrayBuffer().catch(() => undefined);
    if (!location) throw new Error(`The authorization stopped at ${url.href} with status ${response.status}`);
    const next = new URL(location, url);
    if (next.origin !== start.origin) return next.href;
    url = next;
  }
  throw new Error('Too many redirects');
}

/** Waits until `predicate` holds, polling. */
export async function waitFor<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error('waitFor timed out');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
