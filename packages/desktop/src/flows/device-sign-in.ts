import type { Context } from '../context.js';
import { type DeviceCodeInfo, type DeviceCodeOptions, deviceCodeFlow } from '../device.js';
import { UnsupportedError } from '../errors.js';
import { readHint } from '../session.js';
import type { AuthenticationResult } from '../tokens.js';
import type { AccessTokenCache } from './access-token-cache.js';

/** What a device sign-in needs. */
export interface DeviceSignInDeps {
  ctx: Context;
  cache: AccessTokenCache;
}

/**
 * RFC 8628 device sign-in (the protocol is in `device.ts`): checks the server offers it, defaults the
 * login hint to the last account's email, and keeps the access token for `getAccessToken`.
 */
export function createDeviceSignIn({
  ctx,
  cache,
}: DeviceSignInDeps): (
  onCode: (info: DeviceCodeInfo) => void | Promise<void>,
  options: DeviceCodeOptions,
) => Promise<AuthenticationResult> {
  return async (onCode, deviceOptions) => {
    const as = await ctx.metadata();
    if (!as.device_authorization_endpoint)
      throw new UnsupportedError('The server advertises no device_authorization_endpoint');
    const loginHint = deviceOptions.loginHint ?? (await readHint(ctx));
    const result = await deviceCodeFlow(ctx, as, onCode, {
      ...deviceOptions,
      ...(loginHint ? { loginHint } : {}),
    });
    return cache.remember({}, result);
  };
}
