import { attemptKeys } from '../../domain/throttle/attempt-keys.js';
import { relyingParty } from '../../domain/two-step/credentials.js';
import { authenticationOptions } from '../../domain/two-step/webauthn.js';
import type { SafeHtml } from '../../pages/index.js';
import { messages } from '../../pages/messages.js';
import { throttledCountdown } from '../../pages/two-step-text.js';
import type { Step } from '../flow.js';
import { checkAssertion, parseAssertion } from './second-factor.js';

/**
 * Sign-in with a discoverable passkey straight from the email page: no email typed, the passkey
 * names its owner. A passkey with user verification is two factors in one (possession + PIN or
 * biometric), so the policy step asks for nothing more.
 */
export const passkeyStep: Step = {
  enter: (flow, s) => flow.showCurrent(s),
  routes: [
    {
      method: 'POST',
      path: '/passkey/options',
      csrf: 'json',
      at: 'any',
      async handle(flow, s) {
        // No allowCredentials: the options are the same for everyone, revealing no account.
        const options = await authenticationOptions({ rpId: relyingParty(flow.deps.issuer).rpId });
        await flow.save(s, {
          step: 'email',
          switching: s.state.switching,
          data: { discoverableChallenge: options.challenge },
        });
        return s.reply.header('cache-control', 'no-store').send({ options });
      },
    },
    {
      method: 'POST',
      path: '/passkey',
      at: 'any',
      async handle(flow, s, { body }) {
        const challenge = s.state.data?.discoverableChallenge;
        await flow.save(s, { step: 'email', switching: s.state.switching });
        const refuse = async (
          reason: string,
          userId?: string,
          text: string | SafeHtml = messages.passkeyFailed,
        ) => {
          await flow.audit(s, { action: 'passkey_sign_in', outcome: 'failure', userId, details: { reason } });
          return flow.showCurrent(s, { message: text, status: 401 });
        };
        if (typeof challenge !== 'string') return refuse('no_challenge');
        const response = parseAssertion(body.response);
        const owner = response ? await flow.deps.credentials.findPasskey(response.id) : undefined;
        if (!owner) return refuse('unknown_credential', undefined, messages.passkeyUnknown);
        const wait = await flow.deps.throttle.attempt(attemptKeys(owner.userId, s.request.ip));
        if (!wait.allowed) return refuse('throttled', owner.userId, throttledCountdown(wait.retryAfterMs));
        const verified = await checkAssertion(flow, body.response, challenge, owner.userId, true);
        if (!verified) return refuse('invalid', owner.userId);
        const user = await flow.deps.users.byId(owner.userId);
        const org = user ? flow.deps.organizations.byId(user.organizationId) : undefined;
        if (user?.status !== 'active' || !org || org.connection.type !== 'local') {
          return refuse(user?.status === 'disabled' ? 'disabled' : 'not_local', owner.userId);
        }
        await flow.audit(s, {
          action: 'passkey_sign_in',
          outcome: 'success',
          userId: user.id,
          organizationId: org.id,
          details: { amr: verified.amr },
        });
        return flow.go(s, 'policy', {
          email: user.email ?? undefined,
          organizationId: org.id,
          userId: user.id,
          attempts: 1,
          amr: [verified.amr, 'mfa'],
        });
      },
    },
  ],
};
