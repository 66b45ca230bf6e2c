import type { Backend } from '../../main/backend.js';
import { generateRecoveryCodes, hashRecoveryCode, verifyTotp } from './index.js';

/** The pepper of stored recovery code hashes (mfa/recovery-codes.ts: worthless without the operator secret). */
export function recoveryCodeKey(backend: Pick<Backend, 'deriveKey'>): Buffer {
  return backend.deriveKey('latchkey/recovery-codes');
}

/** Ten fresh recovery codes replacing the user's old ones; returns them for showing once. */
export async function createRecoveryCodes(
  backend: Pick<Backend, 'deriveKey' | 'repos'>,
  userId: string,
): Promise<string[]> {
  const codes = generateRecoveryCodes();
  const key = recoveryCodeKey(backend);
  await backend.repos.credentials.replaceRecoveryCodes(
    userId,
    codes.map((c) => hashRecoveryCode(c, key)),
  );
  return codes;
}

/**
 * Checks a TOTP code of the user's authenticator and spends its time step with a compare-and-set
 * in the database, so a code is accepted once even when two processes see it at the same moment.
 */
export async function verifyTotpForUser(
  repos: Backend['repos'],
  userId: string,
  code: string,
): Promise<{ ok: true } | { ok: false; reason: 'invalid' | 'replayed' | 'not_enrolled' }> {
  const credential = await repos.credentials.totp(userId);
  if (!credential) return { ok: false, reason: 'not_enrolled' };
  const result = await verifyTotp({ secret: credential.secret, code, lastUsedStep: credential.lastStep });
  if (!result.ok) return result;
  const accepted = await repos.credentials.acceptTotpStep(credential.id, credential.lastStep, result.step);
  return accepted ? { ok: true } : { ok: false, reason: 'replayed' };
}
