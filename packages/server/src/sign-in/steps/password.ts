import { attemptKeys } from '../../domain/throttle/attempt-keys.js';
import { messages } from '../../pages/messages.js';
import { passwordPage } from '../../pages/sign-in-pages.js';
import { throttledCountdown } from '../../pages/two-step-text.js';
import type { Step } from '../flow.js';

/** A local account's password (Argon2id), throttled per account and per address before the hash runs. */
export const passwordStep: Step = {
  enter: (flow, s) => passwordStep.show!(flow, s),
  async show(flow, s, problem) {
    if (!s.state.email) return flow.restart(s, s.state);
    return flow.page(
      s,
      passwordPage({
        brand: flow.brand(s),
        action: flow.url(s, '/password'),
        csrf: flow.csrfToken(s),
        email: s.state.email,
        switchUrl: flow.url(s, '/switch'),
        error: problem?.message,
      }),
      problem,
    );
  },
  routes: [
    {
      method: 'POST',
      path: '/password',
      async handle(flow, s, { body }) {
        const { state } = s;
        if (!state.email) return flow.restart(s, state);
        const { throttle, passwords } = flow.deps;
        const fail = (details: Record<string, unknown>) =>
          flow.audit(s, {
            action: 'password',
            outcome: 'failure',
            userId: state.userId,
            organizationId: state.organizationId,
            details,
          });
        // An unknown email is counted under the email itself, so it walks exactly the path (and
        // timing) of a real account.
        const decision = await throttle.attempt(attemptKeys(state.userId ?? state.email, s.request.ip));
        if (!decision.allowed) {
          await fail({
            reason: 'throttled',
            limitedBy: decision.limitedBy,
            retryAfterMs: decision.retryAfterMs,
          });
          return passwordStep.show!(flow, s, {
            message: throttledCountdown(decision.retryAfterMs),
            status: 429,
          });
        }
        const counted = { ...state, attempts: (state.attempts ?? 0) + 1 };
        await flow.save(s, counted);
        const ok = await passwords.verify(state.userId, String(body.password ?? ''));
        const user = ok && state.userId ? await flow.user(s, state.userId) : undefined;
        if (!ok || !user || user.status !== 'active') {
          await fail({ reason: user && user.status !== 'active' ? 'disabled' : 'wrong_password' });
          return passwordStep.show!(flow, s, { message: messages.passwordWrong, status: 401 });
        }
        await flow.audit(s, {
          action: 'password',
          outcome: 'success',
          userId: user.id,
          organizationId: state.organizationId,
        });
        return flow.go(s, 'policy', { ...counted, amr: ['pwd'] });
      },
    },
  ],
};
