import * as oauth from 'oauth4webapi';
import { apiRequestOptions, type Context } from '../context.js';
import { dpopOptions, withNonceRetry } from '../dpop.js';
import { toLatchkeyError } from '../errors.js';
import { readSession } from '../session.js';
import type { AccessTokenOptions, SilentSignIn } from './silent-sign-in.js';

/** Options of {@link LatchkeyClient.fetch}: a `fetch` init plus which access token to use. */
export interface ApiRequestInit {
  method?: string;
  headers?: ConstructorParameters<typeof Headers>[0];
  body?: string | Uint8Array | ArrayBuffer | URLSearchParams | ReadableStream | null;
  /** The API the access token is for (RFC 8707): its audience. */
  resource?: string;
  /** Scopes for the access token (a subset of the granted ones). */
  scopes?: string[];
}

export interface ApiFetchDeps {
  ctx: Context;
  silent: SilentSignIn;
}

/**
 * Calls an API with the session's access token: `Authorization: DPoP <token>` and a fresh proof
 * (RFC 9449 §7) signed by the session's key when the token is DPoP-bound, `Bearer` otherwise. A
 * resource server's `use_dpop_nonce` challenge (§9) is answered once with the nonce it sent. The
 * response comes back as it is (a 401 or 403 included); only a network failure throws.
 */
export function createApiFetch({ ctx, silent }: ApiFetchDeps) {
  return async (input: string | URL, init: ApiRequestInit = {}): Promise<Response> => {
    const url = new URL(input);
    const method = (init.method ?? 'GET').toUpperCase();
    const token = await silent.acquireToken({
      ...(init.resource ? { resource: init.resource } : {}),
      ...(init.scopes ? { scopes: init.scopes } : {}),
    } satisfies AccessTokenOptions);
    const session = await readSession(ctx);
    const key = token.tokenType === 'DPoP' ? session?.dpopKey : undefined;
    const dpop = await dpopOptions(ctx, key);
    const body = init.body ?? null;
    try {
      return await withNonceRetry(async () => {
        try {
          return await oauth.protectedResourceRequest(
            token.accessToken,
            method,
            url,
            new Headers(init.headers),
            body as Parameters<typeof oauth.protectedResourceRequest>[4],
            { ...apiRequestOptions(ctx), ...dpop } as oauth.ProtectedResourceRequestOptions,
          );
        } catch (error) {
          // A challenge other than "use this nonce" is the API's answer: hand the response back.
          if (error instanceof oauth.WWWAuthenticateChallengeError && !oauth.isDPoPNonceError(error))
            return error.response;
          throw error;
        }
      });
    } catch (error) {
      if (error instanceof oauth.WWWAuthenticateChallengeError) return error.response;
      throw toLatchkeyError(error, 'API request');
    }
  };
}
