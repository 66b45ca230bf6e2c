import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';
import { markRotating } from './refresh-reuse-grace.js';
import type { HeldConsume, RecordValues } from './rotation-commit.js';
import { asUnavailable } from './unavailable.js';

/**
 * The held rotation: in a refresh grant, the consume of the old refresh token is held back until the
 * access token's save (the rotation's last write) and then committed once, together with the
 * successor refresh token and the access token (rotation-commit.ts). State is kept per engine request
 * (keyed by its context); `heldWritesMiddleware` settles whatever a request still holds when its
 * response is ready.
 */

/** A rotation whose consume is held back until the request's last write. */
export interface HeldRotation {
  consume: HeldConsume;
  records: RecordValues[];
  commit(consume: HeldConsume, records: RecordValues[]): Promise<boolean>;
}
const heldRotations = new WeakMap<object, HeldRotation>();

/** The rotation the engine request `ctx` holds, if any. */
export function heldRotationOf(ctx: object | undefined): HeldRotation | undefined {
  return ctx ? heldRotations.get(ctx) : undefined;
}

/** Holds `consume` in `ctx` until its last write; `commit` runs it with the records written meanwhile. */
export function holdConsume(ctx: object, consume: HeldConsume, commit: HeldRotation['commit']): void {
  heldRotations.set(ctx, { consume, records: [], commit });
}

/** A record the engine saves while `ctx` holds a rotation: joins it, and the access token commits it. */
export async function writeHeld(
  ctx: object,
  held: HeldRotation,
  model: string,
  record: RecordValues,
): Promise<void> {
  held.records.push(record);
  // The successor waits for the access token, the rotation's last write. (An access token that
  // is a JWT is not stored: then the engine middleware commits, heldWritesMiddleware.)
  if (model === 'RefreshToken') return;
  await commitHeld(ctx, held);
}

/** Commits a held rotation; the engine's InvalidGrant when another use of the token won meanwhile. */
async function commitHeld(ctx: object, held: HeldRotation): Promise<void> {
  heldRotations.delete(ctx);
  if (!(await held.commit(held.consume, held.records))) {
    // Consumed between this request's read and its commit: the two uses overlapped, a race. Exactly
    // one wins; this one is refused and nothing is revoked (as in the adapter's `consume`).
    throw new errors.InvalidGrant('refresh token already used');
  }
  markRotating(ctx, held.consume.id, held.consume.at);
}

/**
 * Engine middleware (`provider.use`) that settles what a request left held when its response is
 * ready: committed behind a successful response, dropped behind an error. The adapter commits at the
 * access token's save; this commits when the engine stores nothing after the successor refresh token
 * (a JWT access token for an API). A failed commit is answered as the engine answers a failure inside
 * the grant (the engine has already emitted `grant.success`; metrics count a grant on its response).
 */
export function heldWritesMiddleware(
  provider: Provider,
  onServerError?: (ctx: unknown, error: Error) => void,
): Parameters<Provider['use']>[0] {
  return async (ctx, next) => {
    await next();
    const held = heldRotations.get(ctx);
    if (!held) return;
    if (ctx.status >= 400) {
      heldRotations.delete(ctx);
      return;
    }
    try {
      await commitHeld(ctx, held);
    } catch (caught) {
      const error = asUnavailable(caught) as Error & {
        expose?: boolean;
        statusCode?: number;
        error_description?: string;
      };
      ctx.status = error.expose && error.statusCode ? error.statusCode : 500;
      ctx.body = error.expose
        ? { error: error.message, error_description: error.error_description }
        : { error: 'server_error', error_description: 'oops! something went wrong' };
      if (!error.expose) onServerError?.(ctx, error);
      provider.emit('grant.error', ctx, error);
    }
  };
}
