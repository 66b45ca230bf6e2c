import { importJWK, type JWK, SignJWT } from 'jose';
import type { SessionEnd, SessionEndReason } from '../domain/live-sessions.js';
import type { ProtocolKeys } from './keys.js';

/**
 * The live sign-out event as a Security Event Token (RFC 8417), modelled on the OpenID Shared
 * Signals CAEP `session-revoked` event: a JWT signed with the server's current ES256 key (the one
 * ID tokens are signed with), so an app, or later a Shared Signals receiver, verifies it offline
 * against /jwks. `typ` is `secevent+jwt` (RFC 8417 §2.3) so it can never pass for an ID or access
 * token, and it carries no `sub` or `exp` claim for the same reason (§2.2); the subject is a
 * subject identifier (RFC 9493) in `sub_id`.
 */
export const SESSION_REVOKED_EVENT = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
export const SET_TYPE = 'secevent+jwt';

/** CAEP `initiating_entity`: who caused the end. */
const INITIATED_BY: Record<SessionEndReason, 'admin' | 'user' | 'policy' | 'system'> = {
  user_disabled: 'admin',
  sessions_revoked: 'admin',
  two_step_reset: 'admin',
  signed_out_everywhere: 'user',
  grant_revoked: 'user',
  password_changed: 'user',
  password_reset: 'user',
  upstream_revoked: 'policy',
  refresh_token_reuse: 'policy',
};

/** CAEP `reason_user` / `reason_admin` (English; the SDK gives the app the code in `latchkey_reason`). */
const REASON_TEXT: Record<SessionEndReason, string> = {
  user_disabled: 'The account was disabled by an administrator.',
  sessions_revoked: 'An administrator signed the account out everywhere.',
  two_step_reset: 'An administrator reset the account’s two-step verification.',
  signed_out_everywhere: 'You signed out everywhere.',
  grant_revoked: 'This app’s access was revoked.',
  password_changed: 'The account’s password was changed.',
  password_reset: 'The account’s password was reset.',
  upstream_revoked: 'Your organization’s sign-in no longer accepts the account.',
  refresh_token_reuse: 'This app’s sign-in was used from elsewhere and has been ended for safety.',
};

export interface SessionRevokedInput {
  issuer: string;
  /** The app the event is for (`aud`). */
  clientId: string;
  end: SessionEnd;
}

/** Signs SETs with the key set as it is now (keys rotate under a running server). */
export function createSessionRevokedSigner(keys: Pick<ProtocolKeys, 'jwks'>) {
  const imported = new Map<string, CryptoKey | Uint8Array>();
  const keyFor = async (jwk: JWK) => {
    const kid = jwk.kid as string;
    let key = imported.get(kid);
    if (!key) {
      key = await importJWK(jwk, 'ES256');
      if (imported.size > 16) imported.clear();
      imported.set(kid, key);
    }
    return key;
  };
  return async ({ issuer, clientId, end }: SessionRevokedInput): Promise<string> => {
    // The first ES256 key in signing order is the active one (protocol/keys.ts).
    const jwk = keys.jwks().keys.find((k) => k.alg === 'ES256');
    if (!jwk?.kid) throw new Error('no ES256 signing key');
    return new SignJWT({
      jti: end.id,
      aud: clientId,
      sub_id: { format: 'iss_sub', iss: issuer, sub: end.accountId },
      events: {
        [SESSION_REVOKED_EVENT]: {
          event_timestamp: Math.floor(end.at / 1000),
          initiating_entity: INITIATED_BY[end.reason],
          reason_admin: { en: REASON_TEXT[end.reason] },
          reason_user: { en: REASON_TEXT[end.reason] },
          latchkey_reason: end.reason,
        },
      },
    })
      .setProtectedHeader({ alg: 'ES256', kid: jwk.kid, typ: SET_TYPE })
      .setIssuer(issuer)
      .setIssuedAt()
      .sign(await keyFor(jwk));
  };
}

export type SessionRevokedSigner = ReturnType<typeof createSessionRevokedSigner>;
