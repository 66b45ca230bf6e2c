import type { FastifyReply } from 'fastify';
import { twoStepKeys } from '../domain/throttle/attempt-keys.js';
import { throttledCountdown } from '../pages/two-step-text.js';
import type { Problem, SignIn, StepFlow } from './flow.js';
import type { SignInState } from './state.js';

/** A sign-in past its first factor: the person is known and one method is passed. */
export type PastFirstFactor = SignIn & { state: SignInState & { userId: string } };

export function pastFirstFactor(s: SignIn): s is PastFirstFactor {
  return Boolean(s.state.userId && s.state.amr && s.state.amr.length > 0);
}

/** Audits a 2-step event of this sign-in. */
export function auditTwoStep(
  flow: StepFlow,
  s: SignIn,
  action: string,
  outcome: 'success' | 'failure' | 'info',
  details: Record<string, unknown> = {},
) {
  return flow.audit(s, {
    action,
    outcome,
    userId: s.state.userId,
    organizationId: s.state.organizationId,
    details,
  });
}

/**
 * Counts a second-factor attempt before it is verified (and in the sign-in's state, so success gives
 * it back); returns the problem to show when the person must wait.
 */
export async function countAttempt(
  flow: StepFlow,
  s: PastFirstFactor,
  method: string,
): Promise<Problem | undefined> {
  const decision = await flow.deps.throttle.attempt(twoStepKeys(s.state.userId, s.request.ip));
  if (!decision.allowed) {
    await auditTwoStep(flow, s, 'second_factor', 'failure', {
      method,
      reason: 'throttled',
      limitedBy: decision.limitedBy,
      retryAfterMs: decision.retryAfterMs,
    });
    return { message: throttledCountdown(decision.retryAfterMs), status: 429 };
  }
  await flow.save(s, { ...s.state, twoStepAttempts: (s.state.twoStepAttempts ?? 0) + 1 });
  return undefined;
}

/** The page a 2-step route answers with when the sign-in is not past its first factor. */
export function notPastFirstFactor(flow: StepFlow, s: SignIn): FastifyReply {
  return s.reply.redirect(flow.url(s), 303);
}

export const sealPurpose = (uid: string) => `sign-in:${uid}`;
