/**
 * The audit log's action names, for filters that must tell a typo from an action that simply has
 * no events yet (`latchkey admin audit --action`, the admin API). A module that records a new
 * action adds it here; an action missing here but present in the log is still accepted.
 */
export const AUDIT_ACTIONS = [
  // sign-in
  'route_email',
  'password',
  'passkey_sign_in',
  'second_factor',
  'enroll_2sv',
  'recovery_codes_created',
  'upstream_redirect',
  'upstream_sign_in',
  'upstream_revalidate',
  'sign_in',
  'handoff',
  'sign_out',
  'throttled',
  'refresh_family_revoked',
  // account page and reset links
  'password_change',
  'remove_2sv',
  'session_end',
  'session_end_all',
  'password_reset',
  'password_reset_link',
  // administration
  'admin_granted',
  'admin_revoked',
  'client_added',
  'client_removed',
  'connection_set',
  'connection_tested',
  'domain_added',
  'domain_removed',
  'domain_verified',
  'keys_rotated',
  'organization_added',
  'organization_removed',
  'organization_policy_set',
  'password_set',
  '2sv_reset',
  'session_revoked',
  'sessions_revoked',
  'throttle_cleared',
  'user_added',
  'user_disabled',
  'user_enabled',
] as const;
