import type Provider from 'oidc-provider';
import { describe, expect, it } from 'vitest';
import { createAccessTokenAuth } from './access-token-auth.js';

/**
 * The engine's own lookup forgives its `clockTolerance` (15 s by default) past a token's `exp`, and
 * the storage row outlives `exp` by the moment it was written: neither may keep an expired access
 * token working at Latchkey's own endpoints (the live sign-out stream closes at `exp` and the app's
 * reconnect with the same token must be refused, not accepted for another 15 s).
 */
describe('access token authentication', () => {
  const authWith = (exp: number) =>
    createAccessTokenAuth({
      issuer: 'http://127.0.0.1:1',
      keys: { jwks: () => ({ keys: [] }) },
      isActiveAccount: async () => true,
      engine: () =>
        ({
          AccessToken: {
            find: async (token: string) =>
              token === 'opaque-token' ? { accountId: 'u1', clientId: 'app', grantId: 'g1', exp } : undefined,
          },
        }) as unknown as Provider,
    });
  const request = { method: 'GET', url: 'http://127.0.0.1:1/session/events', headers: {} };

  it('accepts an opaque token the engine finds before its expiry', async () => {
    const auth = authWith(Math.floor(Date.now() / 1000) + 60);
    const verdict = await auth({ scheme: 'Bearer', token: 'opaque-token' }, request);
    expect(verdict).toMatchObject({ ok: true, holder: { accountId: 'u1', grantId: 'g1' } });
  });

  it('refuses an opaque token past its exp even when the engine (clock tolerance) still finds it', async () => {
    const auth = authWith(Math.floor(Date.now() / 1000) - 1);
    const verdict = await auth({ scheme: 'Bearer', token: 'opaque-token' }, request);
    expect(verdict).toMatchObject({ ok: false, error: 'invalid_token' });
  });

  it('refuses a token the engine does not know', async () => {
    const auth = authWith(Math.floor(Date.now() / 1000) + 60);
    const verdict = await auth({ scheme: 'Bearer', token: 'other' }, request);
    expect(verdict).toMatchObject({ ok: false, error: 'invalid_token' });
  });
});
