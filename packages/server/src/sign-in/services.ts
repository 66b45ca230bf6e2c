import type Provider from 'oidc-provider';
import type { LatchkeyConfig, OrganizationPolicy } from '../config/types.js';
import type { Csrf } from '../web/csrf.js';
import type { Throttle } from '../domain/throttle/throttle.js';

/** An organization as routing and sign-in see it. */
export interface OrganizationView {
  id: string;
  name: string;
  policy: OrganizationPolicy;
  connection: { id: string; type: 'local' | 'google' | 'oidc' | 'saml' };
  domains: string[];
}

export interface UserView {
  id: string;
  organizationId: string;
  email: string | null;
  name: string | null;
  status: 'active' | 'disabled';
}

/** Per-interaction sign-in progress, kept server-side (FACTS.md: the engine's record can't hold it). */
export interface SignInState {
  email?: string;
  organizationId?: string;
  /** Absent for an unknown email: the flow continues identically so nothing reveals it. */
  userId?: string;
  step?: 'password' | 'second-factor' | 'enroll' | 'recovery-codes' | 'upstream';
  /** Authentication methods passed so far (RFC 8176 values). */
  amr?: string[];
  /** "Not you?" was chosen on the handoff page: sign someone in instead of the session's user. */
  switching?: boolean;
  /** A message to show once on the next page (e.g. recovery codes left). */
  notice?: string;
  /** Free-form data of the current step (e.g. a WebAuthn challenge, an enrollment secret). */
  data?: Record<string, unknown>;
}

export interface AuditInput {
  action: string;
  outcome: 'success' | 'failure' | 'info';
  userId?: string | undefined;
  organizationId?: string | undefined;
  clientId?: string | undefined;
  actor?: string | undefined;
  ip?: string | undefined;
  userAgent?: string | undefined;
  details?: Record<string, unknown> | undefined;
}

/** Everything the sign-in pages need, assembled once in http/app.ts. */
export interface LoginServices {
  config: LatchkeyConfig;
  provider(): Provider;
  csrf: Csrf;
  organizations: {
    forDomain(domain: string): Promise<OrganizationView | undefined>;
    byId(id: string): Promise<OrganizationView | undefined>;
  };
  users: {
    byEmail(email: string): Promise<UserView | undefined>;
    byId(id: string): Promise<UserView | undefined>;
    touchSignIn(id: string): Promise<void>;
  };
  passwords: {
    /** Verifies the password of a user, or spends the same time on a dummy hash when `userId` is absent. */
    verify(userId: string | undefined, password: string): Promise<boolean>;
  };
  states: {
    get(uid: string): Promise<SignInState | undefined>;
    put(uid: string, state: SignInState): Promise<void>;
    delete(uid: string): Promise<void>;
  };
  audit(event: AuditInput): Promise<void>;
  /** Password and 2-step verification attempts (DESIGN §5); absent only in isolated view tests. */
  throttle?: Throttle;
}
