import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import type { AuditInput } from '../domain/audit.js';
import type { UserView } from '../domain/directory.js';
import { parseWorkEmail } from '../domain/emails.js';
import { ServerError } from '../errors/server-error.js';
import { type Brand, DEFAULT_BRAND } from '../pages/brand.js';
import { raw, type SafeHtml } from '../pages/index.js';
import { messages } from '../pages/messages.js';
import { messagePage } from '../pages/sign-in-pages.js';
import { acceptFormsOnly, sendPage } from '../web/reply.js';
import { appRequestOf, SignInOverError } from './app-request.js';
import type { SignInDeps } from './deps.js';
import { type RequestStates, requestStates, type SignInState, type StepName } from './state.js';

export type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

/** One request's view of one sign-in: the engine's interaction, its state, the app. Built once per request. */
export interface SignIn {
  request: FastifyRequest;
  reply: FastifyReply;
  details: Details;
  uid: string;
  clientId: string;
  state: SignInState;
  /** This request's sign-in states (state.ts, `requestStates`): written when the answer goes out. */
  states: RequestStates;
  /** The users this request read (`StepFlow.user`). */
  users?: Map<string, Promise<UserView | undefined>>;
}

/** A message to show on a step's page, with the status of the answer. */
export interface Problem {
  message: string | SafeHtml;
  status: number;
}

/** A route of a step, under `/interaction/:uid`. */
export interface StepRoute {
  method: 'GET' | 'POST';
  path: string;
  /** CSRF check of a POST: a form field (default for POST) or the JSON API of passkey ceremonies. */
  csrf?: 'form' | 'json' | false;
  /**
   * Which step the sign-in must stand at for the route to run (default: the step that owns the
   * route); otherwise the person is sent back to the page of the step they are at. `any` for routes
   * that start something new (the discoverable passkey from the email page).
   */
  at?: StepName | 'any';
  handle(
    flow: StepFlow,
    s: SignIn,
    input: { body: Record<string, unknown>; params: Record<string, string> },
  ): Promise<FastifyReply>;
}

/**
 * A step of the sign-in: one job, in one module. `enter` runs when the flow arrives at the step
 * (it shows the step's page or moves on); `show` shows its page again for the current state (a GET
 * of the interaction: Reload, Back, a restored tab).
 */
export interface Step {
  enter(flow: StepFlow, s: SignIn): Promise<FastifyReply>;
  show?(flow: StepFlow, s: SignIn, problem?: Problem): Promise<FastifyReply>;
  routes?: StepRoute[];
}

/** One line of the sign-in table: the step and where it may go next. */
export interface TableEntry {
  step: Step;
  next: readonly StepName[];
}

export type SignInTable = Readonly<Record<StepName, TableEntry>>;

/** What a step may do with the flow; `go` only follows the table. */
export interface StepFlow {
  readonly deps: SignInDeps;
  /** Moves to the next step, which must follow this one in the table; saves the state first. */
  go(s: SignIn, to: StepName, state: SignInState): Promise<FastifyReply>;
  /** Back to the email page with a clean state ("Not you?", "Start again"). */
  restart(s: SignIn, keep?: Pick<SignInState, 'switching'>, problem?: Problem): Promise<FastifyReply>;
  /** Shows the page of the step the sign-in stands at. */
  showCurrent(s: SignIn, problem?: Problem): Promise<FastifyReply>;
  save(s: SignIn, state: SignInState): Promise<void>;
  /**
   * A step's page. Answering a form post, it is not sent: the state (with the problem, shown once)
   * is saved and the browser is sent 303 to the step's own GET URL (Post/Redirect/Get), so Reload
   * and Back never resend a form.
   */
  page(s: SignIn, body: string, problem?: Problem | number): Promise<FastifyReply>;
  /** A readable message page (errors, refusals), optionally with "Start again". */
  message(
    s: SignIn,
    input: { title?: string; message: string | SafeHtml; status: number; startAgain?: boolean },
  ): FastifyReply;
  url(s: SignIn, path?: string): string;
  csrfToken(s: SignIn): string;
  appName(s: SignIn): Promise<string>;
  /**
   * The user, read once per request: the password step checks the account and the policy step,
   * entered next in the same request, checks it again.
   */
  user(s: SignIn, id: string): Promise<UserView | undefined>;
  /**
   * The brand this sign-in's pages show: its organization's once known (the state's, or the one
   * given: the browser session's user's on the launch page), else its app's, else the instance's.
   */
  brand(s: SignIn, organizationId?: string): Brand;
  audit(s: SignIn, event: Omit<AuditInput, 'clientId' | 'ip' | 'userAgent'>): Promise<void>;
}

/** A problem kept in the state across the redirect after a post (SafeHtml as its markup). */
function pendingOf(problem: Problem): NonNullable<SignInState['pending']> {
  return typeof problem.message === 'string'
    ? { text: problem.message, status: problem.status }
    : { html: problem.message.value, status: problem.status };
}

function problemOf(pending: NonNullable<SignInState['pending']>): Problem {
  return {
    message: pending.html !== undefined ? raw(pending.html) : (pending.text ?? ''),
    status: pending.status,
  };
}

export const interactionBase = (uid: string) => `/interaction/${encodeURIComponent(uid)}`;

/**
 * The sign-in runner: registers every step's routes behind one shared opening (the engine's
 * interaction, the sign-in state, the CSRF check, loaded once per request), and moves between
 * steps only along the table, so no path can skip a step the table puts in its way (the policy).
 */
export function registerSignIn(app: FastifyInstance, table: SignInTable, deps: SignInDeps): void {
  acceptFormsOnly(app);
  // What a request changed in the sign-in states is written once, before its answer leaves: the
  // browser's next request finds it. Encapsulated: this hook sees the sign-in's routes only.
  const pendingStates = new WeakMap<FastifyRequest, RequestStates>();
  app.addHook('onSend', async (request, _reply, payload) => {
    await pendingStates.get(request)?.flush();
    return payload;
  });
  const flows = new Map<StepName, StepFlow>();

  const flowFor = (from: StepName): StepFlow => {
    const existing = flows.get(from);
    if (existing) return existing;
    const flow: StepFlow = {
      deps,
      async go(s, to, state) {
        if (!table[from].next.includes(to)) {
          throw new ServerError('sign_in_step_refused', `sign-in step ${from} may not go to ${to}`, {
            expose: false,
          });
        }
        const next: SignInState = { ...state, step: to };
        await flow.save(s, next);
        s.state = next;
        return table[to].step.enter(flowFor(to), s);
      },
      async restart(s, keep = {}, problem) {
        const fresh: SignInState = { step: 'email', switching: keep.switching };
        await flow.save(s, fresh);
        s.state = fresh;
        const email = table.email.step;
        return email.show ? email.show(flowFor('email'), s, problem) : email.enter(flowFor('email'), s);
      },
      showCurrent(s, problem) {
        return show(s, problem);
      },
      async save(s, state) {
        await s.states.put(s.uid, state);
        s.state = state;
      },
      async page(s, body, problem) {
        const status = (typeof problem === 'number' ? problem : problem?.status) ?? 200;
        if (s.request.method !== 'POST') return sendPage(s.reply, body, status);
        const pending = typeof problem === 'object' ? pendingOf(problem) : undefined;
        await flow.save(s, { ...s.state, pending });
        return s.reply.redirect(stepUrl(s.uid, s.state.step ?? 'email'), 303);
      },
      message(s, input) {
        return sendPage(
          s.reply,
          messagePage({
            brand: flow.brand(s),
            title: input.title ?? messages.errorTitle,
            message: input.message,
            links: input.startAgain
              ? [{ href: `${interactionBase(s.uid)}/switch`, label: messages.upstreamStartAgain }]
              : [],
          }),
          input.status,
        );
      },
      brand: (s, organizationId = s.state.organizationId) =>
        deps.brands?.pick({ organizationId, clientId: s.clientId }) ?? DEFAULT_BRAND,
      url: (s, path = '') => `${interactionBase(s.uid)}${path}`,
      csrfToken: (s) => deps.csrf.token(s.request, s.reply),
      user(s, id) {
        s.users ??= new Map();
        let read = s.users.get(id);
        if (!read) {
          read = deps.users.byId(id);
          s.users.set(id, read);
        }
        return read;
      },
      async appName(s) {
        const client = await deps.engine().Client.find(s.clientId);
        return client?.clientName ?? s.clientId;
      },
      audit: (s, event) =>
        deps.audit({
          ...event,
          clientId: s.clientId,
          ip: s.request.ip,
          userAgent: s.request.headers['user-agent'],
        }),
    };
    flows.set(from, flow);
    return flow;
  };

  /** The page of the step the sign-in stands at (the email page when it has not started). */
  async function show(s: SignIn, problem?: Problem): Promise<FastifyReply> {
    const name = s.state.step ?? 'email';
    const entry = table[name];
    if (entry?.step.show) return entry.step.show(flowFor(name), s, problem);
    return flowFor('email').restart(s, { switching: s.state.switching }, problem);
  }

  /** The shared opening of every route: the interaction, its state and (for posts) the CSRF check. */
  async function open(request: FastifyRequest, reply: FastifyReply): Promise<SignIn> {
    let details: Details;
    try {
      details = await deps.engine().interactionDetails(request.raw, reply.raw);
    } catch (error) {
      // Expired, finished, opened in another browser, cookies cleared: the person starts again,
      // with the app's own request when Latchkey still has it (http/app.ts renders the page).
      const uid = (request.params as { uid?: unknown } | undefined)?.uid;
      const known =
        typeof uid === 'string' ? await deps.states.recallRequest(uid).catch(() => undefined) : undefined;
      const client = known
        ? await deps
            .engine()
            .Client.find(known.clientId)
            .catch(() => undefined)
        : undefined;
      throw new SignInOverError(
        { request: known, appName: client ? (client.clientName ?? client.clientId) : undefined },
        { cause: error },
      );
    }
    const states = requestStates(deps.states);
    pendingStates.set(request, states);
    const state = (await states.get(details.uid)) ?? {};
    return {
      request,
      reply,
      details,
      uid: details.uid,
      clientId: String(details.params.client_id),
      state,
      states,
    };
  }

  const csrfRefused = (s: SignIn, kind: 'form' | 'json') =>
    kind === 'json'
      ? s.reply.code(403).send({ error: 'csrf' })
      : flowFor('email').message(s, { message: messages.errorCsrf, status: 403 });

  for (const name of Object.keys(table) as StepName[]) {
    for (const route of table[name].step.routes ?? []) {
      const path = `/interaction/:uid${route.path}`;
      const handler = async (
        request: FastifyRequest<{ Params: Record<string, string>; Body: Record<string, unknown> }>,
        reply: FastifyReply,
      ) => {
        const s = await open(request, reply);
        const csrf = route.csrf ?? (route.method === 'POST' ? 'form' : false);
        if (csrf && !deps.csrf.verify(request)) return csrfRefused(s, csrf);
        const at = route.at ?? name;
        if (at !== 'any' && (s.state.step ?? 'email') !== at) {
          if (csrf === 'json') return reply.code(409).send({ error: 'state' });
          return reply.redirect(interactionBase(s.uid), 303);
        }
        const body = request.body && typeof request.body === 'object' ? request.body : {};
        return route.handle(flowFor(name), s, { body, params: request.params });
      };
      if (route.method === 'GET') app.get(path, handler);
      else app.post(path, handler);
    }
  }

  /** Steps whose page has a URL of its own, `/interaction/<uid>/<step>` (the others show at the interaction's URL). */
  const ownUrl = new Set<StepName>();
  for (const name of Object.keys(table) as StepName[]) {
    const { step } = table[name];
    const taken = (step.routes ?? []).some((r) => r.method === 'GET' && r.path === `/${name}`);
    if (!step.show || taken) continue;
    ownUrl.add(name);
    app.get<{ Params: { uid: string } }>(`/interaction/:uid/${name}`, async (request, reply) => {
      const s = await open(request, reply);
      const at = s.state.step ?? 'email';
      if (at !== name) return reply.redirect(stepUrl(s.uid, at), 303);
      const problem = s.state.pending ? problemOf(s.state.pending) : undefined;
      if (s.state.pending) await flowFor(name).save(s, { ...s.state, pending: undefined });
      return show(s, problem);
    });
  }
  function stepUrl(uid: string, name: StepName): string {
    return ownUrl.has(name) ? `${interactionBase(uid)}/${name}` : interactionBase(uid);
  }

  /** The interaction's own URL: the launch page for a live browser session, else the current step. */
  app.get<{ Params: { uid: string } }>('/interaction/:uid', async (request, reply) => {
    const s = await open(request, reply);
    // The engine's hook keeps the request as the app sent it; this covers a request it did not see (a POST to /auth).
    if (!s.state.step && !(await s.states.recallRequest(s.uid)))
      await s.states.rememberRequest(s.uid, appRequestOf(s.details));
    const sessionAccount = s.details.session?.accountId;
    if (s.details.prompt.name === 'consent' && sessionAccount && !s.state.switching) {
      return table.launch.step.enter(flowFor('launch'), s);
    }
    const hint =
      typeof s.details.params.login_hint === 'string'
        ? parseWorkEmail(s.details.params.login_hint)
        : undefined;
    if (!s.state.step && hint) return flowFor('email').go(s, 'route', { email: hint });
    return show(s);
  });
}
