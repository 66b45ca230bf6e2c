import { createHash } from 'node:crypto';

/** Which real IdP the stand-in imitates: the claims it issues and the look of its pages. */
export type StandinProfile = 'google' | 'entra';

export interface StandinUser {
  email: string;
  password: string;
  /** Base32 TOTP secret; when present the user passes a 2-step verification page after the password. */
  totpSecret?: string | undefined;
  name?: string | undefined;
  /** Whether the IdP vouches for the email (`email_verified` for Google, `xms_edov` for Entra). Default true. */
  emailVerified?: boolean | undefined;
  /** Google Workspace hosted domain (`hd` claim). Default: the email's domain; `''` omits the claim. */
  hd?: string | undefined;
  /** Entra `groups` claim. */
  groups?: string[] | undefined;
  /** The stable account id: Google's `sub`, Entra's `oid`. Default: derived from the email. */
  subject?: string | undefined;
  /** Entra's `preferred_username` (the UPN, which may differ from the email). Default: the email. */
  username?: string | undefined;
}

export interface StandinAccount {
  readonly user: StandinUser;
  /** The id oidc-provider knows the account by (Google `sub`, Entra `oid`). */
  readonly accountId: string;
  disabled: boolean;
}

/** A fixed tenant id for the Entra profile, used when the options name none. */
export const DEFAULT_ENTRA_TENANT_ID = '5d9b3c2a-7e41-4f0b-9c6d-2a1e8f4b7c30';

function digest(input: string): Buffer {
  return createHash('sha256').update(input).digest();
}

/** Google subjects are opaque decimal strings of about 21 digits, stable per account. */
function googleLikeSubject(email: string): string {
  const n = BigInt(`0x${digest(`google-sub:${email}`).subarray(0, 9).toString('hex')}`);
  return `1${n.toString().padStart(20, '0').slice(0, 20)}`;
}

/** Entra object ids are GUIDs, stable per account across applications. */
function entraObjectId(email: string): string {
  const h = digest(`entra-oid:${email}`).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * Entra's `sub` is pairwise: the same person has a different `sub` in every application, which is why
 * Latchkey keys Entra accounts by `tid`+`oid` instead.
 */
export function entraPairwiseSubject(oid: string, clientId: string): string {
  return digest(`entra-sub:${oid}:${clientId}`).toString('base64url');
}

export function emailDomain(email: string): string {
  return email.slice(email.lastIndexOf('@') + 1).toLowerCase();
}

/** The accounts of one stand-in, found by email (as typed) or by account id (as oidc-provider asks). */
export class AccountDirectory {
  readonly #byEmail = new Map<string, StandinAccount>();
  readonly #byId = new Map<string, StandinAccount>();

  constructor(
    users: readonly StandinUser[],
    readonly profile: StandinProfile,
  ) {
    for (const user of users) {
      const email = user.email.toLowerCase();
      const accountId =
        user.subject ?? (profile === 'entra' ? entraObjectId(email) : googleLikeSubject(email));
      const account: StandinAccount = { user, accountId, disabled: false };
      this.#byEmail.set(email, account);
      this.#byId.set(accountId, account);
    }
  }

  byEmail(email: string): StandinAccount | undefined {
    return this.#byEmail.get(email.trim().toLowerCase());
  }

  /** Disabled accounts are not found: oidc-provider then refuses their codes and refresh tokens. */
  activeById(accountId: string): StandinAccount | undefined {
    const account = this.#byId.get(accountId);
    return account && !account.disabled ? account : undefined;
  }

  setDisabled(email: string, disabled: boolean): void {
    const account = this.byEmail(email);
    if (!account) throw new Error(`stand-in IdP: no user ${email}`);
    account.disabled = disabled;
  }
}

/** The claims the imitated IdP puts in its ID token (before oidc-provider filters them by scope). */
export function claimsFor(
  account: StandinAccount,
  profile: StandinProfile,
  tenantId: string,
): Record<string, unknown> {
  const { user } = account;
  const email = user.email.toLowerCase();
  const verified = user.emailVerified ?? true;
  if (profile === 'entra') {
    // Entra sends `email` whether or not the domain owner verified it (the "nOAuth" trap); only the
    // optional `xms_edov` claim says whether it is verified. There is no `email_verified`.
    return {
      sub: account.accountId,
      ver: '2.0',
      tid: tenantId,
      oid: account.accountId,
      email,
      xms_edov: verified,
      preferred_username: user.username ?? email,
      name: user.name,
      groups: user.groups ?? [],
    };
  }
  const hd = user.hd ?? emailDomain(email);
  return {
    sub: account.accountId,
    email,
    email_verified: verified,
    name: user.name,
    ...(hd ? { hd } : {}),
  };
}
