import fastifyFormbody from '@fastify/formbody';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import type { SignInDeps } from './deps.js';
import { registerSignIn, type SignInTable, type Step } from './flow.js';
import {
  requestStates,
  type SignInState,
  type SignInStateStore,
  type StateChange,
  type StepName,
} from './state.js';
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
  function app(options: { write?: (changes: readonly StateChange[]) => Promise<void> } = {}) {
    const states = new Map<string, SignInState>();
    /** Each write the store was asked for (a batch of changes), and when it was done. */
    const writes: StateChange[][] = [];
    const events: string[] = [];
    const userReads: string[] = [];
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
          {
            // Reads the user twice, as the password and policy steps of one post do.
            method: 'GET',
            path: '/user-twice',
            at: 'any',
            async handle(flow, s) {
              const [a, b] = [await flow.user(s, 'user-1'), await flow.user(s, 'user-1')];
              return s.reply.send({ same: a?.id === b?.id && a !== undefined });
            },
          },
          {
            // Saves three times on its way, as the email page's post does (email, route, the page).
            method: 'POST',
            path: '/thrice',
            csrf: false,
            at: 'any',
            async handle(flow, s) {
              await flow.save(s, { ...s.state, email: 'a@b.test' });
              await flow.save(s, { ...s.state, organizationId: 'o1' });
              return flow.go(s, 'route', { ...s.state, notice: 'hi' });
            },
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
      users: {
        byId: async (id: string) => {
          userReads.push(id);
          return { id, organizationId: 'o1', status: 'active' };
        },
      },
      states: {
        get: async (uid: string) => states.get(uid),
        put: async (uid: string, state: SignInState) => void states.set(uid, state),
        delete: async (uid: string) => void states.delete(uid),
        rememberRequest: async () => {},
        recallRequest: async () => undefined,
        write:
          options.write ??
          (async (changes: readonly StateChange[]) => {
            writes.push([...changes]);
            // A slow database: the answer must still wait for it.
            await new Promise((resolve) => setTimeout(resolve, 30));
            for (const c of changes) {
              if (c.kind === 'put') states.set(c.uid, c.state);
              if (c.kind === 'delete') states.delete(c.uid);
            }
            events.push('written');
          }),
      },
    } as unknown as SignInDeps;
    const fastify = Fastify();
    fastify.register(fastifyFormbody);
    fastify.register(async (scope) => registerSignIn(scope, table as SignInTable, deps));
    return { fastify, states, writes, events, userReads };
  }

  it('a request that saves several times writes once, the last state, before its answer leaves', async () => {
    const { fastify, states, writes, events } = app();
    const response = await fastify.inject({ method: 'POST', url: '/interaction/u1/thrice' });
    expect(response.json()).toEqual({ entered: 'route' });
    // The answer arrived after the (slow) write had finished, not before.
    expect(events).toEqual(['written']);
    expect(writes).toHaveLength(1);
    expect(writes[0]).toHaveLength(1);
    expect(writes[0]?.[0]).toMatchObject({ kind: 'put', uid: 'u1' });
    expect(states.get('u1')).toEqual({
      step: 'route',
      email: 'a@b.test',
      organizationId: 'o1',
      notice: 'hi',
    });
  });

  it('reads a user once per request', async () => {
    const { fastify, userReads } = app();
    for (let i = 0; i < 2; i++) {
      const response = await fastify.inject({ method: 'GET', url: '/interaction/u1/user-twice' });
      expect(response.json()).toEqual({ same: true });
    }
    expect(userReads).toEqual(['user-1', 'user-1']);
  });

  it('a write that fails turns the answer into an error and stores nothing', async () => {
    const { fastify, states } = app({
      write: async () => {
        throw new Error('database is down');
      },
    });
    const response = await fastify.inject({ method: 'POST', url: '/interaction/u1/thrice' });
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain('entered');
    expect(states.get('u1')).toBeUndefined();
  });

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

describe("a request's sign-in states", () => {
  /** A store that counts its reads and keeps its writes. */
  function counted() {
    const rows = new Map<string, SignInState>([['u1', { step: 'email' }]]);
    const reads: string[] = [];
    const writes: StateChange[][] = [];
    const store: SignInStateStore = {
      get: async (uid) => {
        reads.push(uid);
        return rows.get(uid);
      },
      put: async () => expect.fail('the request writes through write()'),
      delete: async () => expect.fail('the request writes through write()'),
      rememberRequest: async () => expect.fail('the request writes through write()'),
      recallRequest: async (uid) => {
        reads.push(`request:${uid}`);
        return { clientId: 'app', query: 'a=1' };
      },
      write: async (changes) => void writes.push([...changes]),
    };
    return { store, reads, writes };
  }

  it('reads each key once, and sees its own changes', async () => {
    const { store, reads } = counted();
    const states = requestStates(store);
    expect(await states.get('u1')).toEqual({ step: 'email' });
    expect(await states.get('u1')).toEqual({ step: 'email' });
    await states.recallRequest('u1');
    await states.recallRequest('u1');
    expect(reads).toEqual(['u1', 'request:u1']);
    await states.put('u1', { step: 'password' });
    expect(await states.get('u1')).toEqual({ step: 'password' });
    await states.delete('u1');
    expect(await states.get('u1')).toBeUndefined();
    expect(reads).toHaveLength(2);
  });

  it('gives and keeps copies: changing an object after put or get changes nothing kept', async () => {
    const { store, writes } = counted();
    const states = requestStates(store);
    const given: SignInState = { step: 'password', amr: ['pwd'] };
    await states.put('u1', given);
    given.amr?.push('otp');
    const got = await states.get('u1');
    got?.amr?.push('hwk');
    expect(await states.get('u1')).toEqual({ step: 'password', amr: ['pwd'] });
    await states.flush();
    expect(writes[0]).toEqual([{ kind: 'put', uid: 'u1', state: { step: 'password', amr: ['pwd'] } }]);
  });

  it('writes the last change of each key, in the order of the last changes, once', async () => {
    const { store, writes } = counted();
    const states = requestStates(store);
    await states.put('u1', { step: 'route' });
    await states.rememberRequest('u1', { clientId: 'app', query: 'a=1', finishedAt: 5 });
    await states.put('u1', { step: 'password' });
    await states.delete('u1');
    await states.flush();
    await states.flush();
    expect(writes).toEqual([
      [
        { kind: 'remember', uid: 'u1', request: { clientId: 'app', query: 'a=1', finishedAt: 5 } },
        { kind: 'delete', uid: 'u1' },
      ],
    ]);
    await states.put('u2', { step: 'email' });
    await states.flush();
    expect(writes[1]).toEqual([{ kind: 'put', uid: 'u2', state: { step: 'email' } }]);
  });
});
