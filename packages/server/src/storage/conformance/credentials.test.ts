import { beforeAll, expect, it } from 'vitest';
import { DuplicateError } from '../errors.js';
import { createRepositories } from '../repositories.js';
import { org, race } from './test-support/fixtures.js';
import { forEachDatabase } from './test-support/for-each-database.js';

/** Passwords, TOTP, passkeys and recovery codes (repositories/credentials.ts). */
forEachDatabase('credentials', (store) => {
  let alice: string;
  let eve: string;
  beforeAll(async () => {
    await store.repos.organizations.upsertFromConfig(org('creds', ['creds.test']));
    alice = (await store.repos.users.create({ organizationId: 'creds', email: 'alice@creds.test' })).id;
    eve = (await store.repos.users.create({ organizationId: 'creds', email: 'eve@creds.test' })).id;
  });

  it('keeps one password per user', async () => {
    expect(await store.repos.credentials.passwordHash(alice)).toBeUndefined();
    await store.repos.credentials.setPassword(alice, '$argon2id$first');
    await store.repos.credentials.setPassword(alice, '$argon2id$second');
    expect(await store.repos.credentials.passwordHash(alice)).toBe('$argon2id$second');
    expect((await store.repos.credentials.methodsOf(alice)).password).toBe(true);
  });

  it('stores the TOTP secret encrypted and accepts each step once', async () => {
    await store.repos.credentials.setTotp(alice, 'JBSWY3DPEHPK3PXP');
    const totp = await store.repos.credentials.totp(alice);
    expect(totp).toMatchObject({ secret: 'JBSWY3DPEHPK3PXP', lastStep: null });
    const row = await store
      .raw()
      .selectFrom('credentials')
      .select('secret')
      .where('user_id', '=', alice)
      .where('type', '=', 'totp')
      .executeTakeFirstOrThrow();
    expect(row.secret).toMatch(/^v1\./);
    expect(row.secret).not.toContain('JBSWY3DPEHPK3PXP');

    const id = totp?.id as string;
    const otherRepos = createRepositories(store.other, store.box);
    const { fulfilled } = await race([
      store.repos.credentials.acceptTotpStep(id, null, 100),
      otherRepos.credentials.acceptTotpStep(id, null, 100),
    ]);
    expect(fulfilled.map((f) => f.value).sort()).toEqual([false, true]);
    expect((await store.repos.credentials.totp(alice))?.lastStep).toBe(100);
    expect(await store.repos.credentials.acceptTotpStep(id, null, 101)).toBe(false);
    expect(await store.repos.credentials.acceptTotpStep(id, 100, 101)).toBe(true);
  });

  it('passkeys are unique by credential id across users', async () => {
    const id = await store.repos.credentials.addPasskey(alice, 'cred-AAA', { publicKey: 'pk', counter: 0 });
    await expect(store.repos.credentials.addPasskey(eve, 'cred-AAA', {})).rejects.toBeInstanceOf(
      DuplicateError,
    );
    expect(await store.repos.credentials.findPasskey('cred-AAA')).toMatchObject({
      id,
      userId: alice,
      credentialId: 'cred-AAA',
      data: { publicKey: 'pk', counter: 0 },
    });
    expect(await store.repos.credentials.findPasskey('cred-BBB')).toBeUndefined();
    await store.repos.credentials.updatePasskey(id, { publicKey: 'pk', counter: 5 });
    expect((await store.repos.credentials.passkeys(alice))[0]?.data).toEqual({ publicKey: 'pk', counter: 5 });
    expect(await store.repos.credentials.removePasskey(eve, id)).toBe(false);
    expect(await store.repos.credentials.removePasskey(alice, id)).toBe(true);
  });

  it('recovery codes are used once, also under concurrency', async () => {
    await store.repos.credentials.replaceRecoveryCodes(alice, ['h1', 'h2', 'h3']);
    const codes = await store.repos.credentials.unusedRecoveryCodes(alice);
    expect(codes.map((c) => c.hash).sort()).toEqual(['h1', 'h2', 'h3']);
    const target = codes[0]?.id as string;
    const otherRepos = createRepositories(store.other, store.box);
    const { fulfilled } = await race([
      store.repos.credentials.useRecoveryCode(target),
      otherRepos.credentials.useRecoveryCode(target),
      store.repos.credentials.useRecoveryCode(target),
    ]);
    expect(fulfilled.map((f) => f.value).filter(Boolean)).toHaveLength(1);
    expect(await store.repos.credentials.unusedRecoveryCodes(alice)).toHaveLength(2);
    expect((await store.repos.credentials.methodsOf(alice)).recoveryCodes).toBe(2);
    await store.repos.credentials.replaceRecoveryCodes(alice, ['h4']);
    expect((await store.repos.credentials.unusedRecoveryCodes(alice)).map((c) => c.hash)).toEqual(['h4']);
    expect(await store.repos.credentials.removeType(alice, 'recovery_code')).toBe(1);
  });
});
