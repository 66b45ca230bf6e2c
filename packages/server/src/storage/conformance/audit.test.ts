import { expect, it } from 'vitest';
import { newId } from '../../crypto/ids.js';
import { forEachDatabase } from './test-support/for-each-database.js';

/** The append-only audit log (repositories/audit.ts). */
forEachDatabase('audit events', (store) => {
  it('appends and queries by user, action, since and limit, newest first', async () => {
    const user = `audit-user-${newId()}`;
    await store.repos.audit.append({ action: 'sign_in', outcome: 'success', userId: user, ip: '10.0.0.1' });
    const mid = Date.now();
    await new Promise((r) => setTimeout(r, 5));
    await store.repos.audit.append({
      action: 'sign_in',
      outcome: 'failure',
      userId: user,
      details: { reason: 'x' },
    });
    await store.repos.audit.append({ action: 'sign_out', outcome: 'info', userId: user });
    await store.repos.audit.append({ action: 'sign_in', outcome: 'success', userId: 'someone-else' });

    const all = await store.repos.audit.query({ userId: user });
    expect(all.map((e) => e.action)).toEqual(['sign_out', 'sign_in', 'sign_in']);
    expect(all[1]).toMatchObject({ outcome: 'failure', details: { reason: 'x' }, userId: user });
    expect(all[2]?.ip).toBe('10.0.0.1');
    expect(await store.repos.audit.query({ userId: user, limit: 1 })).toHaveLength(1);
    expect((await store.repos.audit.query({ userId: user, since: mid + 1 })).map((e) => e.action)).toEqual([
      'sign_out',
      'sign_in',
    ]);
    expect(await store.repos.audit.query({ userId: user, action: 'sign_in' })).toHaveLength(2);
  });
});
