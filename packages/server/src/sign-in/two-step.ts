import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { passkeyScript } from '../web/assets-passkey.js';
import {
  type AuthenticationResponseJSON,
  authenticationOptions,
  generateTotpSecret,
  matchRecoveryCode,
  passkeyAmr,
  type StoredPasskey,
  totpKeyUri,
  totpQrSvg,
  verifyAuthentication,
  verifyTotp,
} from '../domain/two-step/index.js';
import type { ExtensionDeps, PagePlugin, SignInExtension } from './extensions.js';
import type { Details, SignInFlow } from './interaction-routes.js';
import { messages } from '../pages/messages.js';
import type { SignInState } from './services.js';
import { format } from '../pages/index.js';
import { messagePage } from '../pages/sign-in-pages.js';
import { createRecoveryCodes, recoveryCodeKey, verifyTotpForUser } from '../domain/two-step/credentials.js';
import {
  attemptKeys,
  availableMethods,
  preferredMethod,
  recoveryCodesDownload,
  relyingParty,
  type SecondFactorMethod,
  throttledText,
} from './two-step-support.js';
import { chooseMethodPage, enrollPage, recoveryCodesPage, secondFactorPage } from '../pages/two-step-pages.js';

export { createRecoveryCodes, recoveryCodeKey, verifyTotpForUser } from '../domain/two-step/credentials.js';

interface Params {
  uid: string;
}

/** Serves /assets/passkey.js (WebAuthn needs script; the CSP allows only our own). */
export const passkeyAsset: PagePlugin = (app) => {
  app.get('/assets/passkey.js', async (_request, reply) =>
    reply
      .type('text/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=3600')
      .send(passkeyScript),
  );
};

const METHODS: readonly SecondFactorMethod[] = ['totp', 'passkey', 'recovery'];

/**
 * 2-step verification for local accounts, as a pipeline after the password:
 *   password ok → has a method?  → second factor (last-used method first; "Try another way")
 *               → none, policy requires 2SV → enroll TOTP → recovery codes (shown once) → finish
 *               → none, not required → finish
 * and sign-in with a discoverable passkey straight from the email page.
 * Throttling: every password and second-factor attempt goes through `throttle.attempt()` first;
 * success is recorded only when the whole sign-in succeeds, so a known password never resets the
 * counter that limits guessing the second factor.
 */
export function twoStepExtension(deps: ExtensionDeps): SignInExtension {
  const { backend, config } = deps;
  const repos = backend.repos;
  const services = backend.loginServices({ provider: deps.provider, csrf: deps.csrf });
  const rp = relyingParty(config.issuer);
  const sealPurpose = (uid: string) => `sign-in:${uid}`;

  return (app: FastifyInstance, flow: SignInFlow) => {
    const url = (uid: string, path: string) => `${flow.base(uid)}/2sv${path}`;

    async function details(request: FastifyRequest, reply: FastifyReply) {
      return deps.provider().interactionDetails(request.raw, reply.raw);
    }

    /** The state of a sign-in past its password and waiting for the step named, or undefined. */
    async function pending(uid: string, step: SignInState['step']) {
      const state = await services.states.get(uid);
      if (!state || state.step !== step || !state.userId || !state.amr?.includes('pwd')) return undefined;
      return state as SignInState & { userId: string };
    }

    async function methodsOf(userId: string) {
      const m = await repos.credentials.methodsOf(userId);
      return { totp: m.totp, passkeys: m.passkeys, recoveryCodes: m.recoveryCodes };
    }

    async function finish(
      request: FastifyRequest,
      reply: FastifyReply,
      d: Details,
      state: SignInState,
      userId: string,
      amr: string[],
    ) {
      await backend.throttle.recordSuccess(attemptKeys(userId, request.ip));
      return flow.finishLogin(request, reply, d, { ...state, amr }, userId);
    }

    async function audit(
      request: FastifyRequest,
      d: Details,
      state: SignInState,
      action: string,
      outcome: 'success' | 'failure' | 'info',
      details: Record<string, unknown> = {},
    ) {
      await services.audit({
        action,
        outcome,
        userId: state.userId,
        organizationId: state.organizationId,
        clientId: String(d.params.client_id),
        ...flow.context(request),
        details,
      });
    }

    /** Counts the attempt; returns the error text when it must wait. */
    async function throttled(request: FastifyRequest, d: Details, state: SignInState, method: string) {
      const decision = await backend.throttle.attempt(attemptKeys(state.userId ?? '-', request.ip));
      if (decision.allowed) return undefined;
      await audit(request, d, state, 'second_factor', 'failure', {
        method,
        reason: 'throttled',
        limitedBy: decision.limitedBy,
        retryAfterMs: decision.retryAfterMs,
      });
      return throttledText(decision.retryAfterMs);
    }

    // ---- after the password ----

    flow.afterFirstFactor = async (request, reply, d, state, userId) => {
      const methods = await methodsOf(userId);
      const method = preferredMethod(methods, await repos.credentials.lastUsed(userId));
      if (method) {
        const next: SignInState = { ...state, step: 'second-factor', data: { method } };
        await services.states.put(d.uid, next);
        return showSecondFactor(request, reply, d, next);
      }
      const org = state.organizationId ? await services.organizations.byId(state.organizationId) : undefined;
      if (org?.policy.require2sv) {
        const next: SignInState = {
          ...state,
          step: 'enroll',
          data: { secret: backend.secretBox.encrypt(generateTotpSecret(), sealPurpose(d.uid)) },
        };
        await services.states.put(d.uid, next);
        await audit(request, d, next, 'enroll_2sv', 'info', { reason: 'required_by_policy' });
        return showEnroll(request, reply, d, next);
      }
      return finish(request, reply, d, state, userId, ['pwd']);
    };

    // ---- the second step ----

    async function showSecondFactor(
      request: FastifyRequest,
      reply: FastifyReply,
      d: Details,
      state: SignInState,
      error?: string,
      status = 200,
    ) {
      const methods = state.userId
        ? await methodsOf(state.userId)
        : { totp: false, passkeys: 0, recoveryCodes: 0 };
      const available = availableMethods(methods);
      const wanted = state.data?.method as SecondFactorMethod | undefined;
      const method = wanted && available.includes(wanted) ? wanted : (available[0] ?? 'totp');
      const action =
        method === 'totp'
          ? url(d.uid, '/totp')
          : method === 'recovery'
            ? url(d.uid, '/recovery')
            : url(d.uid, '/passkey');
      return flow.html(
        reply,
        secondFactorPage({
          method,
          action,
          csrf: deps.csrf.token(request, reply),
          email: state.email ?? '',
          chooseUrl: available.length > 1 ? url(d.uid, '/choose') : undefined,
          switchUrl: `${flow.base(d.uid)}/switch`,
          error,
        }),
        status,
      );
    }
    flow.steps.set('second-factor', showSecondFactor);

    app.get<{ Params: Params }>('/interaction/:uid/2sv/choose', async (request, reply) => {
      const d = await details(request, reply);
      const state = await pending(d.uid, 'second-factor');
      if (!state) return reply.redirect(flow.base(d.uid), 303);
      const available = availableMethods(await methodsOf(state.userId));
      return flow.html(
        reply,
        chooseMethodPage({
          email: state.email ?? '',
          choices: available.map((method) => ({ method, href: url(d.uid, `/use/${method}`) })),
        }),
      );
    });

    /** Switching method changes only which page is shown, so a link (GET) is enough. */
    app.get<{ Params: Params & { method: string } }>(
      '/interaction/:uid/2sv/use/:method',
      async (request, reply) => {
        const d = await details(request, reply);
        const state = await pending(d.uid, 'second-factor');
        if (!state) return reply.redirect(flow.base(d.uid), 303);
        const method = METHODS.find((m) => m === request.params.method);
        const next: SignInState = { ...state, data: { ...state.data, method } };
        await services.states.put(d.uid, next);
        return showSecondFactor(request, reply, d, next);
      },
    );

    app.post<{ Params: Params; Body: { code?: string } }>(
      '/interaction/:uid/2sv/totp',
      async (request, reply) => {
        const d = await details(request, reply);
        if (!deps.csrf.verify(request)) return flow.csrfFailure(reply);
        const state = await pending(d.uid, 'second-factor');
        if (!state) return reply.redirect(flow.base(d.uid), 303);
        const view = { ...state, data: { ...state.data, method: 'totp' } };
        const wait = await throttled(request, d, state, 'totp');
        if (wait) return showSecondFactor(request, reply, d, view, wait, 429);
        const result = await verifyTotpForUser(repos, state.userId, String(request.body?.code ?? ''));
        if (!result.ok) {
          await audit(request, d, state, 'second_factor', 'failure', {
            method: 'totp',
            reason: result.reason,
          });
          const text = result.reason === 'replayed' ? messages.totpReplayed : messages.totpWrong;
          return showSecondFactor(request, reply, d, view, text, 401);
        }
        await audit(request, d, state, 'second_factor', 'success', { method: 'totp' });
        return finish(request, reply, d, state, state.userId, ['pwd', 'otp']);
      },
    );

    /**
     * A recovery code stands in for the lost second factor, so the ID token says `otp` (RFC 8176:
     * "one-time password", which a single-use recovery code is) — never `pwd` alone.
     */
    app.post<{ Params: Params; Body: { code?: string } }>(
      '/interaction/:uid/2sv/recovery',
      async (request, reply) => {
        const d = await details(request, reply);
        if (!deps.csrf.verify(request)) return flow.csrfFailure(reply);
        const state = await pending(d.uid, 'second-factor');
        if (!state) return reply.redirect(flow.base(d.uid), 303);
        const view = { ...state, data: { ...state.data, method: 'recovery' } };
        const wait = await throttled(request, d, state, 'recovery');
        if (wait) return showSecondFactor(request, reply, d, view, wait, 429);
        const unused = await repos.credentials.unusedRecoveryCodes(state.userId);
        const index = matchRecoveryCode(
          String(request.body?.code ?? ''),
          unused.map((c) => c.hash),
          recoveryCodeKey(backend),
        );
        const match = index >= 0 ? unused[index] : undefined;
        if (!match || !(await repos.credentials.useRecoveryCode(match.id))) {
          await audit(request, d, state, 'second_factor', 'failure', {
            method: 'recovery',
            reason: 'invalid',
          });
          return showSecondFactor(request, reply, d, view, messages.recoveryWrong, 401);
        }
        const remaining = unused.length - 1;
        await audit(request, d, state, 'second_factor', 'success', { method: 'recovery', remaining });
        const notice = format(messages.recoveryUsed, { remaining }).value;
        return finish(request, reply, d, { ...state, notice }, state.userId, ['pwd', 'otp']);
      },
    );

    // ---- passkey as the second step ----

    app.post<{ Params: Params }>('/interaction/:uid/2sv/passkey/options', async (request, reply) => {
      const d = await details(request, reply);
      if (!deps.csrf.verify(request)) return reply.code(403).send({ error: 'csrf' });
      const state = await pending(d.uid, 'second-factor');
      if (!state) return reply.code(409).send({ error: 'state' });
      const passkeys = await repos.credentials.passkeys(state.userId);
      const options = await authenticationOptions({
        rpId: rp.rpId,
        allowCredentials: passkeys.map((p) => ({
          credentialId: p.credentialId,
          transports: (p.data as unknown as StoredPasskey).transports,
        })),
      });
      await services.states.put(d.uid, {
        ...state,
        data: { ...state.data, method: 'passkey', challenge: options.challenge },
      });
      return reply.header('cache-control', 'no-store').send({ options });
    });

    app.post<{ Params: Params; Body: { response?: string } }>(
      '/interaction/:uid/2sv/passkey',
      async (request, reply) => {
        const d = await details(request, reply);
        if (!deps.csrf.verify(request)) return flow.csrfFailure(reply);
        const state = await pending(d.uid, 'second-factor');
        if (!state) return reply.redirect(flow.base(d.uid), 303);
        const view = { ...state, data: { method: 'passkey' } };
        const challenge = typeof state.data?.challenge === 'string' ? state.data.challenge : undefined;
        // The challenge is single use whatever the outcome.
        await services.states.put(d.uid, view);
        const wait = await throttled(request, d, state, 'passkey');
        if (wait) return showSecondFactor(request, reply, d, view, wait, 429);
        const verified = challenge
          ? await checkAssertion(request.body?.response, challenge, state.userId, false)
          : undefined;
        if (!verified) {
          await audit(request, d, state, 'second_factor', 'failure', {
            method: 'passkey',
            reason: 'invalid',
          });
          return showSecondFactor(request, reply, d, view, messages.passkeyFailed, 401);
        }
        await audit(request, d, state, 'second_factor', 'success', { method: 'passkey', amr: verified.amr });
        return finish(request, reply, d, state, state.userId, ['pwd', verified.amr]);
      },
    );

    // ---- passkey sign-in without an email (discoverable credential) ----

    flow.emailPasskeyAction = (uid) => `${flow.base(uid)}/passkey`;

    app.post<{ Params: Params }>('/interaction/:uid/passkey/options', async (request, reply) => {
      const d = await details(request, reply);
      if (!deps.csrf.verify(request)) return reply.code(403).send({ error: 'csrf' });
      // No allowCredentials: the options are the same for everyone, revealing no account.
      const options = await authenticationOptions({ rpId: rp.rpId });
      const state = (await services.states.get(d.uid)) ?? {};
      await services.states.put(d.uid, {
        switching: state.switching,
        data: { discoverableChallenge: options.challenge },
      });
      return reply.header('cache-control', 'no-store').send({ options });
    });

    app.post<{ Params: Params; Body: { response?: string } }>(
      '/interaction/:uid/passkey',
      async (request, reply) => {
        const d = await details(request, reply);
        if (!deps.csrf.verify(request)) return flow.csrfFailure(reply);
        const state = (await services.states.get(d.uid)) ?? {};
        const challenge = state.data?.discoverableChallenge;
        const fresh: SignInState = { switching: state.switching };
        await services.states.put(d.uid, fresh);
        const refuse = async (reason: string, userId?: string, text: string = messages.passkeyFailed) => {
          await services.audit({
            action: 'passkey_sign_in',
            outcome: 'failure',
            userId,
            clientId: String(d.params.client_id),
            ...flow.context(request),
            details: { reason },
          });
          return flow.showStep(request, reply, d, fresh, text, 401);
        };
        if (typeof challenge !== 'string') return refuse('no_challenge');
        const owner = await ownerOf(request.body?.response);
        if (!owner) return refuse('unknown_credential', undefined, messages.passkeyUnknown);
        const wait = await backend.throttle.attempt(attemptKeys(owner.userId, request.ip));
        if (!wait.allowed) return refuse('throttled', owner.userId, throttledText(wait.retryAfterMs));
        const verified = await checkAssertion(request.body?.response, challenge, owner.userId, true);
        if (!verified) return refuse('invalid', owner.userId);
        const user = await services.users.byId(owner.userId);
        const org = user ? await services.organizations.byId(user.organizationId) : undefined;
        if (user?.status !== 'active' || !org || org.connection.type !== 'local') {
          return refuse(user?.status === 'disabled' ? 'disabled' : 'not_local', owner.userId);
        }
        if (
          org.policy.allowedClients.length > 0 &&
          !org.policy.allowedClients.includes(String(d.params.client_id))
        ) {
          const { name } = await flow.appName(String(d.params.client_id));
          return flow.html(
            reply,
            messagePage({
              title: messages.errorTitle,
              message: format(messages.clientNotAllowed, { app: name }),
            }),
            403,
          );
        }
        const next: SignInState = { email: user.email ?? undefined, organizationId: org.id, userId: user.id };
        await services.audit({
          action: 'passkey_sign_in',
          outcome: 'success',
          userId: user.id,
          organizationId: org.id,
          clientId: String(d.params.client_id),
          ...flow.context(request),
          details: { amr: verified.amr },
        });
        // A passkey with user verification is two factors in one (possession + PIN/biometric).
        return finish(request, reply, d, next, user.id, [verified.amr, 'mfa']);
      },
    );

    async function ownerOf(raw: unknown) {
      const response = parseAssertion(raw);
      if (!response) return undefined;
      return repos.credentials.findPasskey(response.id);
    }

    /** Verifies an assertion against the passkey it names, which must belong to `userId`; updates its counter. */
    async function checkAssertion(raw: unknown, challenge: string, userId: string, requireUv: boolean) {
      const response = parseAssertion(raw);
      if (!response) return undefined;
      const found = await repos.credentials.findPasskey(response.id);
      if (!found || found.userId !== userId) return undefined;
      const stored = { ...(found.data as unknown as StoredPasskey), credentialId: found.credentialId };
      const result = await verifyAuthentication({
        response,
        expectedChallenge: challenge,
        expectedOrigin: rp.origin,
        rpId: rp.rpId,
        passkey: stored,
        userId,
        requireUserVerification: requireUv,
      });
      if (!result.ok) return undefined;
      const updated = {
        ...stored,
        counter: result.newCounter,
        deviceType: result.deviceType,
        backedUp: result.backedUp,
      };
      await repos.credentials.updatePasskey(found.id, { ...found.data, ...updated });
      return { amr: passkeyAmr(updated) };
    }

    // ---- enrollment required by policy ----

    async function showEnroll(
      request: FastifyRequest,
      reply: FastifyReply,
      d: Details,
      state: SignInState,
      error?: string,
      status = 200,
    ) {
      const sealed = state.data?.secret;
      if (typeof sealed !== 'string') return reply.redirect(`${flow.base(d.uid)}/switch`, 303);
      const secret = backend.secretBox.decrypt(sealed, sealPurpose(d.uid));
      const email = state.email ?? '';
      const uri = totpKeyUri({ secret, accountName: email, issuer: issuerName(state) });
      return flow.html(
        reply,
        enrollPage({
          action: url(d.uid, '/enroll'),
          csrf: deps.csrf.token(request, reply),
          email,
          qrSvg: await totpQrSvg(uri),
          key: secret,
          error,
        }),
        status,
      );
    }
    flow.steps.set('enroll', showEnroll);

    function issuerName(_state: SignInState): string {
      return messages.productName;
    }

    app.post<{ Params: Params; Body: { code?: string } }>(
      '/interaction/:uid/2sv/enroll',
      async (request, reply) => {
        const d = await details(request, reply);
        if (!deps.csrf.verify(request)) return flow.csrfFailure(reply);
        const state = await pending(d.uid, 'enroll');
        if (!state || typeof state.data?.secret !== 'string') return reply.redirect(flow.base(d.uid), 303);
        const wait = await throttled(request, d, state, 'enroll');
        if (wait) return showEnroll(request, reply, d, state, wait, 429);
        const secret = backend.secretBox.decrypt(state.data.secret, sealPurpose(d.uid));
        const result = await verifyTotp({ secret, code: String(request.body?.code ?? '') });
        if (!result.ok) {
          await audit(request, d, state, 'enroll_2sv', 'failure', { method: 'totp', reason: result.reason });
          return showEnroll(request, reply, d, state, messages.enrollWrong, 401);
        }
        await repos.credentials.setTotp(state.userId, secret);
        const totp = await repos.credentials.totp(state.userId);
        // The confirming code is spent: it cannot be replayed as a second factor later.
        if (totp) await repos.credentials.acceptTotpStep(totp.id, null, result.step);
        const codes = await createRecoveryCodes(backend, state.userId);
        await audit(request, d, state, 'enroll_2sv', 'success', {
          method: 'totp',
          recoveryCodes: codes.length,
        });
        const next: SignInState = {
          ...state,
          step: 'recovery-codes',
          amr: ['pwd', 'otp'],
          data: { codes: backend.secretBox.encrypt(JSON.stringify(codes), sealPurpose(d.uid)) },
        };
        await services.states.put(d.uid, next);
        return showCodes(request, reply, d, next);
      },
    );

    async function showCodes(request: FastifyRequest, reply: FastifyReply, d: Details, state: SignInState) {
      const sealed = state.data?.codes;
      if (typeof sealed !== 'string') return reply.redirect(`${flow.base(d.uid)}/switch`, 303);
      const codes = JSON.parse(backend.secretBox.decrypt(sealed, sealPurpose(d.uid))) as string[];
      return flow.html(
        reply,
        recoveryCodesPage({
          codes,
          downloadHref: recoveryCodesDownload(state.email ?? '', codes),
          doneAction: url(d.uid, '/codes-saved'),
          csrf: deps.csrf.token(request, reply),
        }),
      );
    }
    flow.steps.set('recovery-codes', showCodes);

    app.post<{ Params: Params }>('/interaction/:uid/2sv/codes-saved', async (request, reply) => {
      const d = await details(request, reply);
      if (!deps.csrf.verify(request)) return flow.csrfFailure(reply);
      const state = await pending(d.uid, 'recovery-codes');
      if (!state) return reply.redirect(flow.base(d.uid), 303);
      return finish(request, reply, d, { ...state, data: undefined }, state.userId, ['pwd', 'otp']);
    });
  };
}

function parseAssertion(raw: unknown): AuthenticationResponseJSON | undefined {
  if (typeof raw !== 'string' || raw.length > 16_384) return undefined;
  try {
    const value = JSON.parse(raw) as AuthenticationResponseJSON;
    if (typeof value?.id !== 'string' || typeof value.response !== 'object') return undefined;
    return value;
  } catch {
    return undefined;
  }
}
