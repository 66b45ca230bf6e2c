import type * as oauth from 'oauth4webapi';
import { describe, expect, it } from 'vitest';
import type { Context } from './context.js';
import { readSession, type StoredSession } from './session.js';
import { createMemoryStore } from './stores/memory-store.js';
import { acceptTokens } from './tokens.js';

function context(): Context {
  return {
    issuer: new URL('https://sso.example.test/'),
    clientId: 'app',
    store: createMemoryStore(),
    cachePrefix: '/nonexistent/latchkey-tokens-test',
    storeKey: 'latchkey:app@https://sso.example.test/',
  } as Context;
}

const previous: StoredSession = {
  version: 1,
  refreshToken: 'old',
  account: { issuer: 'https://sso.example.test/', clientId: 'app', subject: 'u1', email: 'u1@example.test' },
  updatedAt: 0,
};

describe('acceptTokens', () => {
  it('stores the refresh token lifetime when the server tells it (refresh_token_expires_in)', async () => {
    const ctx = context();
    const before = Date.now();
    await acceptTokens(
      ctx,
      {
        access_token: 'at',
        token_type: 'bearer',
        refresh_token: 'new',
        refresh_token_expires_in: 600,
      } as oauth.TokenEndpointResponse,
      { previous, requireIdToken: false },
    );
    const session = await readSession(ctx);
    expect(session?.refreshToken).toBe('new');
    expect(session?.expiresAt).toBeGreaterThanOrEqual(before + 600_000);
    expect(session?.expiresAt).toBeLessThanOrEqual(Date.now() + 600_000);
  });

  it('stores no expiry when the server tells none, and keeps none from a rotated token', async () => {
    const ctx = context();
    await acceptTokens(
      ctx,
      { access_token: 'at', token_type: 'bearer', refresh_token: 'new' } as oauth.TokenEndpointResponse,
      { previous: { ...previous, expiresAt: Date.now() + 1000 }, requireIdToken: false },
    );
    expect((await readSession(ctx))?.expiresAt).toBeUndefined();
  });
});
