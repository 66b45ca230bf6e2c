import { createHash, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { UpstreamError, type VerifiedIdentity } from '../federation/connectors/types.js';
import type { LinkRefusal } from '../federation/link.js';
import { messages } from '../pages/messages.js';

/** How long the browser may spend at the upstream before the round trip is refused. */
export const ROUND_TRIP_MS = 10 * 60_000;
/** Bound on building the upstream request (discovery, metadata): the person is waiting. */
export const START_TIMEOUT_MS = 12_000;

/** What the callback leaves for `/interaction/<uid>/upstream/complete`, sealed in the sign-in state. */
export interface SealedResult {
  connectionId: string;
  identity: VerifiedIdentity;
  /** SHA-256 of the browser binding set when the round trip started (see `bindBrowser`). */
  binding: string;
  /** The round trip (its `state`), which names the binding cookie. */
  roundTrip: string;
}

/**
 * The upstream round trip belongs to the browser that started it. Without this, an attacker could
 * start a sign-in for the victim's email, hand the victim the genuine IdP link, and once the victim
 * signed in there, finish the sign-in as the victim in the attacker's own browser (the identity
 * lands in the attacker's interaction). A random value goes to the starting browser as a cookie and
 * its hash into the round trip; the return hop (`/upstream/return`, a top-level GET after the IdP's
 * redirect or POST, so the SameSite=Lax cookie arrives) compares them before the identity can be used.
 */
const BINDING_COOKIE = 'lk_upstream';
export const RETURN_PATH = '/upstream/return';

const cookieName = (roundTrip: string) =>
  `${BINDING_COOKIE}_${createHash('sha256').update(roundTrip).digest('base64url').slice(0, 12)}`;

export const bindingHash = (value: string) => createHash('sha256').update(value).digest('base64url');

/** Sets the browser binding of a round trip; returns the hash to store with it. */
export function bindBrowser(reply: FastifyReply, roundTrip: string, secure: boolean): string {
  const value = randomBytes(32).toString('base64url');
  reply.setCookie(cookieName(roundTrip), value, {
    path: RETURN_PATH,
    httpOnly: true,
    sameSite: 'lax',
    secure,
    maxAge: ROUND_TRIP_MS / 1000,
  });
  return bindingHash(value);
}

/** Does this request come from the browser that started the round trip? Clears the cookie either way. */
export function sameBrowser(
  request: FastifyRequest,
  reply: FastifyReply,
  roundTrip: string,
  expected: string,
): boolean {
  const name = cookieName(roundTrip);
  const value = request.cookies[name];
  reply.clearCookie(name, { path: RETURN_PATH });
  return typeof value === 'string' && value.length > 0 && bindingHash(value) === expected;
}

export const resultAd = (uid: string) => `upstream-result:${uid}`;

export function statusOf(error: UpstreamError): number {
  if (
    error.code === 'upstream_unreachable' ||
    error.code === 'upstream_timeout' ||
    error.code === 'client_authentication_failed'
  )
    return 502;
  if (error.code === 'access_denied') return 403;
  return 400;
}

/** Anything a connector throws becomes an UpstreamError with a message safe to show. */
export function asUpstreamError(error: unknown): UpstreamError {
  if (error instanceof UpstreamError) return error;
  return new UpstreamError('invalid_response', messages.upstreamNotConfigured, { cause: error });
}

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new UpstreamError(
            'upstream_timeout',
            'The identity provider did not answer in time. Please retry.',
          ),
        ),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * What the provider answered, for the administrator (log line and audit event): its status, OAuth
 * error code and description, already bounded and stripped by the connector. Never rendered.
 */
export function providerDetails(error: UpstreamError): Record<string, unknown> {
  const answer = error.provider;
  if (!answer) return {};
  return {
    ...(answer.status !== undefined ? { providerStatus: answer.status } : {}),
    ...(answer.error !== undefined ? { providerError: answer.error } : {}),
    ...(answer.description !== undefined ? { providerErrorDescription: answer.description } : {}),
  };
}

/**
 * The claim a connector's own identity check failed on, for the audit event (the organization's
 * identity rule names its claim the same way: `identity_not_accepted`).
 */
const CLAIM_OF: Partial<Record<UpstreamError['code'], string>> = {
  wrong_hosted_domain: 'hd',
  email_unverified: 'email_verified',
  wrong_tenant: 'tid',
  subject_mismatch: 'sub',
};

export function claimDetails(error: UpstreamError): Record<string, unknown> {
  const claim = CLAIM_OF[error.code];
  return claim ? { claim } : {};
}

/** The cause chain's names and codes, for audit: never the upstream's own text. */
export function causeSummary(error: unknown): string | undefined {
  const cause = (error as { cause?: unknown }).cause;
  if (!cause) return undefined;
  const name = (cause as { name?: unknown }).name;
  const code = (cause as { code?: unknown }).code;
  const message = (cause as { message?: unknown }).message;
  return [name, code, typeof message === 'string' ? message.slice(0, 200) : undefined]
    .filter((v) => typeof v === 'string' && v)
    .join(': ');
}

export const REFUSAL_MESSAGES: Record<LinkRefusal, string> = {
  not_provisioned: messages.upstreamNotProvisioned,
  account_disabled: messages.upstreamAccountDisabled,
  wrong_organization: messages.upstreamWrongOrganization,
  email_taken: messages.upstreamEmailTaken,
  wrong_connection: messages.upstreamConnectionChanged,
  identity_not_accepted: messages.upstreamIdentityOutside,
};

/** The page's words for an identity the organization's rule refused, by the claim that failed it. */
export function identityRefusalMessage(problem: 'missing' | 'unverified' | 'outside_domains'): string {
  if (problem === 'missing') return messages.upstreamIdentityNoEmail;
  if (problem === 'unverified') return messages.upstreamIdentityUnverified;
  return messages.upstreamIdentityOutside;
}
