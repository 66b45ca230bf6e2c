import type Provider from 'oidc-provider';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Audit } from '../domain/audit.js';
import type { OrganizationDirectory, UserDirectory } from '../domain/directory.js';
import type { PasswordCheck } from '../domain/passwords/password-check.js';
import type { Throttle } from '../domain/throttle/throttle.js';
import type { ConnectorSource, OrganizationWithConnection } from '../federation/connector-source.js';
import type { LinkInput, LinkResult } from '../federation/link.js';
import type { Brands } from '../pages/brand-assets.js';
import type { Repositories } from '../storage/repositories.js';
import type { Csrf } from '../web/csrf.js';
import type { SignInStateStore } from './state.js';

/**
 * Everything the sign-in steps use, each step taking only its own slice (`Pick<SignInDeps, …>`).
 * Assembled once, by the composition root (main/assemble.ts).
 */
export interface SignInDeps {
  issuer: string;
  /** Where an email of no organization's domain goes, when configured. */
  defaultOrganization?: string | undefined;
  /** The protocol engine of the moment (rebuilt when the signing keys change). */
  engine(): Provider;
  csrf: Csrf;
  organizations: OrganizationDirectory;
  users: UserDirectory;
  passwords: PasswordCheck;
  throttle: Throttle;
  audit: Audit;
  states: SignInStateStore;
  credentials: Repositories['credentials'];
  /** Pepper of recovery code hashes (derived from the operator secret). */
  recoveryCodeKey: Buffer;
  secretBox: SecretBox;
  connectors: ConnectorSource;
  upstreamRequests: Repositories['upstreamRequests'];
  /** An organization with its connection's settings and secrets, for building its connector. */
  organizationDetails(id: string): Promise<(OrganizationWithConnection & { name: string }) | undefined>;
  /** Every organization with its connection (the SAML metadata route finds a connection by id). */
  allOrganizationDetails(): Promise<(OrganizationWithConnection & { name: string })[]>;
  linkIdentity(input: LinkInput): Promise<LinkResult>;
  /** The configured brands (pages/brand-assets.ts); absent: Latchkey's own look. */
  brands?: Brands | undefined;
}
