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
}

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
  return {
    get: async (uid) => (await signInStates.get(uid)) as SignInState | undefined,
    put: (uid, state) =>
      signInStates.put(uid, state as Record<string, unknown>, Date.now() + interactionTtlMs),
    delete: (uid) => signInStates.delete(uid),
    rememberRequest: (uid, request) =>
      signInStates.put(
        requestKey(uid),
        request as unknown as Record<string, unknown>,
        Date.now() + Math.max(APP_REQUEST_TTL_MS, interactionTtlMs),
      ),
    async recallRequest(uid) {
      const found = await signInStates.get(requestKey(uid));
      return found && typeof found.query === 'string' && typeof found.clientId === 'string'
        ? (found as unknown as AppRequest)
        : undefined;
    },
  };
}
