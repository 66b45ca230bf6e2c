import type { ClientConfig } from '../config/types.js';
import { messages } from '../pages/messages.js';

/** The built-in client the account page signs in through (a web client at this issuer). */
export const ACCOUNT_CLIENT_ID = 'latchkey-account';

/** Its registration, applied at every start (main/assemble.ts) so the issuer in its redirect URI is current. */
export function accountClient(issuer: string): ClientConfig {
  return {
    id: ACCOUNT_CLIENT_ID,
    name: messages.accountTitle,
    kind: 'web',
    redirectUris: [`${issuer}/account/callback`],
    postLogoutRedirectUris: [],
    deviceFlow: false,
    tokenEndpointAuthMethod: 'none',
    idTokenSignedResponseAlg: 'ES256',
  };
}
