import fastifyFormbody from '@fastify/formbody';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import type { SignInDeps } from './deps.js';
import { registerSignIn, type SignInTable, type Step } from './flow.js';
import type { SignInState, StepName } from './state.js';
import { SIGN_IN_TABLE } from './table.js';

const NAMES = Object.keys(SIGN_IN_TABLE) as StepName[];

describe('the sign-in table', () => {
  it('only the policy step reaches finish, and every first factor goes to the policy step', () => {
    expect(NAMES.filter((name) => SIGN_IN_TABLE[name].next.includes('finish'))).toEqual(['policy']);
    for (const first of ['password', 'passkey', 'upstream'] as const) {
      expect(SIGN_IN_TABLE[first].next).toEqual(['policy']);
    }
    expect(SIGN_IN_TABLE['second-factor'].next).toEqual(['policy']);
    expect(SIGN_IN_TABLE['recovery-codes'].next).toEqual(['policy']);
  });
});

describe('the sign-in runner', () => {
  /** A table of stand-in steps; the email step's route moves wherever it is asked to. */
  function app() {
    const states = new Map<string, SignInState>();
    const stub = (name: StepName): Step => ({ enter: async (_flow, s) => s.reply.send({ entered: name }) });
    const table = Object.fromEntries(
      NAMES.map((name) => [name, { step: stub(name), next: SIGN_IN_TABLE[name].next }]),
    ) as unknown as Record<StepName, { step: Step; next: readonly StepName[] }>;
    table.email = {
      ...table.email,
      step: {
        ...table.email.step,
        routes: [
          {
            method: 'POST',
            path: '/go/:to',
            csrf: false,
            at: 'any',
            handle: (flow, s, { params }) => flow.go(s, params.to as StepName, { email: 'a@b.test' }),
          },
        ],
      },
    };
    const deps = {
      engine: () => ({
        interactionDetails: async () => ({
          uid: 'u1',
          params: { client_id: 'app' },
          prompt: { name: 'login' },
        }),
      }),
      csrf: { verify: () => true, token: () => 't' },
      states: {
        get: async (uid: string) => states.get(uid),
        put: async (uid: string, state: SignInState) => void states.set(uid, state),
        delete: async (uid: string) => void states.delete(uid),
        rememberRequest: async () => {},
        recallRequest: async () => undefined,
      },
    } as unknown as SignInDeps;
    const fastify = Fastify();
    fastify.register(fastifyFormbody);
    fastify.register(async (scope) => registerSignIn(scope, table as SignInTable, deps));
    return { fastify, states };
  }

  it('moves along the table and saves where the sign-in stands', async () => {
    const { fastify, states } = app();
    const response = await fastify.inject({ method: 'POST', url: '/interaction/u1/go/route' });
    expect(response.json()).toEqual({ entered: 'route' });
    expect(states.get('u1')).toMatchObject({ step: 'route', email: 'a@b.test' });
  });

  it('refuses a move the table does not list (the email step cannot skip to finish)', async () => {
    const { fastify, states } = app();
    const response = await fastify.inject({ method: 'POST', url: '/interaction/u1/go/finish' });
    expect(response.statusCode).toBe(409);
    expect(response.json()).toMatchObject({ code: 'sign_in_step_refused' });
    expect(states.get('u1')).toBeUndefined();
  });
});
