import type { AuthenticationResult } from '../tokens.js';

/** Which access token a request wants (RFC 8707 resource, RFC 6749 §3.3 scopes). */
export interface TokenRequest {
  resource?: string;
  scopes?: string[];
}

/**
 * Access tokens in memory, one per resource + scope set; never written anywhere. Every flow that
 * gets tokens remembers them here; sign-out and a dead refresh token clear it.
 */
export interface AccessTokenCache {
  get(request: TokenRequest): AuthenticationResult | undefined;
  remember(request: TokenRequest, result: AuthenticationResult): AuthenticationResult;
  clear(): void;
}

/** The cache key of a request: the scope order does not matter. */
export function tokenKey(request: TokenRequest): string {
  return `${request.resource ?? ''}|${[...(request.scopes ?? [])].sort().join(' ')}`;
}

export function createAccessTokenCache(): AccessTokenCache {
  const tokens = new Map<string, AuthenticationResult>();
  return {
    get: (request) => tokens.get(tokenKey(request)),
    remember(request, result) {
      tokens.set(tokenKey(request), result);
      return result;
    },
    clear: () => tokens.clear(),
  };
}
