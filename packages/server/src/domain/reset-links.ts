import { createHash, randomBytes } from 'node:crypto';
import type { Repositories } from '../storage/repositories.js';
import type { Audit } from './audit.js';

const KIND = 'password_reset';
/**
 * A reset link is handed over by an administrator, often by chat where others may read it: it
 * lives an hour, is used once, and a newer link for the same person retires the older ones.
 */
export const RESET_LINK_TTL_MS = 60 * 60_000;

/** Only the hash is stored, so a database reader cannot use a pending link. */
function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

export interface ResetLinkDeps {
  actionTokens: Repositories['actionTokens'];
  audit: Audit;
  issuer: string;
}

/**
 * A one-time link that lets the user set a new password (printed by `latchkey admin`; no mail
 * server needed). 256 random bits; stored hashed in `action_tokens`; valid one hour; the newest
 * link of a person is the only one that works.
 */
export async function createPasswordResetLink(
  deps: ResetLinkDeps,
  userId: string,
  actor?: string,
): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await deps.actionTokens.create({
    tokenHash: tokenHash(token),
    kind: KIND,
    userId,
    expiresAt: Date.now() + RESET_LINK_TTL_MS,
  });
  await deps.audit({ action: 'password_reset_link', outcome: 'info', userId, actor });
  return `${deps.issuer.replace(/\/$/, '')}/reset/${token}`;
}

/** The user a pending link belongs to, without using it up. */
export async function peekResetLink(
  actionTokens: Repositories['actionTokens'],
  token: string,
): Promise<string | undefined> {
  return (await actionTokens.peek(tokenHash(token), KIND))?.userId;
}

/** Uses the link up (once, even under a race); the user it belonged to, or undefined. */
export async function consumeResetLink(
  actionTokens: Repositories['actionTokens'],
  token: string,
): Promise<string | undefined> {
  return (await actionTokens.consume(tokenHash(token), KIND))?.userId;
}
