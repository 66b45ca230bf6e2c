/**
 * Row types of every table (docs/ARCHITECTURE.md, "Database"). Times are epoch milliseconds (bigint
 * on PostgreSQL, read back as numbers); JSON is text; encrypted columns hold SecretBox values.
 * Kysely's own migration tables are not listed: nothing but the Migrator touches them.
 */
import type { Generated } from 'kysely';
export interface Schema {
  meta: { key: string; value: string };
  organizations: { id: string; name: string; policy: string; created_at: number; updated_at: number };
  domains: {
    domain: string;
    organization_id: string;
    verification_token: string | null;
    verified_at: number | null;
    created_at: number;
  };
  connections: {
    id: string;
    organization_id: string;
    type: string;
    settings: string;
    secrets: string | null;
    created_at: number;
    updated_at: number;
  };
  resources: {
    id: string;
    name: string;
    scopes: string;
    access_token_ttl: number | null;
    created_at: number;
  };
  users: {
    id: string;
    organization_id: string;
    email: string | null;
    email_normalized: string | null;
    name: string | null;
    status: 'active' | 'disabled';
    created_at: number;
    updated_at: number;
    last_sign_in_at: number | null;
  };
  identities: {
    id: string;
    user_id: string;
    connection_id: string;
    subject: string;
    email: string | null;
    profile: string;
    /** Encrypted (SecretBox, bound to `identities:<id>`). */
    upstream_refresh_token: string | null;
    last_authenticated_at: number;
    last_validated_at: number;
    created_at: number;
  };
  credentials: {
    id: string;
    user_id: string;
    type: 'password' | 'totp' | 'webauthn' | 'recovery_code';
    secret: string | null;
    lookup: string | null;
    data: string;
    created_at: number;
    last_used_at: number | null;
    used_at: number | null;
  };
  clients: {
    id: string;
    name: string;
    kind: 'native' | 'web';
    metadata: string;
    secret: string | null;
    source: 'config' | 'admin';
    created_at: number;
    updated_at: number;
  };
  signing_keys: {
    kid: string;
    use: 'sig' | 'cookie';
    alg: string;
    material: string;
    activates_at: number;
    retires_at: number | null;
    expires_at: number | null;
    created_at: number;
  };
  audit_events: {
    id: string;
    at: number;
    action: string;
    outcome: 'success' | 'failure' | 'info';
    actor: string | null;
    user_id: string | null;
    organization_id: string | null;
    client_id: string | null;
    ip: string | null;
    user_agent: string | null;
    details: string;
  };
  oidc_records: {
    model: string;
    id: string;
    payload: string;
    grant_id: string | null;
    account_id: string | null;
    uid: string | null;
    user_code: string | null;
    expires_at: number | null;
    consumed_at: number | null;
    grace_used_at: number | null;
    /** A refresh token the reuse grace replaced (the successor of a forgiven token): presenting it is a fork. */
    superseded_at: number | null;
    created_at: number;
    /** Where the engine request that last saved the record came from (0005); null outside a request. */
    ip: string | null;
    user_agent: string | null;
    /** When the record was last saved (0005); null for records saved before it. */
    updated_at: number | null;
  };
  sign_in_states: { id: string; data: string; expires_at: number };
  upstream_requests: {
    id: string;
    connection_id: string;
    interaction_uid: string;
    data: string;
    expires_at: number;
    consumed_at: number | null;
  };
  replay_cache: { key: string; expires_at: number };
  /** Live sign-out's outbox on SQLite (storage/session-ends.ts); `seq` is the commit order. */
  session_end_events: { seq: Generated<number>; payload: string; created_at: number; expires_at: number };
  action_tokens: {
    token_hash: string;
    kind: string;
    user_id: string;
    expires_at: number;
    used_at: number | null;
    created_at: number;
  };
  scim_tokens: {
    id: string;
    organization_id: string;
    /** SHA-256 (base64url) of the bearer token: the token itself is shown once and never stored. */
    token_hash: string;
    label: string | null;
    created_by: string | null;
    created_at: number;
    last_used_at: number | null;
    revoked_at: number | null;
  };
  scim_users: {
    user_id: string;
    organization_id: string;
    external_id: string | null;
    /** JSON: the SCIM attributes the client sent (name, displayName, emails, …). */
    attributes: string;
    /** Bumped on every change: the resource's ETag (RFC 7644 §3.14). */
    version: number;
    created_at: number;
    updated_at: number;
    /** Set by a SCIM DELETE: the user is disabled and out of the SCIM view; a later POST revives it. */
    deleted_at: number | null;
  };
  scim_groups: {
    id: string;
    organization_id: string;
    display_name: string;
    external_id: string | null;
    version: number;
    created_at: number;
    updated_at: number;
  };
  scim_group_members: { group_id: string; user_id: string; created_at: number };
  administrators: {
    /** `<user id>:<organization id or *>` */
    id: string;
    user_id: string;
    /** null: instance administrator */
    organization_id: string | null;
    source: 'config' | 'admin';
    granted_by: string | null;
    created_at: number;
  };
}
