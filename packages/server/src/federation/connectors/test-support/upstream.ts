import {
  type HeadlessSignInOptions,
  type StandinIdpOptions,
  type StandinUser,
  signInHeadless,
  startStandinIdp,
} from '../../../../../standin-idp/src/index.js';
import type { RedirectConnector, StartSignInInput, VerifiedIdentity } from '../types.js';

/** Latchkey's callback URL in these tests; nothing listens there, the headless browser stops at it. */
export const CALLBACK_URL = 'http://127.0.0.1:4000/upstream/callback';
export const CLIENT_ID = 'latchkey-upstream';
export const CLIENT_SECRET = 'upstream-secret';
export const TOTP_SECRET = 'JBSWY3DPEHPK3PXP';

export const USERS: StandinUser[] = [
  {
    email: 'alice@acme.test',
    password: 'alice-pw',
    totpSecret: TOTP_SECRET,
    name: 'Alice Liddell',
    groups: ['eng'],
  },
  { email: 'unverified@acme.test', password: 'pw', emailVerified: false },
  { email: 'outsider@other.test', password: 'pw' },
  { email: 'personal@gmail.test', password: 'pw', hd: '' },
];

export function startUpstream(options: Partial<StandinIdpOptions> = {}) {
  return startStandinIdp({
    users: USERS,
    clients: [{ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: [CALLBACK_URL] }],
    ...options,
  });
}

/** Starts a sign-in with the connector, goes through the stand-in's pages, and returns the callback. */
export async function browseUpstream(
  connector: RedirectConnector,
  start: Omit<StartSignInInput, 'callbackUrl' | 'state'> & { state?: string },
  user: HeadlessSignInOptions,
) {
  const state = start.state ?? `state-${Math.random().toString(36).slice(2)}`;
  const started = await connector.startSignIn({ callbackUrl: CALLBACK_URL, ...start, state });
  const result = await signInHeadless(started.url, user);
  return { started, callbackUrl: result.callbackUrl, steps: result.steps, state };
}

/** The whole round trip: start, sign in upstream, finish. */
export async function signInThrough(
  connector: RedirectConnector,
  start: Omit<StartSignInInput, 'callbackUrl' | 'state'>,
  user: HeadlessSignInOptions,
): Promise<VerifiedIdentity> {
  const { started, callbackUrl } = await browseUpstream(connector, start, user);
  return connector.finishSignIn({
    callbackUrl: CALLBACK_URL,
    currentUrl: callbackUrl,
    pending: started.pending,
  });
}
