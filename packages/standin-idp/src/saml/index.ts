export { type ParsedAuthnRequest, parseRedirectAuthnRequest } from './authn-request.js';
export { SAML_RESPONSE_VARIANTS, type SamlResponseVariant } from './responses.js';
export {
  type CraftedPost,
  type ReceivedLogoutRequest,
  type StandinSamlIdp,
  type StandinSamlIdpOptions,
  type StandinSamlUser,
  startStandinSamlIdp,
} from './saml-idp.js';
export { generateSigningKey, type SigningKey } from './signing-key.js';
