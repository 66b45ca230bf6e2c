import { exchangeCode, prepareAuthorization, validateRedirect } from '../authorization.js';
import type { Context } from '../context.js';
import { OAuthError } from '../errors.js';
import { startLoopbackReceiver } from '../receivers/loopback.js';
import type { LoopbackPages } from '../receivers/loopback-pages.js';
import type { AuthenticationResult } from '../tokens.js';
import type { AccessTokenCache } from './access-token-cache.js';
import {
  authorizationParameters,
  type OpenBrowser,
  type SignInOptions,
  withDeadline,
} from './interactive.js';

/** What a loopback sign-in needs. */
export interface LoopbackSignInDeps {
  ctx: Context;
  cache: AccessTokenCache;
  openBrowser: OpenBrowser;
  /** Path of the redirect URI on 127.0.0.1, e.g. `/callback`. */
  path: string;
  /** Send the browser here after a successful sign-in instead of showing the built-in page. */
  successRedirectUrl?: string | undefined;
  /** The app's name on the receiver's pages. */
  appName?: string | undefined;
  /** The app's own success / error pages. */
  pages?: LoopbackPages | undefined;
}

/**
 * Loopback (RFC 8252 §7.3): receiver → authorization request → browser → redirect → checks → code
 * exchange. The browser's request is held until the outcome is known, so its page tells the truth.
 */
export function createLoopbackSignIn({
  ctx,
  cache,
  openBrowser,
  path,
  successRedirectUrl,
  appName,
  pages,
}: LoopbackSignInDeps): (signInOptions: SignInOptions, timeoutMs: number) => Promise<AuthenticationResult> {
  return async (signInOptions, timeoutMs) => {
    const as = await ctx.metadata();
    const receiver = await startLoopbackReceiver({
      path,
      ...(successRedirectUrl ? { successRedirectUrl } : {}),
      ...(appName ? { appName } : {}),
      ...(pages ? { pages } : {}),
    });
    try {
      return await withDeadline(timeoutMs, signInOptions.signal, async (signal) => {
        const { pending, url } = await prepareAuthorization(
          ctx,
          as,
          receiver.redirectUri,
          await authorizationParameters(ctx, signInOptions),
          timeoutMs,
        );
        await (signInOptions.openBrowser ?? openBrowser)(url.href);
        const hit = await receiver.next(signal);
        try {
          const result = await exchangeCode(ctx, as, pending, validateRedirect(ctx, as, pending, hit.url));
          await hit.respond({ ok: true });
          return cache.remember({}, result);
        } catch (error) {
          await hit.respond({
            ok: false,
            message:
              error instanceof OAuthError
                ? `The server said: ${error.message}.`
                : 'The response could not be verified.',
          });
          throw error;
        }
      });
    } finally {
      await receiver.close();
    }
  };
}
