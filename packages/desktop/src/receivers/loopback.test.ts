import { describe, expect, it } from 'vitest';
import { type LoopbackOutcome, type LoopbackReceiverOptions, startLoopbackReceiver } from './loopback.js';

/** Starts a receiver, sends the browser's request, answers it with `outcome`, returns what the browser got. */
async function answer(options: LoopbackReceiverOptions, outcome: LoopbackOutcome) {
  const receiver = await startLoopbackReceiver(options);
  try {
    const controller = new AbortController();
    const response = fetch(`${receiver.redirectUri}?code=c&state=s`, { redirect: 'manual' });
    const hit = await receiver.next(controller.signal);
    await hit.respond(outcome);
    const got = await response;
    return { status: got.status, headers: got.headers, html: await got.text() };
  } finally {
    await receiver.close();
  }
}

/** The page's text, tags removed (entities kept, to see the escaping). */
const text = (html: string) => html.replace(/<[^>]*>/g, '');

function expectSelfContained(html: string) {
  expect(html).toMatch(/^<!doctype html>/i);
  expect(html).toContain('<style>');
  // No external assets: nothing to fetch (the CSP would block it anyway), nothing to leak the URL to.
  expect(html).not.toMatch(/<link|<img|<iframe|\bsrc=|url\(|@import|https?:\/\//i);
}

describe('loopback receiver pages', () => {
  it('success: branded with the app name, escaped, self-contained, and cleans the address bar', async () => {
    const page = await answer({ appName: 'Acme <Desktop> & Co' }, { ok: true });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.html).toContain('<h1>Signed in</h1>');
    expect(text(page.html)).toContain('You are signed in — return to Acme &#60;Desktop&#62; &#38; Co.');
    expect(page.html).not.toContain('<Desktop>');
    expect(page.html).toContain("history.replaceState(null,'','/')");
    expectSelfContained(page.html);
  });

  it('success without an app name says "the application"', async () => {
    const page = await answer({}, { ok: true });
    expect(page.html).toContain('You are signed in — return to the application.');
  });

  it('error: says the sign-in failed, escapes the message, and names the app', async () => {
    const page = await answer(
      { appName: 'Acme Desktop' },
      { ok: false, message: 'The server said: <script>alert(1)</script>.' },
    );
    expect(page.status).toBe(400);
    expect(page.html).toContain('Sign-in failed');
    expect(page.html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(page.html).not.toContain('<script>alert(1)');
    expect(text(page.html)).toContain('Return to Acme Desktop and try again');
    expectSelfContained(page.html);
  });

  it('custom pages: the app renders success and error, the receiver keeps its headers and cleanup', async () => {
    const seen: unknown[] = [];
    const pages: LoopbackReceiverOptions['pages'] = {
      success: (info) => {
        seen.push(info);
        return `<!doctype html><html><body><h1>Welcome back to ${info.appName}</h1></body></html>`;
      },
      error: (info) => {
        seen.push(info);
        return `<!doctype html><html><body><p>${info.message.length} characters of trouble</p></body></html>`;
      },
    };
    const ok = await answer({ appName: 'Acme', pages }, { ok: true });
    expect(ok.status).toBe(200);
    expect(ok.html).toContain('<h1>Welcome back to Acme</h1>');
    expect(ok.html).toMatch(/<script>history\.replaceState\(null,'','\/'\);<\/script><\/body>/);
    expect(ok.headers.get('content-security-policy')).toContain("default-src 'none'");
    const failed = await answer({ appName: 'Acme', pages }, { ok: false, message: 'nope' });
    expect(failed.status).toBe(400);
    expect(failed.html).toContain('4 characters of trouble');
    expect(seen).toEqual([{ appName: 'Acme' }, { appName: 'Acme', message: 'nope' }]);
  });

  it('templates: {{appName}} and {{message}} are filled with escaped text; others stay as written', async () => {
    const pages: LoopbackReceiverOptions['pages'] = {
      success: '<!doctype html><html><body><h1>Back to {{ appName }}</h1><p>{{nope}}</p></body></html>',
      error:
        '<!doctype html><html><body><h1>{{appName}} could not sign you in</h1><p>{{message}}</p></body></html>',
    };
    const ok = await answer({ appName: 'Acme <Desktop>', pages }, { ok: true });
    expect(ok.status).toBe(200);
    expect(ok.html).toContain('<h1>Back to Acme &#60;Desktop&#62;</h1><p>{{nope}}</p>');
    expect(ok.html).toMatch(/<script>history\.replaceState\(null,'','\/'\);<\/script><\/body>/);
    expect(ok.headers.get('content-security-policy')).toContain("default-src 'none'");
    const failed = await answer({ pages }, { ok: false, message: '<img src=x onerror=alert(1)>' });
    expect(failed.status).toBe(400);
    expect(failed.html).toContain('<h1>the application could not sign you in</h1>');
    expect(failed.html).toContain('<p>&#60;img src=x onerror=alert(1)&#62;</p>');
    expect(failed.html).not.toContain('<img');
  });

  it('only one custom page: the other stays the default', async () => {
    const page = await answer({ pages: { success: () => '<p>done</p>' } }, { ok: false, message: 'bad' });
    expect(page.html).toContain('Sign-in failed');
  });
});
