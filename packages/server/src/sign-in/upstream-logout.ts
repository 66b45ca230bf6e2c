import type { SamlConnector } from '../federation/connectors/saml/index.js';
import type { Repositories } from '../storage/repositories.js';
import type { SignInDeps } from './deps.js';

export interface SpLogoutDeps {
  users: Pick<Repositories['users'], 'findById' | 'identitiesOf'>;
  organizationDetails: SignInDeps['organizationDetails'];
  connectors: SignInDeps['connectors'];
}

/**
 * SP-initiated SAML single logout: when a person signs out at Latchkey, the IdP's SingleLogoutService
 * URL carrying a signed LogoutRequest for the NameID and SessionIndex of their last sign-in through
 * their organization's SAML connection. Undefined when there is nothing to end upstream (no SAML
 * connection, no identity on it, or a connection without single logout).
 */
export async function spLogoutUrl(deps: SpLogoutDeps, accountId: string): Promise<string | undefined> {
  const user = await deps.users.findById(accountId);
  if (!user?.organizationId) return undefined;
  const org = await deps.organizationDetails(user.organizationId);
  if (org?.connection?.type !== 'saml') return undefined;
  const identity = (await deps.users.identitiesOf(user.id)).find(
    (i) => i.connectionId === org.connection?.id,
  );
  if (!identity) return undefined;
  const connector = (await deps.connectors.forOrganization(org)) as SamlConnector | undefined;
  if (!connector || !('startLogout' in connector)) return undefined;
  const session = identity.profile.saml_session as
    | { nameIdFormat?: string | undefined; sessionIndex?: string | undefined }
    | undefined;
  return connector.startLogout({
    subject: identity.subject,
    nameIdFormat: session?.nameIdFormat,
    sessionIndex: session?.sessionIndex,
  });
}
