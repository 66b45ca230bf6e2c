export {
  DEFAULT_ENTRA_TENANT_ID,
  entraPairwiseSubject,
  type StandinProfile,
  type StandinUser,
} from './accounts.js';
export {
  CookieJar,
  HeadlessSignInError,
  type HeadlessSignInOptions,
  type HeadlessSignInResult,
  signInHeadless,
} from './headless.js';
export type { SignInStep } from './pages.js';
export * from './saml/index.js';
export {
  type RecordedRequest,
  type StandinClient,
  type StandinIdp,
  type StandinIdpOptions,
  startStandinIdp,
} from './standin-idp.js';
export { totpCode } from './totp.js';
