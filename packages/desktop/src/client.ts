import { join } from 'node:path';
import { openSystemBrowser } from './browser.js';
import { createContext } from './context.js';
import type { DeviceCodeInfo, DeviceCodeOptions } from './device.js';
import { InvalidOptionsError } from './errors.js';
import { createAccessTokenCache } from './flows/access-token-cache.js';
import { type ApiRequestInit, createApiFetch } from './flows/api-fetch.js';
import { createDeviceSignIn } from './flows/device-sign-in.js';
import { DEFAULT_SIGN_IN_TIMEOUT_MS, type SignInOptions } from './flows/interactive.js';
import type { SignedOutListener } from './flows/live-sign-out.js';
import { createLoopbackSignIn } from './flows/loopback-sign-in.js';
import { parseDeliveredRedirect, parseRedirect } from './flows/redirect-uri.js';
import { createSchemeSignIn, type RedirectOutcome, type SchemeSignIn } from './flows/scheme-sign-in.js';
import { readSessionState, type SessionState } from './flows/session-state.js';
import { createSignOut, type SignOutOptions, type SignOutResult } from './flows/sign-out.js';
import { watchSignedOut } from './flows/signed-out-hook.js';
import { type AccessTokenOptions, createSilentSignIn } from './flows/silent-sign-in.js';
import { defaultCacheDir, defaultSocketPath } from './paths.js';
import type { LoopbackPages } from './receivers/loopback-pages.js';
import { PendingStore } from './receivers/pending-store.js';
import { type Account, readSession } from './session.js';
import type { TokenStore } from './stores/token-store.js';
import type { AuthenticationResult } from './tokens.js';
import { sdkUserAgent } from './user-agent.js';

// The client is a facade: each job lives in its own module under flows/ and declares what it needs.
export type { ApiRequestInit } from './flows/api-fetch.js';
export type { SignInOptions } from './flows/interactive.js';
export type { SignedOutEvent, SignedOutListener } from './flows/live-sign-out.js';
export type { RedirectOutcome } from './flows/scheme-sign-in.js';
export type { SessionState } from './flows/session-state.js';
export type { RevocationOutcome, SignOutOptions, SignOutResult } from './flows/sign-out.js';
export { type AccessTokenOptions, LOST_RESPONSE_RETRY_DELAY_MS } from './flows/silent-sign-in.js';

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
  /**
   * The app's name as people know it: on the loopback page ("You are signed in — return to
   * <appName>") and in the User-Agent, so that the person's session list and the device
   * confirmation page say "Acme Desktop on Linux".
   */
  appName?: string;
  /** The app's version, in the User-Agent after its name (`Acme Desktop/2.1`). */
  appVersion?: string;
  /**
   * Loopback only: your own success and error pages instead of the built-in ones: functions
   * returning HTML, or HTML templates whose `{{appName}}` and `{{message}}` are filled with escaped text.
   */
  loopbackPages?: LoopbackPages;
  /**
   * Sender-constrained sessions (RFC 9449 DPoP): a key pair made at sign-in and kept with the session
   * signs every token request, binding the refresh and access tokens to it. On by default whenever
   * the server takes ES256 proofs; `false` asks for bearer tokens (refused by a server whose client
   * setting is `dpop: required`).
   */
  dpop?: boolean;
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
  /**
   * Calls an API with the access token (`resource` picks the audience): with a DPoP-bound token, as
   * `Authorization: DPoP` with a proof of the session's key (RFC 9449 §7), answering a
   * `use_dpop_nonce` challenge once. Resolves with the API's response, whatever its status.
   */
  fetch(url: string | URL, init?: ApiRequestInit): Promise<Response>;
  /** The stored account, without any request. */
  getAccount(): Promise<Account | undefined>;
  /**
   * Signed in or signed out, from the store alone: no request, no refresh token spent (MSAL's
   * `getAllAccounts`). The server's verdict comes with the next `signInSilently` / `getAccessToken`.
   */
  getState(): Promise<SessionState>;
  /** Revokes the refresh token, clears the store; `everywhere` also ends the browser session. */
  signOut(options?: SignOutOptions): Promise<SignOutResult>;
  /** Hands a private-use-scheme URL delivered by the OS to the sign-in waiting for it. */
  handleRedirect(url: string): Promise<RedirectOutcome>;
  /** RFC 8628 device sign-in: `onCode` shows the code and the verification URL. */
  signInWithDeviceCode(
    onCode: (info: DeviceCodeInfo) => void | Promise<void>,
    options?: DeviceCodeOptions,
  ): Promise<AuthenticationResult>;
  /**
   * `'signed-out'`: the person's session ended on the server (an administrator disabled them, they
   * signed out everywhere, their password was reset, this app's access was revoked). While a
   * listener is registered the SDK holds the server's live sign-out stream open and reports the
   * end within seconds, verified against the server's keys; the store is already cleared when the
   * listener runs. Against a server without the stream, a refused refresh reports it.
   * Returns a function that removes the listener.
   */
  on(event: 'signed-out', listener: SignedOutListener): () => void;
  off(event: 'signed-out', listener: SignedOutListener): void;
  /** Stops listeners (local socket, loopback). Pending sign-ins reject with `UserCancelledError`. */
  close(): Promise<void>;
}

/**
 * Creates the desktop client. Nothing is fetched yet: discovery happens on first use and is cached
 * on disk (`cacheDir`), so a later start can refresh with no extra request, and a start without
 * network fails with `NetworkError` (offline) rather than `InteractionRequiredError` (signed out).
 */
export async function createClient(options: ClientOptions): Promise<LatchkeyClient> {
  if (!options.issuer) throw new InvalidOptionsError('issuer is required');
  if (!options.clientId) throw new InvalidOptionsError('clientId is required');
  if (!options.store) throw new InvalidOptionsError('store is required');
  const redirect = parseRedirect(options.redirect);
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const ctx = await createContext({
    issuer: options.issuer,
    clientId: options.clientId,
    store: options.store,
    cacheDir,
    scopes: options.scopes ?? ['openid', 'email', 'profile', 'offline_access'],
    resources: options.resources ?? [],
    ...(options.fetch ? { fetch: options.fetch } : {}),
    discoveryMaxAgeSeconds: options.discoveryMaxAgeSeconds ?? 3600,
    dpop: options.dpop ?? true,
    userAgent: sdkUserAgent(options),
  });
  const lockPath = `${ctx.cachePrefix}.lock`;
  const openBrowser = options.openBrowser ?? openSystemBrowser;
  const cache = createAccessTokenCache();

  const silent = createSilentSignIn({
    ctx,
    cache,
    lockPath,
    skewMs: (options.refreshBeforeExpirySeconds ?? 60) * 1000,
  });
  let scheme: SchemeSignIn | undefined;
  let signInInteractive: (signInOptions: SignInOptions, timeoutMs: number) => Promise<AuthenticationResult>;
  if (redirect.kind === 'scheme') {
    scheme = createSchemeSignIn({
      ctx,
      cache,
      openBrowser,
      redirect,
      socketPath: options.socketPath ?? defaultSocketPath(cacheDir, ctx.issuer.href, options.clientId),
      pendingStore: new PendingStore(join(cacheDir, 'pending')),
    });
    signInInteractive = scheme.signIn;
  } else {
    signInInteractive = createLoopbackSignIn({
      ctx,
      cache,
      openBrowser,
      path: redirect.path,
      successRedirectUrl: options.successRedirectUrl,
      appName: options.appName,
      pages: options.loopbackPages,
    });
  }
  const signOut = createSignOut({ ctx, cache, openBrowser, lockPath });
  const apiFetch = createApiFetch({ ctx, silent });
  const signInWithDeviceCode = createDeviceSignIn({ ctx, cache });
  // Live sign-out (flows/live-sign-out.ts): `track` reports every sign-in and refused refresh to it.
  const signedOut = watchSignedOut({ ctx, cache, lockPath, silent });
  const track = signedOut.track;

  return {
    issuer: ctx.issuer.href,
    clientId: options.clientId,

    async signIn(signInOptions = {}) {
      // Before the browser opens: a store that cannot keep the session would waste the whole sign-in.
      await ctx.store.check?.();
      const timeoutMs = signInOptions.timeoutMs ?? DEFAULT_SIGN_IN_TIMEOUT_MS;
      return track(signInInteractive(signInOptions, timeoutMs), true);
    },

    signInSilently(request = {}) {
      return track(silent.acquireToken(request), false);
    },

    async getAccessToken(request = {}) {
      return (await track(silent.acquireToken(request), false)).accessToken;
    },

    fetch(url, init) {
      return apiFetch(url, init);
    },

    async getAccount() {
      return (await readSession(ctx))?.account;
    },

    getState() {
      return readSessionState(ctx);
    },

    signOut(signOutOptions = {}) {
      return signOut(signOutOptions);
    },

    async handleRedirect(text) {
      return scheme ? scheme.handleRedirect(text) : parseDeliveredRedirect(text, undefined);
    },

    async signInWithDeviceCode(onCode, deviceOptions = {}) {
      await ctx.store.check?.();
      return track(signInWithDeviceCode(onCode, deviceOptions), true);
    },

    on: signedOut.on,
    off: signedOut.off,

    async close() {
      signedOut.close();
      await scheme?.close();
    },
  };
}
