import { setTimeout as sleep } from 'node:timers/promises';
import * as oauth from 'oauth4webapi';
import { type Context, requestOptions } from './context.js';
import { dpopOptions, sessionKey, withNonceRetry } from './dpop.js';
import { NetworkError, OAuthError, TimeoutError, toLatchkeyError, UserCancelledError } from './errors.js';
import { type AuthenticationResult, acceptTokens, verifyIdTokenSignature } from './tokens.js';

/** What to show the user during a device sign-in (RFC 8628 §3.3). */
export interface DeviceCodeInfo {
  /** The code the user types on the verification page. */
  userCode: string;
  /** Where to type it. */
  verificationUri: string;
  /** The same page with the code filled in: for a QR code or a clickable link (RFC 8628 §3.3.1). */
  verificationUriComplete?: string;
  /** Epoch milliseconds after which the code is dead. */
  expiresAt: number;
}

export interface DeviceCodeOptions {
  loginHint?: string;
  scopes?: string[];
  /** APIs to ask access to (RFC 8707 §2.1). Default: the client's `resources`. */
  resources?: string[];
  signal?: AbortSignal;
}

/**
 * The device authorization grant (RFC 8628): asks for a code (§3.1), shows it (§3.3), then polls the
 * token endpoint (§3.4) no faster than `interval` (default 5 s), adding 5 s on `slow_down` (§3.5).
 * `expired_token` becomes a `TimeoutError`; `access_denied` an `OAuthError` with that code.
 */
export async function deviceCodeFlow(
  ctx: Context,
  as: oauth.AuthorizationServer,
  onCode: (info: DeviceCodeInfo) => void | Promise<void>,
  options: DeviceCodeOptions,
): Promise<AuthenticationResult> {
  const parameters = new URLSearchParams({ scope: (options.scopes ?? ctx.scopes).join(' ') });
  if (options.loginHint) parameters.set('login_hint', options.loginHint);
  for (const resource of options.resources ?? ctx.resources) parameters.append('resource', resource);
  let authorization: oauth.DeviceAuthorizationResponse;
  try {
    const response = await oauth.deviceAuthorizationRequest(
      as,
      ctx.client,
      ctx.clientAuth,
      parameters,
      requestOptions(ctx),
    );
    authorization = await oauth.processDeviceAuthorizationResponse(as, ctx.client, response);
  } catch (error) {
    throw toLatchkeyError(error, 'Device authorization');
  }
  const expiresAt = Date.now() + authorization.expires_in * 1000;
  await onCode({
    userCode: authorization.user_code,
    verificationUri: authorization.verification_uri,
    ...(authorization.verification_uri_complete
      ? { verificationUriComplete: authorization.verification_uri_complete }
      : {}),
    expiresAt,
  });

  // RFC 9449: the session's key, made now and used for every poll (the tokens are bound to it).
  const dpopKey = await sessionKey(ctx, as, undefined);
  let interval = authorization.interval ?? 5;
  let networkFailures = 0;
  for (;;) {
    try {
      await sleep(interval * 1000, undefined, options.signal ? { signal: options.signal } : undefined);
    } catch (error) {
      throw new UserCancelledError('The device sign-in was cancelled', { cause: error });
    }
    if (Date.now() > expiresAt)
      throw new TimeoutError('The device code expired before the sign-in was approved');
    let response: Response | undefined;
    let tokens: oauth.TokenEndpointResponse;
    try {
      const dpop = await dpopOptions(ctx, dpopKey);
      tokens = await withNonceRetry(async () => {
        response = await oauth.deviceCodeGrantRequest(
          as,
          ctx.client,
          ctx.clientAuth,
          authorization.device_code,
          {
            ...requestOptions(ctx),
            ...dpop,
          },
        );
        return oauth.processDeviceCodeResponse(as, ctx.client, response);
      });
    } catch (error) {
      const failure = toLatchkeyError(error, 'Device code polling');
      if (failure instanceof NetworkError && ++networkFailures <= 3) continue;
      if (!(failure instanceof OAuthError)) throw failure;
      if (failure.error === 'authorization_pending') continue;
      if (failure.error === 'slow_down') {
        interval += 5;
        continue;
      }
      if (failure.error === 'expired_token') {
        throw new TimeoutError('The device code expired before the sign-in was approved', { cause: failure });
      }
      throw failure;
    }
    if (tokens.id_token) await verifyIdTokenSignature(ctx, as, response as unknown as Response);
    return acceptTokens(ctx, tokens, { requireIdToken: true, dpopKey });
  }
}
