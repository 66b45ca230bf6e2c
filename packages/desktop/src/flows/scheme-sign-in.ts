import {
  exchangeCode,
  type PendingAuthorization,
  prepareAuthorization,
  validateRedirect,
} from '../authorization.js';
import type { Context } from '../context.js';
import {
  type ErrorCode,
  LatchkeyError,
  NoPendingSignInError,
  toLatchkeyError,
  UserCancelledError,
} from '../errors.js';
import { forwardRedirect, listenForRedirects } from '../receivers/local-socket.js';
import type { PendingStore } from '../receivers/pending-store.js';
import type { Account } from '../session.js';
import type { AuthenticationResult } from '../tokens.js';
import type { AccessTokenCache } from './access-token-cache.js';
import {
  abortable,
  authorizationParameters,
  type OpenBrowser,
  type SignInOptions,
  withDeadline,
} from './interactive.js';
import { parseDeliveredRedirect, type SchemeRedirect, sameRedirect } from './redirect-uri.js';

/** What {@link LatchkeyClient.handleRedirect} did with a URL. */
export interface RedirectOutcome {
  /** `this-process`: a sign-in waiting here; `running-app`: forwarded to the app's waiting process; `cold-start`: finished here from the pending record. */
  handledBy: 'this-process' | 'running-app' | 'cold-start';
  account?: Account | { subject: string; email?: string };
  /** Present when this process finished the sign-in. */
  result?: AuthenticationResult;
}

/** What a private-use-scheme sign-in needs. */
export interface SchemeSignInDeps {
  ctx: Context;
  cache: AccessTokenCache;
  openBrowser: OpenBrowser;
  redirect: SchemeRedirect;
  /** The per-user local socket other processes of this app forward redirects to. */
  socketPath: string;
  /** Pending authorizations on disk, for a cold start. */
  pendingStore: PendingStore;
}

/** Private-use-scheme sign-in (RFC 8252 §7.1): the redirect comes back through `handleRedirect`. */
export interface SchemeSignIn {
  signIn(signInOptions: SignInOptions, timeoutMs: number): Promise<AuthenticationResult>;
  handleRedirect(text: string): Promise<RedirectOutcome>;
  /** Stops the listener; sign-ins waiting in this process reject with `UserCancelledError`. */
  close(): Promise<void>;
}

interface InProcessSignIn {
  complete(url: URL): Promise<AuthenticationResult>;
  cancel(error: Error): void;
}

export function createSchemeSignIn({
  ctx,
  cache,
  openBrowser,
  redirect,
  socketPath,
  pendingStore,
}: SchemeSignInDeps): SchemeSignIn {
  const waiting = new Map<string, InProcessSignIn>();
  let listener: Promise<{ close(): Promise<void> }> | undefined;

  const completeRedirect = async (pending: PendingAuthorization, url: URL) => {
    const as = await ctx.metadata();
    return cache.remember({}, await exchangeCode(ctx, as, pending, validateRedirect(ctx, as, pending, url)));
  };

  const ensureListener = () => {
    listener ??= listenForRedirects(socketPath, async (text) => {
      try {
        const url = new URL(text);
        const entry = waiting.get(url.searchParams.get('state') ?? '');
        if (!entry || !sameRedirect(redirect, url)) {
          return {
            ok: false,
            code: 'no_pending_sign_in',
            message: 'no sign-in is waiting for this redirect',
          };
        }
        const result = await entry.complete(url);
        return {
          ok: true,
          account: {
            subject: result.account.subject,
            ...(result.account.email ? { email: result.account.email } : {}),
          },
        };
      } catch (error) {
        const failure = toLatchkeyError(error, 'Redirect');
        return { ok: false, code: failure.code, message: failure.message };
      }
    }).catch((error) => {
      listener = undefined;
      throw error;
    });
    return listener;
  };

  const stopListenerIfIdle = async () => {
    if (waiting.size > 0 || !listener) return;
    const current = listener;
    listener = undefined;
    await (await current.catch(() => undefined))?.close();
  };

  return {
    /**
     * The pending record goes to disk (for a cold start) and into this process's table; the redirect
     * arrives through `handleRedirect`, directly or over the local socket.
     */
    async signIn(signInOptions, timeoutMs) {
      const as = await ctx.metadata();
      const { pending, url } = await prepareAuthorization(
        ctx,
        as,
        redirect.uri,
        await authorizationParameters(ctx, signInOptions),
        timeoutMs,
      );
      let settle!: { resolve(result: AuthenticationResult): void; reject(error: unknown): void };
      const done = new Promise<AuthenticationResult>((resolve, reject) => {
        settle = { resolve, reject };
      });
      waiting.set(pending.state, {
        async complete(redirectUrl) {
          waiting.delete(pending.state);
          await pendingStore.remove(pending.state);
          try {
            const result = await completeRedirect(pending, redirectUrl);
            settle.resolve(result);
            return result;
          } catch (error) {
            settle.reject(error);
            throw error;
          }
        },
        cancel: (error) => settle.reject(error),
      });
      try {
        await pendingStore.save(pending);
        await ensureListener();
        return await withDeadline(timeoutMs, signInOptions.signal, async (signal) => {
          await (signInOptions.openBrowser ?? openBrowser)(url.href);
          return abortable(done, signal);
        });
      } catch (error) {
        await pendingStore.remove(pending.state);
        throw error;
      } finally {
        waiting.delete(pending.state);
        await stopListenerIfIdle();
      }
    },

    /**
     * For a private-use-scheme URL the OS delivered (RFC 8252 §7.1). Tries, in order: a sign-in
     * waiting in this process; the app's process waiting on the local socket; the pending record on
     * disk (cold start: the app that started the sign-in is gone). Anything else is rejected with
     * `NoPendingSignInError`, so a URL crafted by another program cannot inject a code.
     */
    async handleRedirect(text) {
      const url = parseDeliveredRedirect(text, redirect);
      const state = url.searchParams.get('state');
      if (!state) throw new NoPendingSignInError('The redirect carries no state');
      const local = waiting.get(state);
      if (local) {
        const result = await local.complete(url);
        return { handledBy: 'this-process', account: result.account, result };
      }
      const reply = await forwardRedirect(socketPath, url.href);
      if (reply?.ok)
        return { handledBy: 'running-app', ...(reply.account ? { account: reply.account } : {}) };
      if (reply && reply.code !== 'no_pending_sign_in')
        throw new LatchkeyError(reply.code as ErrorCode, reply.message);
      const pending = await pendingStore.take(state);
      if (!pending) throw new NoPendingSignInError();
      const result = await completeRedirect(pending, url);
      return { handledBy: 'cold-start', account: result.account, result };
    },

    async close() {
      for (const entry of waiting.values()) entry.cancel(new UserCancelledError('The client was closed'));
      waiting.clear();
      await stopListenerIfIdle();
    },
  };
}
