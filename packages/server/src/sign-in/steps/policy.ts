import { clientAllowed } from '../../domain/directory.js';
import { attemptKeys, twoStepKeys } from '../../domain/throttle/attempt-keys.js';
import { preferredMethod } from '../../domain/two-step/credentials.js';
import { format } from '../../pages/index.js';
import { messages } from '../../pages/messages.js';
import type { SignIn, Step, StepFlow } from '../flow.js';
import type { SignInState } from '../state.js';

/** Methods that Latchkey verified as a second factor (RFC 8176): a TOTP or recovery code, a passkey. */
const SECOND_FACTORS = new Set(['otp', 'hwk', 'swk', 'mfa']);

/** Has this sign-in passed a second factor, here or (by the connection's rule) at the upstream? */
export function secondFactorPassed(state: SignInState): boolean {
  return (state.amr ?? []).some((m) => SECOND_FACTORS.has(m)) || Boolean(state.upstreamSecondFactor);
}

/**
 * The organization's rules, for every way of signing in (password, passkey, upstream IdP): every
 * first factor and every second factor comes back here, and only this step goes on to `finish`.
 * - the account is active and belongs to the organization;
 * - the app is one the organization allows (`policy.allowed_clients`);
 * - a second factor when the person has one enrolled or the organization requires one
 *   (`policy.require_2sv`), unless one was passed already — at Latchkey or, by the connection's
 *   `second_factor` rule, at the upstream IdP; enrollment when required and none exists;
 * - the throttle gives back the attempts this sign-in counted, now that it succeeded.
 */
export const policyStep: Step = {
  async enter(flow, s) {
    const { state } = s;
    const { organizations, credentials } = flow.deps;
    const org = state.organizationId ? organizations.byId(state.organizationId) : undefined;
    const user = state.userId ? await flow.user(s, state.userId) : undefined;
    if (!org || !user || user.organizationId !== org.id || user.status !== 'active') {
      await refuse(flow, s, user?.status === 'disabled' ? 'account_disabled' : 'no_account');
      return flow.message(s, { message: messages.errorAccountDisabled, status: 403, startAgain: true });
    }
    if (!clientAllowed(org, s.clientId)) {
      await refuse(flow, s, 'client_not_allowed');
      return flow.message(s, {
        message: format(messages.clientNotAllowed, { app: await flow.appName(s) }),
        status: 403,
      });
    }
    if (!secondFactorPassed(state)) {
      const methods = await credentials.methodsOf(user.id);
      const method = preferredMethod(methods, await credentials.lastUsed(user.id));
      if (method) return flow.go(s, 'second-factor', { ...state, data: { method } });
      if (org.policy.require2sv) {
        await flow.audit(s, {
          action: 'enroll_2sv',
          outcome: 'info',
          userId: user.id,
          organizationId: org.id,
          details: { reason: 'required_by_policy', federated: (state.amr ?? []).includes('fed') },
        });
        return flow.go(s, 'enrollment', { ...state, data: {} });
      }
    }
    // Count what failed, give back what succeeded: each attempt this sign-in counted is refunded
    // once, so good sign-ins behind a shared address (an office NAT) never add up to a throttle.
    const keys = attemptKeys(user.id, s.request.ip);
    for (let i = 0; i < (state.attempts ?? 0); i += 1) await flow.deps.throttle.recordSuccess(keys);
    const twoStep = twoStepKeys(user.id, s.request.ip);
    for (let i = 0; i < (state.twoStepAttempts ?? 0); i += 1) await flow.deps.throttle.recordSuccess(twoStep);
    return flow.go(s, 'finish', { ...state, attempts: 0, twoStepAttempts: 0, data: undefined });
  },
};

function refuse(flow: StepFlow, s: SignIn, reason: string) {
  return flow.audit(s, {
    action: 'sign_in',
    outcome: 'failure',
    userId: s.state.userId,
    organizationId: s.state.organizationId,
    details: { reason, step: 'policy' },
  });
}
