import type { SignInStateChange } from '../storage/repositories/sign-in-states.js';
import type { Repositories } from '../storage/repositories.js';

/** The steps of a sign-in, named as in the sign-in table (table.ts). */
export type StepName =
  | 'email'
  | 'route'
  | 'password'
  | 'passkey'
  | 'upstream'
  | 'policy'
  | 'second-factor'
  | 'enrollment'
  | 'recovery-codes'
  | 'finish'
  | 'launch';

/**
 * Per-interaction sign-in progress, kept server-side in `sign_in_states` keyed by the engine's
 * interaction uid (the engine's interaction record cannot hold custom state), so any server process
 * can serve any step.
 */
export interface SignInState {
  /** Where the sign-in stands; a GET of the interaction shows this step's page (Reload, Back). */
  step?: StepName | undefined;
  email?: string | undefined;
  organizationId?: string | undefined;
  /** Absent for an unknown email: the flow continues identically so nothing reveals it. */
  userId?: string | undefined;
  /** Methods Latchkey itself verified (RFC 8176 values), `fed` for a sign-in through the organization's IdP. */
  amr?: string[] | undefined;
  /** Methods the upstream IdP reported, passed on in the ID token. */
  upstreamAmr?: string[] | undefined;
  /** What proved a second factor at the upstream (federation/second-factor.ts), when something did. */
  upstreamSecondFactor?: string | undefined;
  /** Throttled attempts this sign-in counted; a successful sign-in gives back exactly these. */
  attempts?: number | undefined;
  /** The same for 2-step guesses, counted under their own keys (`twoStepKeys`). */
  twoStepAttempts?: number | undefined;
  /** "Not you?" was chosen on the handoff page: sign someone in instead of the session's user. */
  switching?: boolean | undefined;
  /** A message to show once on the next page (e.g. recovery codes left). */
  notice?: string | undefined;
  /** A problem to show once on the step's page after the redirect that answered a form post (flow.ts). */
  pending?: { text?: string | undefined; html?: string | undefined; status: number } | undefined;
  /** Data of the current step (a WebAuthn challenge, an enrollment secret…). */
  data?: Record<string, unknown> | undefined;
}

export interface SignInStateStore {
  get(uid: string): Promise<SignInState | undefined>;
  put(uid: string, state: SignInState): Promise<void>;
  delete(uid: string): Promise<void>;
  /** Keeps the app's authorization request of an interaction, for "Start again" after it is over. */
  rememberRequest(uid: string, request: AppRequest): Promise<void>;
  /** The app's request of an interaction, for a day after it started (expired, finished, another browser). */
  recallRequest(uid: string): Promise<AppRequest | undefined>;
  /** Several changes as one write, in order, all or none (`requestStates` flushes with it). */
  write(changes: readonly StateChange[]): Promise<void>;
}

/** A change `write` applies: a state saved or deleted, or an app's request remembered. */
export type StateChange =
  | { kind: 'put'; uid: string; state: SignInState }
  | { kind: 'delete'; uid: string }
  | { kind: 'remember'; uid: string; request: AppRequest };

/**
 * What Latchkey keeps of an app's authorization request, longer than the interaction itself: an
 * expired, finished or foreign sign-in can then offer "Start again" with the app's own request (its
 * state and PKCE challenge, so the waiting app accepts the code). Nothing in it is secret: it is
 * the URL the app opened in the browser.
 */
export interface AppRequest {
  clientId: string;
  /** The request's parameters as a query string (`/auth?<query>` replays it). */
  query: string;
  /** When the Launch / Continue click handed the code over. */
  finishedAt?: number | undefined;
  /** The interaction the engine continued this one as (sign-in done, launch page next): Back leads there. */
  next?: string | undefined;
}

/** How long the request outlives its interaction's start: a tab restored the next morning still finds it. */
export const APP_REQUEST_TTL_MS = 24 * 60 * 60 * 1000;
const requestKey = (uid: string) => `request:${uid}`;

/** The store over `sign_in_states`; a state lives as long as the engine's interaction. */
export function signInStateStore(
  signInStates: Repositories['signInStates'],
  interactionTtlMs: number,
): SignInStateStore {
  /** A change as the repository's row change, with its expiry from now. */
  const rowChange = (change: StateChange): SignInStateChange => {
    if (change.kind === 'delete') return { id: change.uid, data: null };
    if (change.kind === 'put') {
      return {
        id: change.uid,
        data: change.state as Record<string, unknown>,
        expiresAt: Date.now() + interactionTtlMs,
      };
    }
    return {
      id: requestKey(change.uid),
      data: change.request as unknown as Record<string, unknown>,
      expiresAt: Date.now() + Math.max(APP_REQUEST_TTL_MS, interactionTtlMs),
    };
  };
  return {
    get: async (uid) => (await signInStates.get(uid)) as SignInState | undefined,
    put: (uid, state) => signInStates.write([rowChange({ kind: 'put', uid, state })]),
    delete: (uid) => signInStates.write([rowChange({ kind: 'delete', uid })]),
    rememberRequest: (uid, request) => signInStates.write([rowChange({ kind: 'remember', uid, request })]),
    async recallRequest(uid) {
      const found = await signInStates.get(requestKey(uid));
      return found && typeof found.query === 'string' && typeof found.clientId === 'string'
        ? (found as unknown as AppRequest)
        : undefined;
    },
    write: (changes) => signInStates.write(changes.map(rowChange)),
  };
}

/** A request's view of the sign-in states (`requestStates`): the store's, plus `flush`. */
export interface RequestStates extends Omit<SignInStateStore, 'write'> {
  /** Writes what the request changed, as one write; a second call writes only what changed since. */
  flush(): Promise<void>;
}

/**
 * One request's sign-in states. A step saves as the sign-in moves (the email page's post saves the
 * email, then the route, then the password page's state: three saves) and several parts read the
 * same state and the app's request: here each is read from the store at most once per request,
 * and the changes are kept, the last per key, until `flush` writes them in one transaction. The
 * runner flushes before the answer leaves (flow.ts), so the browser's next request, on any process
 * of a fleet, finds them stored; a flush that fails turns the answer into an error page and writes
 * nothing.
 */
export function requestStates(store: SignInStateStore): RequestStates {
  /** What the request knows of a key (`state:<uid>`, `request:<uid>`), as JSON: as read, or as it changed it. */
  const known = new Map<string, string | undefined>();
  const pending = new Map<string, StateChange>();
  // Values go in and come out as copies through JSON, as through the database: a caller changing an
  // object it got or gave changes nothing kept, and what is read is exactly what a store would give.
  const thaw = <T>(text: string | undefined): T | undefined =>
    text === undefined ? undefined : (JSON.parse(text) as T);
  const read = async <T>(key: string, load: () => Promise<T | undefined>): Promise<T | undefined> => {
    if (!known.has(key)) {
      const value = await load();
      known.set(key, value === undefined ? undefined : JSON.stringify(value));
    }
    return thaw<T>(known.get(key));
  };
  /** Keeps `value` as the key's and the change to write; the change's value is a copy of it. */
  const change = <T>(key: string, value: T | undefined, entry: (copy: T) => StateChange) => {
    const text = value === undefined ? undefined : JSON.stringify(value);
    known.set(key, text);
    // Deleted and re-added keeps its place after the others, so the order of the changes is kept.
    pending.delete(key);
    pending.set(key, entry(thaw<T>(text) as T));
  };
  return {
    get: (uid) => read(`state:${uid}`, () => store.get(uid)),
    recallRequest: (uid) => read(`request:${uid}`, () => store.recallRequest(uid)),
    async put(uid, state) {
      change(`state:${uid}`, state, (copy) => ({ kind: 'put', uid, state: copy }));
    },
    async delete(uid) {
      change(`state:${uid}`, undefined, () => ({ kind: 'delete', uid }));
    },
    async rememberRequest(uid, request) {
      change(`request:${uid}`, request, (copy) => ({ kind: 'remember', uid, request: copy }));
    },
    async flush() {
      if (pending.size === 0) return;
      const changes = [...pending.values()];
      pending.clear();
      await store.write(changes);
    },
  };
}
