import { ADMIN_CONSOLE_CLIENT_ID } from '../admin/resources.js';
import type { ClientConfig } from '../config/types.js';

export const CONSOLE_NAME = 'Latchkey Admin Console';

/** `<issuer>/admin/callback`: where the engine sends the console's authorization code. */
export function consoleRedirectUri(issuer: string): string {
  return `${issuer}/admin/callback`;
}

/**
 * The console's registration (a public web client using PKCE), applied at every start by
 * main/assemble.ts so its redirect URI follows the issuer. The id is the one the admin API resource
 * admits (admin/resources.ts), so its access tokens carry the `admin` scope.
 */
export function consoleClient(issuer: string): ClientConfig {
  return {
    id: ADMIN_CONSOLE_CLIENT_ID,
    name: CONSOLE_NAME,
    kind: 'web',
    redirectUris: [consoleRedirectUri(issuer)],
    postLogoutRedirectUris: [],
    deviceFlow: false,
    tokenEndpointAuthMethod: 'none',
    idTokenSignedResponseAlg: 'ES256',
  };
}

/** `LATCHKEY_ADMIN_CONSOLE=off` leaves /admin out (the admin API stays). */
export function consoleEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return !/^(0|off|false|no)$/i.test(env.LATCHKEY_ADMIN_CONSOLE ?? '');
}
