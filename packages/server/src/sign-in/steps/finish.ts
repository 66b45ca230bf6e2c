import type { InteractionResults } from 'oidc-provider';
import type { Step } from '../flow.js';
import { secondFactorPassed } from './policy.js';

/**
 * The engine records the login (a browser session for this person) and starts a new interaction for
 * the app's consent, which the launch step answers. Reached only from the policy step.
 */
export const finishStep: Step = {
  async enter(flow, s) {
    const { state } = s;
    const userId = state.userId as string;
    const own = state.amr ?? [];
    const mfa = secondFactorPassed(state);
    const amr = [...new Set([...own, ...(state.upstreamAmr ?? []), ...(mfa ? ['mfa'] : [])])];
    const acr = own.includes('fed')
      ? 'urn:latchkey:acr:federated'
      : mfa
        ? 'urn:latchkey:acr:mfa'
        : 'urn:latchkey:acr:pwd';
    const result: InteractionResults = {
      login: { accountId: userId, amr, acr, remember: true },
      // The engine starts a new interaction (new uid) for the launch page and hands it this result
      // as `lastSubmission`; the sign-in state of this uid is gone by then.
      ...(state.notice ? { latchkey: { notice: state.notice } } : {}),
    };
    await flow.deps.users.touchSignIn(userId);
    await s.states.delete(s.uid);
    await flow.audit(s, {
      action: 'sign_in',
      outcome: 'success',
      userId,
      organizationId: state.organizationId,
      details: { amr, ...(state.upstreamSecondFactor ? { secondFactor: state.upstreamSecondFactor } : {}) },
    });
    const to = await flow.deps
      .engine()
      .interactionResult(s.request.raw, s.reply.raw, result, { mergeWithLastSubmission: false });
    return s.reply.redirect(to, 303);
  },
};
