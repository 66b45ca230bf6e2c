/**
 * A "browser" over plain HTTP for the e2e tests that sign an app in without Chromium: it follows
 * the authorization URL at Latchkey, fills the email and password pages, clicks Launch Application
 * and delivers the redirect to the app's loopback receiver.
 */
import { CookieJar } from '../../bench/lib.mjs';

const CSRF = /name="_csrf" value="([^"]+)"/;
const ACTION = /<form[^>]*action="([^"]+)"/;

/** `rewrite` maps Latchkey's URLs to where its requests really go (one process of a fleet). */
export function httpBrowser(
  who: { email: string; password: string },
  rewrite: (url: string) => string = (u) => u,
) {
  return async (authorizationUrl: string) => {
    const jar = new CookieJar();
    const request = async (url: string, init: RequestInit = {}) => {
      const response = await fetch(rewrite(url), {
        ...init,
        redirect: 'manual',
        headers: { accept: 'text/html', cookie: jar.header(), ...(init.headers ?? {}) },
      });
      jar.store(response);
      return response;
    };
    const follow = async (response: Response, base: string): Promise<Response | string> => {
      let current = response;
      let at = base;
      for (let hops = 0; hops < 10; hops++) {
        const location = current.headers.get('location');
        if (current.status < 300 || current.status >= 400 || !location) return current;
        await current.arrayBuffer();
        const next = new URL(location, at).href;
        if (next.includes('/callback?')) return next;
        at = next;
        current = await request(next);
      }
      throw new Error('too many redirects');
    };
    const post = async (page: Response | string, base: string, fields: Record<string, string>) => {
      if (typeof page === 'string') throw new Error('unexpected redirect');
      const html = await page.text();
      const csrf = CSRF.exec(html)?.[1];
      const action = ACTION.exec(html)?.[1]?.replaceAll('&amp;', '&');
      if (!csrf || !action) throw new Error(`no form (status ${page.status}): ${html.slice(0, 200)}`);
      const target = new URL(action, base).href;
      return follow(
        await request(target, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ _csrf: csrf, ...fields }).toString(),
        }),
        target,
      );
    };
    const base = authorizationUrl;
    const emailPage = await follow(await request(authorizationUrl), base);
    const passwordPage = await post(emailPage, base, { email: who.email });
    const handoff = await post(passwordPage, base, { password: who.password });
    const redirect = await post(handoff, base, {});
    if (typeof redirect !== 'string') throw new Error(`no redirect to the app (status ${redirect.status})`);
    // Not awaited: the SDK answers its loopback page only after it has taken the code, and it
    // waits for openBrowser first (as for a real browser, which returns at once).
    void fetch(redirect)
      .then((response) => response.text())
      .catch(() => {});
  };
}
