import {
  availableMethods,
  relyingParty,
  type SecondFactorMethod,
  verifyTotpForUser,
} from '../../domain/two-step/credentials.js';
import {
  type AuthenticationResponseJSON,
  matchRecoveryCode,
  type StoredPasskey,
} from '../../domain/two-step/index.js';
import { authenticationOptions, passkeyAmr, verifyAuthentication } from '../../domain/two-step/webauthn.js';
import { format } from '../../pages/index.js';
import { messages } from '../../pages/messages.js';
import { chooseMethodPage, secondFactorPage } from '../../pages/two-step-pages.js';
import type { SignIn, Step, StepFlow } from '../flow.js';
import {
  auditTwoStep,
  countAttempt,
  notPastFirstFactor,
  type PastFirstFactor,
  pastFirstFactor,
} from '../two-step-common.js';

const METHODS: readonly SecondFactorMethod[] = ['totp', 'passkey', 'recovery'];

async function methodsOf(flow: StepFlow, userId: string) {
  const m = await flow.deps.credentials.methodsOf(userId);
  return { totp: m.totp, passkeys: m.passkeys, recoveryCodes: m.recoveryCodes };
}

/** Parses a WebAuthn assertion posted by /assets/passkey.js. */
export function parseAssertion(raw: unknown): AuthenticationResponseJSON | undefined {
  if (typeof raw !== 'string' || raw.length > 16_384) return undefined;
  try {
    const value = JSON.parse(raw) as AuthenticationResponseJSON;
    if (typeof value?.id !== 'string' || typeof value.response !== 'object') return undefined;
    return value;
  } catch {
    return undefined;
  }
}

/**
 * Verifies an assertion against the passkey it names, which must belong to `userId`; updates its
 * signature counter. Returns the RFC 8176 method of the key, or undefined.
 */
export async function checkAssertion(
  flow: StepFlow,
  raw: unknown,
  challenge: string,
  userId: string,
  requireUserVerification: boolean,
): Promise<{ amr: string } | undefined> {
  const response = parseAssertion(raw);
  if (!response) return undefined;
  const { credentials, issuer } = flow.deps;
  const found = await credentials.findPasskey(response.id);
  if (!found || found.userId !== userId) return undefined;
  const rp = relyingParty(issuer);
  const stored = { ...(found.data as unknown as StoredPasskey), credentialId: found.credentialId };
  const result = await verifyAuthentication({
    response,
    expectedChallenge: challenge,
    expectedOrigin: rp.origin,
    rpId: rp.rpId,
    passkey: stored,
    userId,
    requireUserVerification,
  });
  if (!result.ok) return undefined;
  const updated = {
    ...stored,
    counter: result.newCounter,
    deviceType: result.deviceType,
    backedUp: result.backedUp,
  };
  await credentials.updatePasskey(found.id, { ...found.data, ...updated });
  return { amr: passkeyAmr(updated) };
}

/**
 * The second step: the method used last first (TOTP, passkey), "Try another way" to the others and
 * to recovery codes. A verified method goes back to the policy step, which finishes the sign-in.
 */
export const secondFactorStep: Step = {
  enter: (flow, s) => secondFactorStep.show!(flow, s),
  async show(flow, s, problem) {
    if (!pastFirstFactor(s)) return flow.restart(s, s.state);
    const available = availableMethods(await methodsOf(flow, s.state.userId));
    const wanted = s.state.data?.method as SecondFactorMethod | undefined;
    const method = wanted && available.includes(wanted) ? wanted : (available[0] ?? 'totp');
    const action = method === 'totp' ? '/2sv/totp' : method === 'recovery' ? '/2sv/recovery' : '/2sv/passkey';
    return flow.page(
      s,
      secondFactorPage({
        brand: flow.brand(s),
        method,
        action: flow.url(s, action),
        csrf: flow.csrfToken(s),
        email: s.state.email ?? '',
        chooseUrl: available.length > 1 ? flow.url(s, '/2sv/choose') : undefined,
        switchUrl: flow.url(s, '/switch'),
        error: problem?.message,
        lostPhone: available.includes('recovery')
          ? { recoveryUrl: flow.url(s, '/2sv/use/recovery') }
          : available.includes('passkey')
            ? undefined
            : 'admin',
      }),
      problem,
    );
  },
  routes: [
    {
      method: 'GET',
      path: '/2sv/choose',
      async handle(flow, s) {
        if (!pastFirstFactor(s)) return notPastFirstFactor(flow, s);
        const available = availableMethods(await methodsOf(flow, s.state.userId));
        return flow.page(
          s,
          chooseMethodPage({
            brand: flow.brand(s),
            email: s.state.email ?? '',
            choices: available.map((method) => ({ method, href: flow.url(s, `/2sv/use/${method}`) })),
          }),
        );
      },
    },
    {
      // Switching method changes only which page is shown, so a link (GET) is enough.
      method: 'GET',
      path: '/2sv/use/:method',
      async handle(flow, s, { params }) {
        if (!pastFirstFactor(s)) return notPastFirstFactor(flow, s);
        const method = METHODS.find((m) => m === params.method);
        await flow.save(s, { ...s.state, data: { ...s.state.data, method } });
        return secondFactorStep.show!(flow, s);
      },
    },
    {
      method: 'POST',
      path: '/2sv/totp',
      async handle(flow, s, { body }) {
        if (!pastFirstFactor(s)) return notPastFirstFactor(flow, s);
        const view = withMethod(s, 'totp');
        const wait = await countAttempt(flow, s, 'totp');
        if (wait) return secondFactorStep.show!(flow, view(), wait);
        const result = await verifyTotpForUser(
          flow.deps.credentials,
          s.state.userId,
          String(body.code ?? ''),
        );
        if (!result.ok) {
          await auditTwoStep(flow, s, 'second_factor', 'failure', { method: 'totp', reason: result.reason });
          const text = result.reason === 'replayed' ? messages.totpReplayed : messages.totpWrong;
          return secondFactorStep.show!(flow, view(), { message: text, status: 401 });
        }
        await auditTwoStep(flow, s, 'second_factor', 'success', { method: 'totp' });
        return flow.go(s, 'policy', { ...s.state, amr: [...(s.state.amr ?? []), 'otp'] });
      },
    },
    {
      // A recovery code stands in for the lost second factor, so the ID token says `otp` (RFC 8176:
      // "one-time password", which a single-use recovery code is) — never `pwd` alone.
      method: 'POST',
      path: '/2sv/recovery',
      async handle(flow, s, { body }) {
        if (!pastFirstFactor(s)) return notPastFirstFactor(flow, s);
        const view = withMethod(s, 'recovery');
        const wait = await countAttempt(flow, s, 'recovery');
        if (wait) return secondFactorStep.show!(flow, view(), wait);
        const { credentials, recoveryCodeKey } = flow.deps;
        const unused = await credentials.unusedRecoveryCodes(s.state.userId);
        const index = matchRecoveryCode(
          String(body.code ?? ''),
          unused.map((c) => c.hash),
          recoveryCodeKey,
        );
        const match = index >= 0 ? unused[index] : undefined;
        if (!match || !(await credentials.useRecoveryCode(match.id))) {
          await auditTwoStep(flow, s, 'second_factor', 'failure', { method: 'recovery', reason: 'invalid' });
          return secondFactorStep.show!(flow, view(), { message: messages.recoveryWrong, status: 401 });
        }
        const remaining = unused.length - 1;
        await auditTwoStep(flow, s, 'second_factor', 'success', { method: 'recovery', remaining });
        const notice = format(messages.recoveryUsed, { remaining }).value;
        return flow.go(s, 'policy', { ...s.state, notice, amr: [...(s.state.amr ?? []), 'otp'] });
      },
    },
    {
      method: 'POST',
      path: '/2sv/passkey/options',
      csrf: 'json',
      async handle(flow, s) {
        if (!pastFirstFactor(s)) return s.reply.code(409).send({ error: 'state' });
        const passkeys = await flow.deps.credentials.passkeys(s.state.userId);
        const options = await authenticationOptions({
          rpId: relyingParty(flow.deps.issuer).rpId,
          allowCredentials: passkeys.map((p) => ({
            credentialId: p.credentialId,
            transports: (p.data as unknown as StoredPasskey).transports,
          })),
        });
        await flow.save(s, {
          ...s.state,
          data: { ...s.state.data, method: 'passkey', challenge: options.challenge },
        });
        return s.reply.header('cache-control', 'no-store').send({ options });
      },
    },
    {
      method: 'POST',
      path: '/2sv/passkey',
      async handle(flow, s, { body }) {
        if (!pastFirstFactor(s)) return notPastFirstFactor(flow, s);
        const challenge = typeof s.state.data?.challenge === 'string' ? s.state.data.challenge : undefined;
        // The challenge is single use whatever the outcome.
        await flow.save(s, { ...s.state, data: { method: 'passkey' } });
        const wait = await countAttempt(flow, s, 'passkey');
        if (wait) return secondFactorStep.show!(flow, s, wait);
        const verified = challenge
          ? await checkAssertion(flow, body.response, challenge, s.state.userId, false)
          : undefined;
        if (!verified) {
          await auditTwoStep(flow, s, 'second_factor', 'failure', { method: 'passkey', reason: 'invalid' });
          return secondFactorStep.show!(flow, s, { message: messages.passkeyFailed, status: 401 });
        }
        await auditTwoStep(flow, s, 'second_factor', 'success', { method: 'passkey', amr: verified.amr });
        return flow.go(s, 'policy', {
          ...s.state,
          data: undefined,
          amr: [...(s.state.amr ?? []), verified.amr],
        });
      },
    },
  ],
};

/** The sign-in as shown with `method`'s page (without saving: only which page is shown changes). */
function withMethod(s: PastFirstFactor, method: SecondFactorMethod): () => SignIn {
  return () => {
    s.state = { ...s.state, data: { ...s.state.data, method } };
    return s;
  };
}
