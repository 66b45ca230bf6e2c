import type { Account, KoaContextWithOIDC } from 'oidc-provider';
import type { LifetimesConfig, OrganizationPolicy } from '../config/types.js';
import { policyAllowsClient } from '../domain/directory.js';

/** The slice of a user the engine needs; loaded by `AccountSource`. */
export interface AccountRecord {
  id: string;
  organizationId: string;
  email?: string | null | undefined;
  emailVerified: boolean;
  name?: string | null | undefined;
  /**
   * OpenID Connect's `preferred_username` (Core §5.1): the upstream's for a federated user when it
   * sent one, else the email. MSAL shows it as the signed-in account's name. Never a key.
   */
  preferredUsername?: string | undefined;
  groups: string[];
  status: 'active' | 'disabled';
}

export interface AccountSource {
  findAccountRecord(id: string): Promise<AccountRecord | undefined>;
  /** Synchronous: oidc-provider's ttl functions are synchronous and cannot wait for the database. */
  policyFor(organizationId: string): OrganizationPolicy | undefined;
  /** The longest refresh-token absolute lifetime any organization allows (seconds). */
  longestAbsoluteLifetime(): number;
  /**
   * Called on every refresh grant before tokens are issued; resolves false when the account must
   * sign in again (e.g. the upstream IdP refused it). Optional: local-only deployments skip it.
   */
  revalidateOnRefresh?(record: AccountRecord, ctx: KoaContextWithOIDC): Promise<boolean>;
}

export interface LatchkeyAccount extends Account {
  record: AccountRecord;
  policy: OrganizationPolicy | undefined;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * Maps Latchkey users to the engine's account model and decides token lifetimes per organization.
 * A disabled or deleted user has no account: every grant that needs one (refresh, userinfo, device)
 * fails with `invalid_grant`, which is how "disable" takes effect immediately.
 */
export class AccountStore {
  constructor(
    private readonly source: AccountSource,
    private readonly lifetimes: LifetimesConfig,
  ) {}

  async findAccount(
    ctx: KoaContextWithOIDC,
    sub: string,
    _token?: unknown,
  ): Promise<LatchkeyAccount | undefined> {
    const record = await this.source.findAccountRecord(sub);
    if (record?.status !== 'active') return undefined;
    if (
      this.source.revalidateOnRefresh &&
      ctx?.oidc?.route === 'token' &&
      ctx.oidc.params?.grant_type === 'refresh_token' &&
      !(await this.source.revalidateOnRefresh(record, ctx))
    ) {
      return undefined;
    }
    const policy = this.source.policyFor(record.organizationId);
    // The organization's allowed apps hold at every grant, not only when signing in: an app the
    // policy stopped allowing gets no tokens from a refresh token it still holds (invalid_grant).
    const clientId = ctx?.oidc?.client?.clientId;
    if (ctx?.oidc?.route === 'token' && clientId && policy && !policyAllowsClient(policy, clientId)) {
      return undefined;
    }
    return {
      accountId: record.id,
      record,
      policy,
      claims: async () => ({
        sub: record.id,
        email: record.email ?? undefined,
        email_verified: record.email ? record.emailVerified : undefined,
        name: record.name ?? undefined,
        preferred_username: record.preferredUsername ?? record.email ?? undefined,
        groups: record.groups,
        org_id: record.organizationId,
      }),
    };
  }

  /** RFC 9068 access tokens carry the organization and groups next to `sub`, `aud` and `scope`. */
  async extraAccessTokenClaims(
    ctx: KoaContextWithOIDC,
    token: { accountId?: string; resourceServer?: unknown },
  ) {
    if (!token.resourceServer || !token.accountId) return undefined;
    const cached = ctx.oidc.entities.Account as LatchkeyAccount | undefined;
    const record =
      cached?.accountId === token.accountId
        ? cached.record
        : await this.source.findAccountRecord(token.accountId);
    if (!record) return undefined;
    return { org_id: record.organizationId, groups: record.groups };
  }

  #policyOf(ctx: KoaContextWithOIDC | undefined): { idle: number; absolute: number } {
    const account = ctx?.oidc?.entities?.Account as LatchkeyAccount | undefined;
    const policy = account?.policy;
    return {
      idle: policy?.refreshIdleTtl ?? this.lifetimes.refreshIdle,
      absolute: policy?.refreshAbsoluteTtl ?? this.lifetimes.refreshAbsolute,
    };
  }

  /**
   * Idle lifetime, capped by what is left of the absolute lifetime counted from the first issue of
   * the chain (`iiat`), so rotation can never extend a sign-in past the organization's maximum.
   */
  refreshTokenTtl(ctx: KoaContextWithOIDC | undefined, token: { iiat?: number }): number {
    const { idle, absolute } = this.#policyOf(ctx);
    const started = token.iiat ?? nowSeconds();
    const remaining = started + absolute - nowSeconds();
    return Math.max(1, Math.min(idle, remaining));
  }

  grantTtl(_ctx: KoaContextWithOIDC | undefined): number {
    return Math.max(this.lifetimes.refreshAbsolute, this.source.longestAbsoluteLifetime());
  }
}
