import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  defaultErrorPage,
  defaultSuccessPage,
  type LoopbackPages,
  notFoundPage,
  renderLoopbackPage,
  withCleanUrl,
} from './loopback-pages.js';

export interface LoopbackReceiverOptions {
  /** Path of the redirect URI. Default `/callback`. */
  path?: string;
  /** Where the browser goes after the sign-in instead of the built-in page (e.g. the server's "done" page). */
  successRedirectUrl?: string;
  /** The app's name on the pages: "You are signed in — return to <appName>". */
  appName?: string;
  /**
   * Your own pages instead of the built-in ones (either or both): functions, or HTML templates with
   * `{{appName}}` / `{{message}}` placeholders filled with escaped text. The receiver adds the
   * address-bar cleanup.
   */
  pages?: LoopbackPages;
}

/** What the receiver tells the browser once the app has dealt with the redirect. */
export type LoopbackOutcome = { ok: true } | { ok: false; message: string };

export interface LoopbackReceiver {
  /** `http://127.0.0.1:<port><path>`: the redirect URI to put in the authorization request. */
  readonly redirectUri: string;
  /**
   * Resolves with the first request to the callback path. Call `respond` with the outcome: the
   * browser's request is held open until then, so the page it shows tells the truth.
   */
  next(signal: AbortSignal): Promise<{ url: URL; respond(outcome: LoopbackOutcome): Promise<void> }>;
  close(): Promise<void>;
}

const PAGE_HEADERS = {
  'Content-Type': 'text/html; charset=utf-8',
  'Cache-Control': 'no-store',
  // The code is in this page's URL: never send it on as a Referer.
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy':
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
};

/**
 * The loopback redirect receiver of RFC 8252 §7.3: binds 127.0.0.1 only (not `localhost`, §8.3) on a
 * port the OS picks, answers only the callback path, accepts one redirect, then closes.
 */
export async function startLoopbackReceiver(
  options: LoopbackReceiverOptions = {},
): Promise<LoopbackReceiver> {
  const path = options.path ?? '/callback';
  const appName = options.appName;
  let waiter: ((hit: { url: URL; response: ServerResponse }) => void) | undefined;
  let early: { url: URL; response: ServerResponse } | undefined;
  let taken = false;

  // Loaded when used: a silent sign-in (every app start) never needs it.
  const { createServer } = await import('node:http');
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    if (request.method !== 'GET' || url.pathname !== path || taken) {
      response.writeHead(404, { ...PAGE_HEADERS }).end(notFoundPage());
      return;
    }
    taken = true;
    const hit = { url: new URL(`${redirectUri}${url.search}`), response };
    if (waiter) waiter(hit);
    else early = hit;
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const redirectUri = `http://127.0.0.1:${port}${path}`;

  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });

  return {
    redirectUri,
    next(signal) {
      return new Promise((resolve, reject) => {
        const deliver = (hit: { url: URL; response: ServerResponse }) => {
          signal.removeEventListener('abort', onAbort);
          resolve({
            url: hit.url,
            respond: (outcome) =>
              new Promise<void>((done) => {
                if (outcome.ok && options.successRedirectUrl) {
                  hit.response.writeHead(303, {
                    Location: options.successRedirectUrl,
                    'Cache-Control': 'no-store',
                    'Referrer-Policy': 'no-referrer',
                  });
                } else if (outcome.ok) {
                  hit.response.writeHead(200, PAGE_HEADERS);
                  hit.response.write(
                    withCleanUrl(
                      renderLoopbackPage(options.pages?.success ?? defaultSuccessPage, { appName }),
                    ),
                  );
                } else {
                  hit.response.writeHead(400, PAGE_HEADERS);
                  hit.response.write(
                    withCleanUrl(
                      renderLoopbackPage(options.pages?.error ?? defaultErrorPage, {
                        appName,
                        message: outcome.message,
                      }),
                    ),
                  );
                }
                hit.response.end(() => done());
              }),
          });
        };
        const onAbort = () => reject(signal.reason);
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        if (early) deliver(early);
        else waiter = deliver;
      });
    },
    close,
  };
}
