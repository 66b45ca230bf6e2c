import { join } from 'node:path';
import * as oauth from 'oauth4webapi';
import {
  type AuthorizationParameters,
  exchangeCode,
  type PendingAuthorization,
  prepareAuthorization,
  validateRedirect,
} from './authorization.js';
import { openSystemBrowser } from './browser.js';
import { type Context, createContext, requestOptions } from './context.js';
import { type DeviceCodeInfo, type DeviceCodeOptions, deviceCodeFlow } from './device.js';
import {
  type ErrorCode,
  InteractionRequiredError,
  InvalidOptionsError,
  LatchkeyError,
  NetworkError,
  NoPendingSignInError,
  OAuthError,
  TimeoutError,
  toLatchkeyError,
  UnsupportedError,
  UserCancelledError,
} from './errors.js';
import { acquireFileLock } from './lock.js';
import { defaultCacheDir, defaultSocketPath } from './paths.js';
import { forwardRedirect, listenForRedirects } from './receivers/local-socket.js';
import { startLoopbackReceiver } from './receivers/loopback.js';
import { PendingStore } from './receivers/pending-store.js';
import {
  type Account,
  clearHint,
  clearSession,
  readHint,
  readSession,
  type StoredSession,
} from './session.js';
import type { TokenStore } from './stores/token-store.js';
import { type AuthenticationResult, acceptTokens, verifyIdTokenSignature } from './tokens.js';

/**
 * How long a silent sign-in waits before presenting a refresh token again after a network failure.
 * Longer than the server's race-settle window (1 s), shorter than its reuse grace window (30 s).
 */
export const LOST_RESPONSE_RETRY_DELAY_MS = 1_500;

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** The Latchkey server's issuer identifier, e.g. `https://sso.example.com` (OpenID Connect Discovery §4). */
  issuer: string;
  /** This app's client id, registered on the server as a public native client. */
  clientId: string;
  /**
   * How the browser gets back to the app (RFC 8252 §7):
   * - `'loopback'` (or `'http://127.0.0.1/<path>'`): a one-shot HTTP server on 127.0.0.1 and an OS-picked
   *   port (§7.3); no browser prompt. Default path `/callback`.
   * - a private-use URI such as `'com.example.app:/oauth2redirect'` (§7.1): the OS starts the app with
   *   the URL, which reaches the SDK through {@link LatchkeyClient.handleRedirect}. The scheme must be
   *   registered with the OS (see `registerScheme`).
   */
  redirect: 'loopback' | string;
  /** Where the refresh token lives: `createKeychainStore()`, `createFileStore()`, `createMemoryStore()` or your own. */
  store: TokenStore;
  /** Opens the authorization URL; default: the system browser (never an embedded view, RFC 8252 §8.12). */
  openBrowser?: (url: string) => void | Promise<void>;
  /** The fetch to use (Electron's `net.fetch`, a proxy-aware fetch, one trusting a company CA). */
  fetch?: typeof fetch;
  /** Directory for discovery metadata, locks and pending sign-ins. Default: the per-user cache directory. */
  cacheDir?: string;
  /** Scopes of the sign-in. Default `openid email profile offline_access`. */
  scopes?: string[];
  /**
   * APIs (RFC 8707 resource indicators) the sign-in asks access to, so that `getAccessToken({ resource })`
   * can later get an access token whose audience is that API.
   */
  resources?: string[];
  /** Local socket (Unix socket path or `\\.\pipe\name`) for forwarded redirects. Default: derived per user and app. */
  socketPath?: string;
  /** Refresh an access token this many seconds before it expires. Default 60. */
  refreshBeforeExpirySeconds?: number;
  /** Use the on-disk discovery document for this long before fetching it again. Default 3600. */
  discoveryMaxAgeSeconds?: number;
  /** Loopback only: send the browser here after a successful sign-in instead of showing the built-in page. */
  successRedirectUrl?: string;
}

/** Options of {@link LatchkeyClient.signIn}. */
export interface SignInOptions {
  /** Email for the server's sign-in page (OpenID Connect Core §3.1.2.1 `login_hint`). Default: the last account's. */
  loginHint?: string;
  /** `login` forces re-authentication, `select_account` offers another account (OpenID Connect Core §3.1.2.1). */
  prompt?: 'login' | 'select_account' | 'consent' | 'none';
  /** Scopes for this sign-in instead of the client's. */
  scopes?: string[];
  /** Extra authorization request parameters (e.g. `ui_locales`). */
  extraParameters?: Record<string, string>;
  /** Give up after this long. Default 5 minutes. */
  timeoutMs?: number;
  /** Cancels the sign-in (the promise rejects with `UserCancelledError`). */
  signal?: AbortSignal;
  /** Overrides the client's `openBrowser` for this sign-in (e.g. print the URL for an SSH session). */
  openBrowser?: (url: string) => void | Promise<void>;
}

/** Options of {@link LatchkeyClient.getAccessToken} and {@link LatchkeyClient.signInSilently}. */
export interface AccessTokenOptions {
  /** The API the token is for (RFC 8707 §2 `resource`): the access token's audience. */
  resource?: string;
  /** Scopes for this token (a subset of the granted ones, RFC 6749 §6). */
  scopes?: string[];
  /** Refresh even when a cached access token is still valid. */
  forceRefresh?: boolean;
}

/** What {@link LatchkeyClient.getState} reports at start. */
export type SessionState =
  | { status: 'signed-in'; account: Account }
  | { status: 'signed-out'; loginHint?: string }
  /** A refresh token is stored but the server cannot be reached: not signed out. */
  | { status: 'offline'; account: Account; error: NetworkError };

/** What {@link LatchkeyClient.handleRedirect} did with a URL. */
export interface RedirectOutcome {
  /** `this-process`: a sign-in waiting here; `running-app`: forwarded to the app's waiting process; `cold-start`: finished here from the pending record. */
  handledBy: 'this-process' | 'running-app' | 'cold-start';
  account?: Account | { subject: string; email?: string };
  /** Present when this process finished the sign-in. */
  result?: AuthenticationResult;
}

/** What {@link LatchkeyClient.signOut} did. */
export interface SignOutResult {
  /** The server confirmed the revocation (RFC 7009 §2.2); false when it could not be reached. */
  revoked: boolean;
  /** The end-session URL opened in the browser with `{ everywhere: true }` (OpenID Connect RP-Initiated Logout §2). */
  endSessionUrl?: string;
}

/** The desktop client: one per issuer + client id. */
export interface LatchkeyClient {
  readonly issuer: string;
  readonly clientId: string;
  /** Interactive sign-in in the system browser (MSAL's `acquireTokenInteractive`). */
  signIn(options?: SignInOptions): Promise<AuthenticationResult>;
  /** Sign-in from the stored refresh token, without a browser (MSAL's `acquireTokenSilent`). */
  signInSilently(options?: AccessTokenOptions): Promise<AuthenticationResult>;
  /** A valid access token, refreshed when it is about to expire. */
  getAccessToken(options?: AccessTokenOptions): Promise<string>;
  /** The stored account, without any request. */
  getAccount(): Promise<Account | undefined>;
  /** Signed in, signed out, or offline (a token is stored but the server is unreachable). */
  getState(): Promise<SessionState>;
  /** Revokes the refresh token, clears the store; `everywhere` also ends the browser session. */
  signOut(options?: {
    everywhere?: boolean;
    openBrowser?: (url: string) => void | Promise<void>;
  }): Promise<SignOutResult>;
  /** Hands a private-use-scheme URL delivered by the OS to the sign-in waiting for it. */
  handleRedirect(url: string): Promise<RedirectOutcome>;
  /** RFC 8628 device sign-in: `onCode` shows the code and the verification URL. */
  signInWithDeviceCode(
    onCode: (info: DeviceCodeInfo) => void | Promise<void>,
    options?: DeviceCodeOptions,
  ): Promise<AuthenticationResult>;
  /** Stops listeners (local socket, loopback). Pending sign-ins reject with `UserCancelledError`. */
  close(): Promise<void>;
}

type RedirectConfig = { kind: 'loopback'; path: string } | { kind: 'scheme'; uri: string; url: URL };

/**
 * Private-use URI schemes must be reverse domain names (RFC 8252 §7.1); loopback redirects use the IP
 * literal, never `localhost` (RFC 8252 §8.3).
 */
function parseRedirect(redirect: string): RedirectConfig {
  if (redirect === 'loopback') return { kind: 'loopback', path: '/callback' };
  let url: URL;
  try {
    url = new URL(redirect);
  } catch (cause) {
    throw new InvalidOptionsError(`redirect: "${redirect}" is neither 'loopback' nor a URI`, { cause });
  }
  if (url.protocol === 'http:') {
    if (url.hostname !== '127.0.0.1' && url.hostname !== '[::1]') {
      throw new InvalidOptionsError(
        'redirect: an http redirect must use the loopback IP literal 127.0.0.1 (RFC 8252 §8.3)',
      );
    }
    return { kind: 'loopback', path: url.pathname || '/callback' };
  }
  if (url.protocol === 'https:')
    throw new InvalidOptionsError(
      'redirect: claimed https redirects are not supported; use loopback or a private-use scheme',
    );
  if (!url.protocol.slice(0, -1).includes('.')) {
    throw new InvalidOptionsError(
      `redirect: the scheme "${url.protocol}" must be a reverse domain name such as com.example.app (RFC 8252 §7.1)`,
    );
  }
  return { kind: 'scheme', uri: redirect, url };
}

function sameRedirect(config: { url: URL }, url: URL): boolean {
  return (
    url.protocol === config.url.protocol &&
    url.host === config.url.host &&
    url.pathname === config.url.pathname
  );
}

function tokenKey(options: AccessTokenOptions): string {
  return `${options.resource ?? ''}|${[...(options.scopes ?? [])].sort().join(' ')}`;
}

/** Runs `work` with the sign-in's deadline and the caller's signal mapped to `TimeoutError` / `UserCancelledError`. */
async function withDeadline<T>(
  timeoutMs: number,
  signal: AbortSignal | undefined,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const combined = signal ? AbortSignal.any([timeout, signal]) : timeout;
  try {
    return await work(combined);
  } catch (error) {
    if (timeout.aborted && !(error instanceof LatchkeyError)) {
      throw new TimeoutError(`No redirect arrived within ${Math.round(timeoutMs / 1000)} s`, {
        cause: error,
      });
    }
    if (signal?.aborted && !(error instanceof LatchkeyError))
      throw new UserCancelledError(undefined, { cause: error });
    throw error;
  }
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

interface InProcessSignIn {
  complete(url: URL): Promise<AuthenticationResult>;
  cancel(error: Error): void;
}

/**
 * Creates the desktop client. Nothing is fetched yet: discovery happens on first use and is cached
 * on disk (`cacheDir`), so a later start can refresh with no extra request, or report `offline`.
 */
export async function createClient(options: ClientOptions): Promise<LatchkeyClient> {
  if (!options.issuer) throw new InvalidOptionsError('issuer is required');
  if (!options.clientId) throw new InvalidOptionsError('clientId is required');
  if (!options.store) throw new InvalidOptionsError('store is required');
  const redirect = parseRedirect(options.redirect);
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const ctx: Context = await createContext({
    issuer: options.issuer,
    clientId: options.clientId,
    store: options.store,
    cacheDir,
    scopes: options.scopes ?? ['openid', 'email', 'profile', 'offline_access'],
    resources: options.resources ?? [],
    ...(options.fetch ? { fetch: options.fetch } : {}),
    discoveryMaxAgeSeconds: options.discoveryMaxAgeSeconds ?? 3600,
  });
  const socketPath = options.socketPath ?? defaultSocketPath(cacheDir, ctx.issuer.href, options.clientId);
  const pendingStore = new PendingStore(join(cacheDir, 'pending'));
  const lockPath = `${ctx.cachePrefix}.lock`;
  const skewMs = (options.refreshBeforeExpirySeconds ?? 60) * 1000;
  const openBrowser = options.openBrowser ?? openSystemBrowser;

  const accessTokens = new Map<string, AuthenticationResult>();
  const inflight = new Map<string, Promise<AuthenticationResult>>();
  let queue: Promise<unknown> = Promise.resolve();
  const waiting = new Map<string, InProcessSignIn>();
  let listener: Promise<{ close(): Promise<void> }> | undefined;

  const remember = (key: string, result: AuthenticationResult) => {
    accessTokens.set(key, result);
    return result;
  };

  const interactionRequired = async (message: string, cause?: unknown) =>
    new InteractionRequiredError(message, { cause, loginHint: await readHint(ctx) });

  // ---- silent sign-in -------------------------------------------------------------------------

  /** One refresh grant (RFC 6749 §6) with the stored token; rotation stores the new one. */
  const refreshOnce = async (
    as: oauth.AuthorizationServer,
    session: StoredSession,
    request: AccessTokenOptions,
  ) => {
    const additionalParameters: Record<string, string> = {};
    if (request.resource) additionalParameters.resource = request.resource;
    if (request.scopes?.length) additionalParameters.scope = request.scopes.join(' ');
    let response: Response;
    let tokens: oauth.TokenEndpointResponse;
    try {
      response = await oauth.refreshTokenGrantRequest(as, ctx.client, ctx.clientAuth, session.refreshToken, {
        ...requestOptions(ctx),
        additionalParameters,
      });
      tokens = await oauth.processRefreshTokenResponse(as, ctx.client, response);
    } catch (error) {
      throw toLatchkeyError(error, 'Token refresh');
    }
    if (tokens.id_token) await verifyIdTokenSignature(ctx, as, response);
    return acceptTokens(ctx, tokens, {
      previous: session,
      requireIdToken: false,
      ...(request.resource ? { resource: request.resource } : {}),
    });
  };

  /**
   * Steps of a silent sign-in, under the cross-process lock:
   * 1. re-read the store (another process may have rotated the token while we waited);
   * 2. present the refresh token;
   * 3. after a network failure, present it once more: the response may have been lost after the
   *    server rotated it, and the server's grace window accepts one replay;
   * 4. on `invalid_grant` (revoked, expired, reused) clear the store: a browser sign-in is required.
   */
  const refreshLocked = async (request: AccessTokenOptions): Promise<AuthenticationResult> => {
    const as = await ctx.metadata();
    if (!(await readSession(ctx))) throw await interactionRequired('No account is signed in');
    let lock: { release(): Promise<void> };
    try {
      lock = await acquireFileLock(lockPath);
    } catch (cause) {
      throw new TimeoutError('Another process has held the token lock for too long', { cause });
    }
    try {
      const session = await readSession(ctx);
      if (!session) throw await interactionRequired('No account is signed in');
      try {
        try {
          return await refreshOnce(as, session, request);
        } catch (error) {
          if (!(error instanceof NetworkError)) throw error;
          // Latchkey refuses a re-presentation that follows the rotation too closely (it cannot be
          // told apart from two requests sent together); a retry after a lost response waits it out.
          await new Promise((resolve) => setTimeout(resolve, LOST_RESPONSE_RETRY_DELAY_MS));
          return await refreshOnce(as, session, request);
        }
      } catch (error) {
        if (error instanceof OAuthError && error.error === 'invalid_grant') {
          await clearSession(ctx);
          accessTokens.clear();
          throw new InteractionRequiredError('The stored sign-in is no longer valid; sign in again', {
            cause: error,
            loginHint: session.account.email,
          });
        }
        throw error;
      }
    } finally {
      await lock.release();
    }
  };

  const acquireToken = (request: AccessTokenOptions): Promise<AuthenticationResult> => {
    const key = tokenKey(request);
    const fresh = () => {
      const cached = accessTokens.get(key);
      return !request.forceRefresh && cached && cached.expiresOn - skewMs > Date.now()
        ? { ...cached, fromCache: true }
        : undefined;
    };
    const cached = fresh();
    if (cached) return Promise.resolve(cached);
    const running = inflight.get(key);
    if (running) return running;
    // One refresh at a time in this process: every refresh rotates the one refresh token.
    const work = queue.then(async () => fresh() ?? remember(key, await refreshLocked(request)));
    queue = work.catch(() => {});
    inflight.set(key, work);
    const cleanup = () => inflight.delete(key);
    work.then(cleanup, cleanup);
    return work;
  };

  // ---- interactive sign-in ----------------------------------------------------------------------

  const authorizationParameters = async (signInOptions: SignInOptions): Promise<AuthorizationParameters> => ({
    loginHint: signInOptions.loginHint ?? (await readHint(ctx)),
    prompt: signInOptions.prompt,
    scopes: signInOptions.scopes,
    resources: ctx.resources,
    extraParameters: signInOptions.extraParameters,
  });

  /** Loopback: receiver → authorization request → browser → redirect → checks → code exchange. */
  const signInLoopback = async (signInOptions: SignInOptions, path: string, timeoutMs: number) => {
    const as = await ctx.metadata();
    const receiver = await startLoopbackReceiver({
      path,
      ...(options.successRedirectUrl ? { successRedirectUrl: options.successRedirectUrl } : {}),
    });
    try {
      return await withDeadline(timeoutMs, signInOptions.signal, async (signal) => {
        const { pending, url } = await prepareAuthorization(
          ctx,
          as,
          receiver.redirectUri,
          await authorizationParameters(signInOptions),
          timeoutMs,
        );
        await (signInOptions.openBrowser ?? openBrowser)(url.href);
        const hit = await receiver.next(signal);
        try {
          const result = await exchangeCode(ctx, as, pending, validateRedirect(ctx, as, pending, hit.url));
          await hit.respond({ ok: true });
          return remember(tokenKey({}), result);
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

  const completeRedirect = async (pending: PendingAuthorization, url: URL) => {
    const as = await ctx.metadata();
    return remember(
      tokenKey({}),
      await exchangeCode(ctx, as, pending, validateRedirect(ctx, as, pending, url)),
    );
  };

  const ensureListener = () => {
    listener ??= listenForRedirects(socketPath, async (text) => {
      try {
        const url = new URL(text);
        const entry = waiting.get(url.searchParams.get('state') ?? '');
        if (!entry || redirect.kind !== 'scheme' || !sameRedirect(redirect, url)) {
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

  /**
   * Private-use scheme: the pending record goes to disk (for a cold start) and into this process's
   * table; the redirect arrives through `handleRedirect`, directly or over the local socket.
   */
  const signInScheme = async (signInOptions: SignInOptions, config: { uri: string }, timeoutMs: number) => {
    const as = await ctx.metadata();
    const { pending, url } = await prepareAuthorization(
      ctx,
      as,
      config.uri,
      await authorizationParameters(signInOptions),
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
  };

  // ---- the client ----------------------------------------------------------------------------

  return {
    issuer: ctx.issuer.href,
    clientId: options.clientId,

    async signIn(signInOptions = {}) {
      const timeoutMs = signInOptions.timeoutMs ?? 5 * 60_000;
      return redirect.kind === 'loopback'
        ? signInLoopback(signInOptions, redirect.path, timeoutMs)
        : signInScheme(signInOptions, redirect, timeoutMs);
    },

    signInSilently(request = {}) {
      return acquireToken(request);
    },

    async getAccessToken(request = {}) {
      return (await acquireToken(request)).accessToken;
    },

    async getAccount() {
      return (await readSession(ctx))?.account;
    },

    async getState() {
      const session = await readSession(ctx);
      if (!session) {
        const loginHint = await readHint(ctx);
        return loginHint ? { status: 'signed-out', loginHint } : { status: 'signed-out' };
      }
      try {
        const result = await acquireToken({});
        return { status: 'signed-in', account: result.account };
      } catch (error) {
        if (error instanceof NetworkError) return { status: 'offline', account: session.account, error };
        if (error instanceof InteractionRequiredError) {
          return error.loginHint
            ? { status: 'signed-out', loginHint: error.loginHint }
            : { status: 'signed-out' };
        }
        throw error;
      }
    },

    /**
     * Revocation (RFC 7009 §2.1) of the refresh token, which on a rotating server ends its whole
     * grant; then the store is cleared even if the server could not be reached. With `everywhere`,
     * RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2) ends the browser session too.
     */
    async signOut(signOutOptions = {}) {
      const as = await ctx.metadata().catch(() => undefined);
      let revoked = false;
      let session: StoredSession | undefined;
      const lock = await acquireFileLock(lockPath).catch(() => undefined);
      try {
        session = await readSession(ctx);
        if (session && as?.revocation_endpoint) {
          try {
            const response = await oauth.revocationRequest(
              as,
              ctx.client,
              ctx.clientAuth,
              session.refreshToken,
              {
                ...requestOptions(ctx),
                additionalParameters: { token_type_hint: 'refresh_token' },
              },
            );
            await oauth.processRevocationResponse(response);
            revoked = true;
          } catch (error) {
            const failure = toLatchkeyError(error, 'Revocation');
            if (!(failure instanceof NetworkError)) throw failure;
          }
        }
        await clearSession(ctx);
        await clearHint(ctx);
        accessTokens.clear();
      } finally {
        await lock?.release();
      }
      if (!signOutOptions.everywhere) return { revoked };
      if (!as?.end_session_endpoint)
        throw new UnsupportedError('The server advertises no end_session_endpoint');
      const url = new URL(as.end_session_endpoint);
      url.searchParams.set('client_id', ctx.clientId);
      if (session?.idToken) url.searchParams.set('id_token_hint', session.idToken);
      await (signOutOptions.openBrowser ?? openBrowser)(url.href);
      return { revoked, endSessionUrl: url.href };
    },

    /**
     * For a private-use-scheme URL the OS delivered (RFC 8252 §7.1). Tries, in order: a sign-in
     * waiting in this process; the app's process waiting on the local socket; the pending record on
     * disk (cold start: the app that started the sign-in is gone). Anything else is rejected with
     * `NoPendingSignInError`, so a URL crafted by another program cannot inject a code.
     */
    async handleRedirect(text) {
      let url: URL;
      try {
        url = new URL(text);
      } catch (cause) {
        throw new NoPendingSignInError(`Not a URL: ${text}`, { cause });
      }
      if (redirect.kind !== 'scheme' || !sameRedirect(redirect, url)) {
        throw new NoPendingSignInError(
          `The URL does not match this app's redirect URI ${redirect.kind === 'scheme' ? redirect.uri : ''}`.trim(),
        );
      }
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

    async signInWithDeviceCode(onCode, deviceOptions = {}) {
      const as = await ctx.metadata();
      if (!as.device_authorization_endpoint)
        throw new UnsupportedError('The server advertises no device_authorization_endpoint');
      const loginHint = deviceOptions.loginHint ?? (await readHint(ctx));
      const result = await deviceCodeFlow(ctx, as, onCode, {
        ...deviceOptions,
        ...(loginHint ? { loginHint } : {}),
      });
      return remember(tokenKey({}), result);
    },

    async close() {
      for (const entry of waiting.values()) entry.cancel(new UserCancelledError('The client was closed'));
      waiting.clear();
      await stopListenerIfIdle();
    },
  };
}
