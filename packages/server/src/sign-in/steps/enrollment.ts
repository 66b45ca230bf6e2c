import { createRecoveryCodes } from '../../domain/two-step/credentials.js';
import { generateTotpSecret, totpKeyUri, totpQrSvg, verifyTotp } from '../../domain/two-step/totp.js';
import { messages } from '../../pages/messages.js';
import { enrollPage } from '../../pages/two-step-pages.js';
import type { Step } from '../flow.js';
import {
  auditTwoStep,
  countAttempt,
  notPastFirstFactor,
  pastFirstFactor,
  sealPurpose,
} from '../two-step-common.js';

/**
 * Enrollment of an authenticator app, when the organization requires 2-step verification and the
 * person has no method yet (local accounts, and federated ones whose IdP proved no second factor).
 * The secret waits sealed in the sign-in state until a code from the app confirms it.
 */
export const enrollmentStep: Step = {
  async enter(flow, s) {
    const sealed = flow.deps.secretBox.encrypt(generateTotpSecret(), sealPurpose(s.uid));
    await flow.save(s, { ...s.state, data: { secret: sealed } });
    return enrollmentStep.show!(flow, s);
  },
  async show(flow, s, problem) {
    const sealed = s.state.data?.secret;
    if (!pastFirstFactor(s) || typeof sealed !== 'string') return flow.restart(s, s.state);
    const secret = flow.deps.secretBox.decrypt(sealed, sealPurpose(s.uid));
    const email = s.state.email ?? '';
    const uri = totpKeyUri({ secret, accountName: email, issuer: messages.productName });
    return flow.page(
      s,
      enrollPage({
        brand: flow.brand(s),
        action: flow.url(s, '/2sv/enroll'),
        csrf: flow.csrfToken(s),
        email,
        qrSvg: await totpQrSvg(uri),
        key: secret,
        error: problem?.message,
      }),
      problem,
    );
  },
  routes: [
    {
      method: 'POST',
      path: '/2sv/enroll',
      async handle(flow, s, { body }) {
        const sealed = s.state.data?.secret;
        if (!pastFirstFactor(s) || typeof sealed !== 'string') return notPastFirstFactor(flow, s);
        const wait = await countAttempt(flow, s, 'enroll');
        if (wait) return enrollmentStep.show!(flow, s, wait);
        const { secretBox, credentials } = flow.deps;
        const secret = secretBox.decrypt(sealed, sealPurpose(s.uid));
        const result = await verifyTotp({ secret, code: String(body.code ?? '') });
        if (!result.ok) {
          await auditTwoStep(flow, s, 'enroll_2sv', 'failure', { method: 'totp', reason: result.reason });
          return enrollmentStep.show!(flow, s, { message: messages.enrollWrong, status: 401 });
        }
        const userId = s.state.userId;
        await credentials.setTotp(userId, secret);
        const totp = await credentials.totp(userId);
        // The confirming code is spent: it cannot be replayed as a second factor later.
        if (totp) await credentials.acceptTotpStep(totp.id, null, result.step);
        const codes = await createRecoveryCodes(flow.deps, userId);
        await auditTwoStep(flow, s, 'enroll_2sv', 'success', { method: 'totp', recoveryCodes: codes.length });
        return flow.go(s, 'recovery-codes', {
          ...s.state,
          amr: [...(s.state.amr ?? []), 'otp'],
          data: { codes: secretBox.encrypt(JSON.stringify(codes), sealPurpose(s.uid)) },
        });
      },
    },
  ],
};
