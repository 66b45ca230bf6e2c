/**
 * Scopes and the claims they release (OIDC Core §5.4). `org_id` and `groups` are Latchkey's own;
 * `amr`/`acr` reach the ID token only when listed under `openid` (oidc-provider's claims configuration).
 */
export const SCOPES = ['openid', 'offline_access', 'email', 'profile', 'groups'];

export const CLAIMS = {
  openid: ['sub', 'amr', 'acr', 'org_id'],
  email: ['email', 'email_verified'],
  profile: ['name', 'preferred_username'],
  groups: ['groups'],
};
