import type { Repositories } from '../../storage/repositories.js';
import { generateRecoveryCodes, hashRecoveryCode } from './recovery-codes.js';
import { verifyTotp } from './totp.js';

/** What recovery codes need: the credentials table and the pepper of their hashes. */
export interface RecoveryCodeDeps {
  credentials: Pick<Repositories['credentials'], 'replaceRecoveryCodes'>;
  /** Derived from the operator secret: stored hashes are worthless without it (recovery-codes.ts). */
  recoveryCodeKey: Buffer;
}

/** Ten fresh recovery codes replacing the user's old ones; returns them for showing once. */
export async function createRecoveryCodes(deps: RecoveryCodeDeps, userId: string): Promise<string[]> {
  const codes = generateRecoveryCodes();
  await deps.credentials.replaceRecoveryCodes(
    userId,
    codes.map((c) => hashRecoveryCode(c, deps.recoveryCodeKey)),
  );
  return codes;
}

/**
 * Checks a TOTP code of the user's authenticator and spends its time step with a compare-and-set
 * in the database, so a code is accepted once even when two processes see it at the same moment.
 */
export async function verifyTotpForUser(
  credentials: Pick<Repositories['credentials'], 'totp' | 'acceptTotpStep'>,
  userId: string,
  code: string,
): Promise<{ ok: true } | { ok: false; reason: 'invalid' | 'replayed' | 'not_enrolled' }> {
  const credential = await credentials.totp(userId);
  if (!credential) return { ok: false, reason: 'not_enrolled' };
  const result = await verifyTotp({ secret: credential.secret, code, lastUsedStep: credential.lastStep });
  if (!result.ok) return result;
  const accepted = await credentials.acceptTotpStep(credential.id, credential.lastStep, result.step);
  return accepted ? { ok: true } : { ok: false, reason: 'replayed' };
}

export type SecondFactorMethod = 'totp' | 'passkey' | 'recovery';

export interface UserMethods {
  totp: boolean;
  passkeys: number;
  recoveryCodes: number;
}

export function availableMethods(methods: UserMethods): SecondFactorMethod[] {
  const out: SecondFactorMethod[] = [];
  if (methods.totp) out.push('totp');
  if (methods.passkeys > 0) out.push('passkey');
  if (methods.recoveryCodes > 0) out.push('recovery');
  return out;
}

/**
 * The method offered first: the one used most recently (TOTP or passkey, from the credentials'
 * `last_used_at`), else a passkey, else TOTP. Recovery codes are never the default: they are for
 * when the others are lost.
 */
export function preferredMethod(
  methods: UserMethods,
  lastUsed: { totp: number | null; passkey: number | null },
): SecondFactorMethod | undefined {
  const available = availableMethods(methods);
  if (available.includes('totp') && available.includes('passkey')) {
    if ((lastUsed.totp ?? -1) > (lastUsed.passkey ?? -1)) return 'totp';
    return 'passkey';
  }
  return available[0];
}

/** WebAuthn's relying party: the issuer's host name (no port) and its origin. */
export function relyingParty(issuer: string): { rpId: string; origin: string } {
  const url = new URL(issuer);
  return { rpId: url.hostname, origin: url.origin };
}
