import { describe, expect, it } from 'vitest';
import { redactConfig } from './redact.js';
import type { LatchkeyConfig } from './types.js';

describe('redactConfig', () => {
  it('removes every secret value', () => {
    const config = {
      secret: 'operator-secret-value-0123456789abcdef',
      databaseUrl: 'postgres://u:db-pass-value@db/x',
      redisUrl: 'redis://:redis-pass-value@cache:6379',
      clients: [{ id: 'w', secret: 'client-secret-value' }],
      organizations: [
        { connection: { type: 'google', clientSecret: 'google-secret-value' } },
        { connection: { type: 'local' } },
      ],
      users: [{ email: 'a@b.test', password: 'password-value', totpSecret: 'JBSWY3DPEHPK3PXP' }],
    } as unknown as LatchkeyConfig;
    const text = JSON.stringify(redactConfig(Object.freeze(config)));
    for (const secret of [
      'operator-secret',
      'db-pass-value',
      'redis-pass-value',
      'client-secret-value',
      'google-secret-value',
      'password-value',
      'JBSWY3DPEHPK3PXP',
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('postgres://u:redacted@db/x');
    expect(text).toContain('a@b.test');
  });
});
