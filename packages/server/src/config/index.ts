export { parseDuration } from './durations.js';
export { ConfigError, type ConfigIssue } from './errors.js';
export { type LoadConfigOptions, loadConfig } from './load.js';
export { generatedSecretPath, MIN_SECRET_LENGTH } from './operator-secret.js';
export { redactConfig } from './redact.js';
export {
  type ClientKind,
  checkRedirectUri,
  isLoopbackHost,
  isLoopbackRedirect,
  isPrivateUseScheme,
  redirectUriMatches,
} from './redirect-uris.js';
export type * from './types.js';
