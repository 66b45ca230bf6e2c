import type * as OpenId from 'openid-client';

/**
 * openid-client, loaded with the first sign-in through an OIDC connection (Google, Entra, Okta, any
 * OpenID provider), not when the server starts: a server whose organizations sign in locally or
 * through SAML never needs it (README, Performance: idle memory). One module for every user of it, so
 * that `loadedOpenId()` tells the error mapping whether an error can be openid-client's at all.
 */
let loaded: typeof OpenId | undefined;
let loading: Promise<typeof OpenId> | undefined;

export function loadOpenId(): Promise<typeof OpenId> {
  loading ??= import('openid-client').then((module) => {
    loaded = module;
    return module;
  });
  return loading;
}

/** openid-client if it has been loaded (an error can only be one of its classes then). */
export function loadedOpenId(): typeof OpenId | undefined {
  return loaded;
}
