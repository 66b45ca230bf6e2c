/**
 * `@latchkey/desktop`: browser-based sign-in for desktop apps (RFC 8252, OAuth 2.0 for Native Apps),
 * silent sign-in from a rotating refresh token kept in the OS keychain, sign-out, device sign-in, and
 * the plumbing a desktop app needs around it (redirect receivers, scheme registration).
 *
 * @packageDocumentation
 */
export type { AuthorizationParameters, PendingAuthorization } from './authorization.js';
export { browserCommandFromEnv, canOpenBrowser, openSystemBrowser } from './browser.js';
export {
  type AccessTokenOptions,
  type ClientOptions,
  createClient,
  type LatchkeyClient,
  type RedirectOutcome,
  type RevocationOutcome,
  type SessionState,
  type SignedOutEvent,
  type SignedOutListener,
  type SignInOptions,
  type SignOutOptions,
  type SignOutResult,
} from './client.js';
export type { DeviceCodeInfo, DeviceCodeOptions } from './device.js';
export type { StoredDpopKey } from './dpop.js';
export {
  ErrorCode,
  InteractionRequiredError,
  InvalidOptionsError,
  LatchkeyError,
  NetworkError,
  NoPendingSignInError,
  OAuthError,
  StoreUnavailableError,
  TimeoutError,
  UnexpectedResponseError,
  UnsupportedError,
  UserCancelledError,
} from './errors.js';
export { acquireFileLock, type FileLock, type FileLockOptions } from './lock.js';
export { defaultCacheDir, defaultSocketPath } from './paths.js';
export { type ForwardReply, forwardRedirect, listenForRedirects } from './receivers/local-socket.js';
export {
  type LoopbackOutcome,
  type LoopbackReceiver,
  type LoopbackReceiverOptions,
  startLoopbackReceiver,
} from './receivers/loopback.js';
export { escapeHtml, type LoopbackPage, type LoopbackPages } from './receivers/loopback-pages.js';
export {
  linuxDesktopEntry,
  linuxDesktopFileName,
  quoteExecArgument,
  quoteWindowsArgument,
  registerLinuxScheme,
  registerScheme,
  type SchemeRegistration,
  windowsSchemeRegistrationCommands,
} from './registration/index.js';
export type { Account, StoredSession } from './session.js';
export { createFileStore, type FileStoreOptions } from './stores/file-store.js';
export {
  createKeychainStore,
  isKeychainAvailable,
  type KeychainStoreOptions,
} from './stores/keychain-store.js';
export { createMemoryStore } from './stores/memory-store.js';
export type { TokenStore } from './stores/token-store.js';
export type { AuthenticationResult } from './tokens.js';
