export {
  type ConnectorSource,
  createConnectorSource,
  type OrganizationWithConnection,
  samlStores,
  upstreamUrls,
} from './connector-source.js';
export { type LinkInput, type LinkRefusal, type LinkResult, linkIdentity, trustedEmail } from './link.js';
export { createRevalidator, type RevalidationOutcome, type Revalidator } from './revalidate.js';
