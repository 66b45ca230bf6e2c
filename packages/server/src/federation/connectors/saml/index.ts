export { NAMEID_FORMAT, type SamlLoginHintBinding } from './authn-request.js';
export { type IdpMetadata, parseIdpMetadata, SamlMetadataError } from './idp-metadata.js';
export {
  createSamlConnector,
  type SamlAttributeMapping,
  type SamlConnector,
  type SamlConnectorDeps,
  type SamlConnectorOptions,
} from './saml-connector.js';
export {
  createInMemorySamlReplayStore,
  createInMemorySamlRequestStore,
  type SamlReplayStore,
  type SamlRequestStore,
} from './stores.js';
