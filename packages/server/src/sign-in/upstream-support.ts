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
}

export const resultAd = (uid: string) => `upstream-result:${uid}`;

export function statusOf(error: UpstreamError): number {
  if (error.code === 'upstream_unreachable' || error.code === 'upstream_timeout') return 502;
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
};
