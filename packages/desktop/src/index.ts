/**
 * `@latchkey/desktop`: browser-based sign-in for desktop apps (RFC 8252, OAuth 2.0 for Native Apps),
 * silent sign-in from a rotating refresh token kept in the OS keychain, sign-out, device sign-in, and
 * the plumbing a desktop app needs around it (redirect receivers, scheme registration).
 *
 * @packageDocumentation
 */
export type { AuthorizationParameters, PendingAuthorization } from './authorization.js';
export { openSystemBrowser } from './browser.js';
export {
  type AccessTokenOptions,
  type ClientOptions,
  type LatchkeyClient,
  type RedirectOutcome,
  type SessionState,
  type SignInOptions,
  type SignOutResult,
  createClient,
} from './client.js';
export type { DeviceCodeInfo, DeviceCodeOptions } from './device.js';
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
export { type FileLock, type FileLockOptions, acquireFileLock } from './lock.js';
export { defaultCacheDir, defaultSocketPath } from './paths.js';
export { type ForwardReply, forwardRedirect, listenForRedirects } from './receivers/local-socket.js';
export {
  type LoopbackOutcome,
  type LoopbackReceiver,
  type LoopbackReceiverOptions,
  startLoopbackReceiver,
} from './receivers/loopback.js';
export {
  type SchemeRegistration,
  linuxDesktopEntry,
  linuxDesktopFileName,
  quoteExecArgument,
  quoteWindowsArgument,
  registerLinuxScheme,
  registerScheme,
  windowsSchemeRegistrationCommands,
} from './registration/index.js';
export type { Account, StoredSession } from './session.js';
export { type FileStoreOptions, createFileStore } from './stores/file-store.js';
export { type KeychainStoreOptions, createKeychainStore, isKeychainAvailable } from './stores/keychain-store.js';
export { createMemoryStore } from './stores/memory-store.js';
export type { TokenStore } from './stores/token-store.js';
export type { AuthenticationResult } from './tokens.js';
