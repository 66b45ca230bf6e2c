import { type AdapterConstructor, type AdapterPayload, errors } from 'oidc-provider';
import { beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../crypto/ids.js';
import { listAccountRecords, revokeAllForAccount } from '../account-records.js';
import { createOidcAdapter } from '../oidc-adapter.js';
import { rehashLegacyRecords } from '../record-ids.js';
import { race } from './test-support/fixtures.js';
import { forEachDatabase } from './test-support/for-each-database.js';

const RECORD_ID_KEY = Buffer.alloc(32, 7);

/** The engine's records (oidc-adapter.ts and its parts): single use, revocation, the refresh-token reuse grace. */
forEachDatabase('oidc-provider adapter', (store) => {
  let clock = 1_700_000_000_000;
  let grace = 30_000;
  let Adapter: AdapterConstructor;
  let OtherAdapter: AdapterConstructor;
  /** What the adapter reported through `onRefreshFamilyRevoked`. */
  const revoked: {
    reason: string;
    grantId: string;
    clientId: string | undefined;
    accountId: string | undefined;
  }[] = [];
  const options = {
    refreshReuseGraceMs: () => grace,
    recordIdKey: RECORD_ID_KEY,
    now: () => clock,
    onRefreshFamilyRevoked: (event: (typeof revoked)[number]) => {
      revoked.push(event);
    },
  };

  beforeAll(() => {
    Adapter = createOidcAdapter(store.database, options);
    OtherAdapter = createOidcAdapter(store.other, options);
  });

  const payload = (extra: Partial<AdapterPayload> = {}): AdapterPayload => ({
    clientId: 'desk',
    accountId: 'acct-1',
    ...extra,
  });

  it('upsert / find / expiry / destroy', async () => {
    const at = new Adapter('AccessToken');
    await at.upsert('at-1', payload({ grantId: 'g-basic', scope: 'openid' }), 60);
    // `jti` is the value asked for (the stored payload does not carry it: record-ids.ts).
    expect(await at.find('at-1')).toEqual(payload({ grantId: 'g-basic', scope: 'openid', jti: 'at-1' }));
    // Models are separate namespaces.
    expect(await new Adapter('RefreshToken').find('at-1')).toBeUndefined();
    // Upsert replaces the payload.
    await at.upsert('at-1', payload({ grantId: 'g-basic', scope: 'openid email' }), 60);
    expect((await at.find('at-1'))?.scope).toBe('openid email');
    clock += 60_000;
    expect(await at.find('at-1')).toBeUndefined();
    clock -= 60_000;
    await at.destroy('at-1');
    expect(await at.find('at-1')).toBeUndefined();
    // No expiresIn: kept until destroyed.
    await at.upsert('at-forever', payload(), 0);
    clock += 10 ** 9;
    expect(await at.find('at-forever')).toBeDefined();
    clock -= 10 ** 9;
  });

  it('findByUid and findByUserCode', async () => {
    const sessions = new Adapter('Session');
    await sessions.upsert(
      'sess-1',
      { uid: 'uid-1', accountId: 'acct-1', kind: 'Session' } as AdapterPayload,
      600,
    );
    expect((await sessions.findByUid('uid-1'))?.accountId).toBe('acct-1');
    expect(await sessions.findByUid('uid-2')).toBeUndefined();
    expect(await new Adapter('Interaction').findByUid('uid-1')).toBeUndefined();
    const devices = new Adapter('DeviceCode');
    await devices.upsert('dc-1', payload({ userCode: 'ABCD-EFGH', grantId: 'g-device' }), 600);
    expect((await devices.findByUserCode('ABCD-EFGH'))?.userCode).toBe('ABCD-EFGH');
    expect(await devices.findByUserCode('ZZZZ-ZZZZ')).toBeUndefined();
    clock += 600_000;
    expect(await devices.findByUserCode('ABCD-EFGH')).toBeUndefined();
    expect(await sessions.findByUid('uid-1')).toBeUndefined();
    clock -= 600_000;
  });

  it('consume marks the record consumed (epoch seconds), and upsert keeps that mark', async () => {
    const codes = new Adapter('AuthorizationCode');
    await codes.upsert('code-1', payload({ grantId: 'g-code' }), 60);
    expect((await codes.find('code-1'))?.consumed).toBeUndefined();
    await codes.consume('code-1');
    expect((await codes.find('code-1'))?.consumed).toBe(Math.floor(clock / 1000));
    await codes.upsert('code-1', payload({ grantId: 'g-code' }), 60);
    expect((await codes.find('code-1'))?.consumed).toBe(Math.floor(clock / 1000));
    await expect(codes.consume('code-1')).rejects.toBeInstanceOf(errors.InvalidGrant);
    await expect(codes.consume('missing')).rejects.toBeInstanceOf(errors.InvalidGrant);
  });

  it('two simultaneous consumes of one code or refresh token: exactly one wins', async () => {
    for (const model of ['AuthorizationCode', 'RefreshToken', 'DeviceCode']) {
      for (let round = 0; round < 5; round += 1) {
        const id = `${model}-race-${round}`;
        await new Adapter(model).upsert(id, payload({ grantId: `g-race-${model}-${round}` }), 60);
        const { fulfilled, rejected } = await race([
          new Adapter(model).consume(id),
          new OtherAdapter(model).consume(id),
          new OtherAdapter(model).consume(id),
        ]);
        expect(fulfilled).toHaveLength(1);
        expect(rejected).toHaveLength(2);
        for (const r of rejected) expect(r.reason).toBeInstanceOf(errors.InvalidGrant);
      }
    }
  });

  it('revokeByGrantId removes every record of the grant, the grant included', async () => {
    await new Adapter('Grant').upsert(
      'g-revoke',
      { accountId: 'acct-1', clientId: 'desk' } as AdapterPayload,
      600,
    );
    await new Adapter('Grant').upsert(
      'g-keep',
      { accountId: 'acct-1', clientId: 'desk' } as AdapterPayload,
      600,
    );
    const models = ['AccessToken', 'RefreshToken', 'AuthorizationCode'];
    for (const model of models) {
      await new Adapter(model).upsert(`${model}-g1`, payload({ grantId: 'g-revoke' }), 600);
      await new Adapter(model).upsert(`${model}-g2`, payload({ grantId: 'g-keep' }), 600);
    }
    await new Adapter('RefreshToken').revokeByGrantId('g-revoke');
    for (const model of models) {
      expect(await new Adapter(model).find(`${model}-g1`)).toBeUndefined();
      expect(await new Adapter(model).find(`${model}-g2`)).toBeDefined();
    }
    expect(await new Adapter('Grant').find('g-revoke')).toBeUndefined();
    expect(await new Adapter('Grant').find('g-keep')).toBeDefined();
  });

  it('revokeAllForAccount removes sessions, grants, tokens and codes of one account', async () => {
    const account = `acct-${newId()}`;
    await new Adapter('Session').upsert('s-all', { uid: 'u-all', accountId: account } as AdapterPayload, 600);
    await new Adapter('Grant').upsert(
      'g-all',
      { accountId: account, clientId: 'desk' } as AdapterPayload,
      600,
    );
    await new Adapter('RefreshToken').upsert(
      'rt-all',
      payload({ accountId: account, grantId: 'g-all' }),
      600,
    );
    await new Adapter('AccessToken').upsert('at-all', payload({ accountId: account, grantId: 'g-all' }), 600);
    await new Adapter('AuthorizationCode').upsert(
      'c-all',
      payload({ accountId: account, grantId: 'g-all' }),
      60,
    );
    await new Adapter('Interaction').upsert(
      'i-all',
      { session: { accountId: account, uid: 'u-all' } } as unknown as AdapterPayload,
      60,
    );
    await new Adapter('RefreshToken').upsert('rt-bystander', payload({ accountId: 'bystander' }), 600);

    const listed = await listAccountRecords(store.database, account, clock);
    expect(listed.map((r) => r.model).sort()).toEqual(['Grant', 'RefreshToken', 'Session']);

    expect(await revokeAllForAccount(store.database, account)).toBe(6);
    expect(await new Adapter('Session').findByUid('u-all')).toBeUndefined();
    expect(await new Adapter('Grant').find('g-all')).toBeUndefined();
    expect(await new Adapter('RefreshToken').find('rt-all')).toBeUndefined();
    expect(await new Adapter('RefreshToken').find('rt-bystander')).toBeDefined();
    expect(await revokeAllForAccount(store.database, account)).toBe(0);
  });

  describe('bearer secrets stored as keyed hashes (record-ids.ts)', () => {
    /** Every text of every oidc_records row, to look for a raw value. */
    async function storedTexts(): Promise<string> {
      const rows = await store.raw().selectFrom('oidc_records').selectAll().execute();
      return JSON.stringify(rows);
    }

    it('a token is stored and found by its hash; the stored id is not a token; no raw value is kept', async () => {
      grace = 0;
      const rts = new Adapter('RefreshToken');
      await rts.upsert('rt-secret-value-1', payload({ grantId: 'g-hash', jti: 'rt-secret-value-1' }), 600);
      expect(await rts.find('rt-secret-value-1')).toMatchObject({
        jti: 'rt-secret-value-1',
        grantId: 'g-hash',
      });
      expect(await storedTexts()).not.toContain('rt-secret-value-1');
      const row = await store
        .raw()
        .selectFrom('oidc_records')
        .select('id')
        .where('grant_id', '=', 'g-hash')
        .executeTakeFirstOrThrow();
      expect(row.id).toMatch(/^h\./);
      // What a copy of the database shows is not accepted as the token.
      expect(await rts.find(row.id)).toBeUndefined();
      // Another key (another operator secret) finds nothing.
      const otherKey = createOidcAdapter(store.database, { ...options, recordIdKey: Buffer.alloc(32, 8) });
      expect(await new otherKey('RefreshToken').find('rt-secret-value-1')).toBeUndefined();
      await rts.consume('rt-secret-value-1');
      expect((await rts.find('rt-secret-value-1'))?.consumed).toEqual(expect.any(Number));
      await rts.destroy('rt-secret-value-1');
      expect(await rts.find('rt-secret-value-1')).toBeUndefined();
    });

    it('a device code is found by its user code with its own value; a session by uid under its stored id', async () => {
      const devices = new Adapter('DeviceCode');
      await devices.upsert(
        'device-secret-1',
        payload({ jti: 'device-secret-1', userCode: 'QRST-WXYZ', grantId: 'g-dev-hash' }),
        600,
      );
      const byUserCode = await devices.findByUserCode('QRST-WXYZ');
      expect(byUserCode).toMatchObject({ jti: 'device-secret-1', userCode: 'QRST-WXYZ' });
      await devices.upsert(
        'device-secret-1',
        { ...byUserCode, accountId: 'acct-dev' } as AdapterPayload,
        600,
      );
      expect(await devices.find('device-secret-1')).toMatchObject({
        accountId: 'acct-dev',
        userCode: 'QRST-WXYZ',
      });
      const texts = await storedTexts();
      expect(texts).not.toContain('device-secret-1');
      expect(texts).not.toContain('QRST-WXYZ');

      const sessions = new Adapter('Session');
      await sessions.upsert(
        'cookie-secret-1',
        { jti: 'cookie-secret-1', uid: 'uid-hash', accountId: 'a' } as AdapterPayload,
        600,
      );
      const byUid = await sessions.findByUid('uid-hash');
      expect(byUid?.jti).toMatch(/^h\./);
      // The engine saves it back under that id: the same record.
      await sessions.upsert(byUid?.jti as string, { ...byUid, loginTs: 1 } as AdapterPayload, 600);
      expect(await sessions.find('cookie-secret-1')).toMatchObject({ jti: 'cookie-secret-1', loginTs: 1 });
      const interactions = new Adapter('Interaction');
      await interactions.upsert(
        'int-hash',
        {
          jti: 'int-hash',
          session: { accountId: 'a', cookie: 'cookie-secret-1' },
          deviceCode: 'device-secret-1',
        } as unknown as AdapterPayload,
        600,
      );
      expect(await interactions.find('int-hash')).toMatchObject({ deviceCode: 'device-secret-1' });
      expect(await storedTexts()).not.toContain('cookie-secret-1');
      expect(await storedTexts()).not.toContain('device-secret-1');
    });

    it('records from before the change are rewritten once at start, and keep working', async () => {
      const legacy = (
        model: string,
        id: string,
        body: Record<string, unknown>,
        userCode: string | null = null,
      ) =>
        store
          .raw()
          .insertInto('oidc_records')
          .values({
            model,
            id,
            payload: JSON.stringify(body),
            grant_id: (body.grantId as string) ?? null,
            account_id: 'acct-legacy',
            uid: null,
            user_code: userCode,
            expires_at: clock + 600_000,
            consumed_at: null,
            grace_used_at: null,
            created_at: clock,
          })
          .execute();
      await legacy('RefreshToken', 'legacy-rt-value', {
        jti: 'legacy-rt-value',
        clientId: 'desk',
        grantId: 'g-legacy',
      });
      await legacy(
        'DeviceCode',
        'legacy-dc-value',
        { jti: 'legacy-dc-value', userCode: 'LGCY-CODE' },
        'LGCY-CODE',
      );
      await legacy('Session', 'legacy-cookie', { jti: 'legacy-cookie', accountId: 'acct-legacy' });
      await legacy('Interaction', 'legacy-int', { session: { cookie: 'legacy-cookie' } });
      const key = Buffer.alloc(32, 7);
      expect(await rehashLegacyRecords(store.database, key, 2)).toBe(4);
      expect(await rehashLegacyRecords(store.other, key)).toBe(0);
      const texts = await storedTexts();
      for (const raw of ['legacy-rt-value', 'legacy-dc-value', 'LGCY-CODE', 'legacy-cookie'])
        expect(texts).not.toContain(raw);
      expect(await new Adapter('RefreshToken').find('legacy-rt-value')).toMatchObject({
        jti: 'legacy-rt-value',
      });
      expect(await new Adapter('DeviceCode').findByUserCode('LGCY-CODE')).toMatchObject({
        jti: 'legacy-dc-value',
      });
      expect(await new Adapter('Session').find('legacy-cookie')).toMatchObject({ accountId: 'acct-legacy' });
    });
  });

  describe('refresh-token reuse grace', () => {
    /** A grant with RT `old` rotated (consumed) at `clock`, and optionally its successor. */
    async function rotated(name: string, withSuccessor: boolean) {
      const grantId = `g-${name}`;
      const rts = new Adapter('RefreshToken');
      await new Adapter('Grant').upsert(
        grantId,
        { accountId: 'acct-1', clientId: 'desk' } as AdapterPayload,
        3600,
      );
      await new Adapter('AccessToken').upsert(`${name}-at`, payload({ grantId }), 600);
      await rts.upsert(`${name}-old`, payload({ grantId }), 3600);
      clock += 5;
      await rts.consume(`${name}-old`);
      if (withSuccessor) {
        clock += 5;
        await rts.upsert(`${name}-new`, payload({ grantId, rotations: 1 }), 3600);
      }
      return { grantId, rts };
    }

    it('within the window, with a successor: forgiven once, successor kept but superseded', async () => {
      grace = 30_000;
      const { rts } = await rotated('lost', true);
      clock += 1_000;
      const found = await rts.find('lost-old');
      expect(found).toBeDefined();
      expect(found?.consumed).toBeUndefined();
      await expect(rts.consume('lost-old')).resolves.toBeUndefined();
      // Remembered, not deleted: presenting it later is a fork (see below).
      const superseded = await store
        .raw()
        .selectFrom('oidc_records')
        .select(['superseded_at', 'consumed_at'])
        .where('model', '=', 'RefreshToken')
        .where('grant_id', '=', 'g-lost')
        .where('superseded_at', 'is not', null)
        .execute();
      expect(superseded).toEqual([{ superseded_at: clock, consumed_at: null }]);
      expect(await new Adapter('Grant').find('g-lost')).toBeDefined();
      expect(await new Adapter('AccessToken').find('lost-at')).toBeDefined();
      // The second time it is a reuse: `consumed` is back, the engine revokes the family.
      expect((await rts.find('lost-old'))?.consumed).toEqual(expect.any(Number));
      await expect(rts.consume('lost-old')).rejects.toBeInstanceOf(errors.InvalidGrant);
    });

    it('a superseded successor presented later (a fork of the chain): the whole family is revoked and reported', async () => {
      grace = 30_000;
      // The app rotated `fork-old` into `fork-new`; a thief holding `fork-old` presents it inside the window.
      const { rts } = await rotated('fork', true);
      clock += 1_000;
      await expect(rts.consume('fork-old')).resolves.toBeUndefined();
      // The engine issues the thief a fresh token of the same grant.
      clock += 5;
      await rts.upsert('fork-thief', payload({ grantId: 'g-fork', rotations: 1 }), 3600);
      revoked.length = 0;
      // The app's own successor comes back: the chain was forked. Refused, on either connection…
      clock += 1_000;
      expect(await new OtherAdapter('RefreshToken').find('fork-new')).toBeUndefined();
      // …and every token of the family is gone, the thief's included.
      expect(await rts.find('fork-thief')).toBeUndefined();
      expect(await new Adapter('Grant').find('g-fork')).toBeUndefined();
      expect(await new Adapter('AccessToken').find('fork-at')).toBeUndefined();
      const left = await store
        .raw()
        .selectFrom('oidc_records')
        .select('id')
        .where('grant_id', '=', 'g-fork')
        .execute();
      expect(left).toEqual([]);
      expect(revoked).toEqual([
        { reason: 'fork_detected', grantId: 'g-fork', clientId: 'desk', accountId: 'acct-1' },
      ]);
    });

    it('a successor superseded between its read and its rotation is not rotated; presented again, it is the fork', async () => {
      grace = 30_000;
      const { rts } = await rotated('midway', true);
      clock += 1_000;
      // The app's refresh has read its token when the thief's re-presentation is forgiven.
      expect(await rts.find('midway-new')).toBeDefined();
      await expect(new OtherAdapter('RefreshToken').consume('midway-old')).resolves.toBeUndefined();
      await expect(rts.consume('midway-new')).rejects.toBeInstanceOf(errors.InvalidGrant);
      revoked.length = 0;
      expect(await rts.find('midway-new')).toBeUndefined();
      expect(await new Adapter('Grant').find('g-midway')).toBeUndefined();
      expect(revoked.map((r) => r.reason)).toEqual(['fork_detected']);
    });

    it('a lost response retried: the retry chain keeps rotating while its superseded twin is never presented', async () => {
      grace = 30_000;
      const { rts } = await rotated('retry', true);
      clock += 1_500;
      await expect(rts.consume('retry-old')).resolves.toBeUndefined();
      clock += 5;
      await rts.upsert('retry-next', payload({ grantId: 'g-retry', rotations: 1 }), 3600);
      clock += 60_000;
      expect((await rts.find('retry-next'))?.consumed).toBeUndefined();
      await expect(rts.consume('retry-next')).resolves.toBeUndefined();
      expect(await new Adapter('Grant').find('g-retry')).toBeDefined();
    });

    it('two retries racing: exactly one is forgiven', async () => {
      grace = 30_000;
      const { rts } = await rotated('twice', true);
      clock += 1_000;
      const { fulfilled, rejected } = await race([
        rts.consume('twice-old'),
        new OtherAdapter('RefreshToken').consume('twice-old'),
      ]);
      expect(fulfilled).toHaveLength(1);
      expect(rejected[0]?.reason).toBeInstanceOf(errors.InvalidGrant);
      expect(await new Adapter('Grant').find('g-twice')).toBeDefined();
    });

    it('no successor yet (a true race): InvalidGrant, nothing revoked', async () => {
      grace = 30_000;
      const { rts } = await rotated('racing', false);
      clock += 100;
      expect((await rts.find('racing-old'))?.consumed).toBeUndefined();
      await expect(rts.consume('racing-old')).rejects.toBeInstanceOf(errors.InvalidGrant);
      expect(await new Adapter('Grant').find('g-racing')).toBeDefined();
      expect(await new Adapter('AccessToken').find('racing-at')).toBeDefined();
      expect(await rts.find('racing-old')).toBeDefined();
      // The grace was not spent: the lost-response retry still works once the rotation finishes.
      await rts.upsert('racing-new', payload({ grantId: 'g-racing' }), 3600);
      await expect(rts.consume('racing-old')).resolves.toBeUndefined();
    });

    it('successor already used: a replay, the family is revoked', async () => {
      grace = 30_000;
      const { rts } = await rotated('replayed', true);
      clock += 500;
      await rts.consume('replayed-new');
      clock += 500;
      await expect(rts.consume('replayed-old')).rejects.toBeInstanceOf(errors.InvalidGrant);
      expect(await new Adapter('Grant').find('g-replayed')).toBeUndefined();
      expect(await new Adapter('AccessToken').find('replayed-at')).toBeUndefined();
      expect(await rts.find('replayed-old')).toBeUndefined();
    });

    it('outside the window, or with grace 0, or for other models: consumed', async () => {
      grace = 30_000;
      const late = await rotated('late', true);
      clock += 30_000;
      expect((await late.rts.find('late-old'))?.consumed).toEqual(expect.any(Number));
      await expect(late.rts.consume('late-old')).rejects.toBeInstanceOf(errors.InvalidGrant);
      expect(await late.rts.find('late-new')).toBeDefined();

      grace = 0;
      const off = await rotated('off', true);
      clock += 10;
      expect((await off.rts.find('off-old'))?.consumed).toEqual(expect.any(Number));
      await expect(off.rts.consume('off-old')).rejects.toBeInstanceOf(errors.InvalidGrant);
      expect(await off.rts.find('off-new')).toBeDefined();

      grace = 30_000;
      const codes = new Adapter('AuthorizationCode');
      await codes.upsert('graceless-code', payload({ grantId: 'g-graceless' }), 60);
      await codes.consume('graceless-code');
      clock += 10;
      expect((await codes.find('graceless-code'))?.consumed).toEqual(expect.any(Number));
    });
  });
});
