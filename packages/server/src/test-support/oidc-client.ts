import * as client from 'openid-client';
import type { BrowserContext, Page } from 'playwright-core';

/** openid-client (a standard RP library, not our SDK) configured for a public native client. */
export async function discover(issuer: string, clientId: string): Promise<client.Configuration> {
  return client.discovery(new URL(issuer), clientId, { token_endpoint_auth_method: 'none' }, client.None(), {
    execute: [client.allowInsecureRequests],
  });
}

export interface PendingAuth {
  url: URL;
  verifier: string;
  state: string;
  nonce: string;
  redirectUri: string;
}

export async function buildAuth(
  config: client.Configuration,
  redirectUri: string,
  extra: Record<string, string> = {},
): Promise<PendingAuth> {
  const verifier = client.randomPKCECodeVerifier();
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid email profile offline_access',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });
  return { url, verifier, state, nonce, redirectUri };
}

export async function exchange(config: client.Configuration, pending: PendingAuth, callbackUrl: string) {
  return client.authorizationCodeGrant(config, new URL(callbackUrl), {
    pkceCodeVerifier: pending.verifier,
    expectedState: pending.state,
    expectedNonce: pending.nonce,
    idTokenExpected: true,
  });
}

/**
 * Captures the redirect that hands the code to the app. The engine answers the handoff click with a
 * 303 to the app's URI; the Location header is exactly what the OS (scheme) or the app's loopback
 * listener would receive. Loopback requests are fulfilled so the browser does not show an error.
 */
export function captureRedirects(context: BrowserContext, prefix: string) {
  const seen: string[] = [];
  const waiters: ((url: string) => void)[] = [];
  const deliver = (url: string) => {
    const waiter = waiters.shift();
    if (waiter) waiter(url);
    else seen.push(url);
  };
  context.on('response', (response) => {
    const location = response.headers().location;
    if (location?.startsWith(prefix)) deliver(location);
  });
  return {
    next(timeoutMs = 15_000): Promise<string> {
      const ready = seen.shift();
      if (ready) return Promise.resolve(ready);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no redirect to ${prefix} within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push((url) => {
          clearTimeout(timer);
          resolve(url);
        });
      });
    },
  };
}

/** Email page → password page (the local-account path). Leaves the browser on the handoff page. */
export async function signInWithPassword(
  page: Page,
  url: URL | string,
  email: string,
  password: string,
): Promise<void> {
  await page.goto(url.toString());
  await page.getByLabel('Work email').fill(email);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#handoff').waitFor();
}
