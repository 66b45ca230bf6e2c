import { describe, expect, it } from 'vitest';
import {
  createSoftAuthenticator,
  type SoftAuthenticatorOptions,
} from '../../test-support/soft-authenticator.js';
import {
  authenticationOptions,
  passkeyAmr,
  readAssertionIds,
  registrationOptions,
  type StoredPasskey,
  verifyAuthentication,
  verifyRegistration,
  WebAuthnError,
} from './webauthn.js';

const rpId = 'sso.example.test';
const origin = 'https://sso.example.test';
const user = { id: '01JBX7Q2ZK4M5N6P7R8S9T0V1W', email: 'bob@beta.test', name: 'Bob' };

async function enroll(authOptions: Partial<SoftAuthenticatorOptions> = {}) {
  const authenticator = createSoftAuthenticator({ origin, ...authOptions });
  const options = await registrationOptions({ rpId, rpName: 'Beta LLC', user });
  const response = authenticator.register(options);
  const passkey = await verifyRegistration({
    response,
    expectedChallenge: options.challenge,
    expectedOrigin: origin,
    rpId,
  });
  return { authenticator, passkey };
}

describe('passkey registration', () => {
  it('asks for a discoverable credential without attestation, with an opaque user handle', async () => {
    const options = await registrationOptions({
      rpId,
      rpName: 'Beta LLC',
      user,
      excludeCredentials: [{ credentialId: 'AAAA', transports: ['usb'] }, { credentialId: 'BBBB' }],
    });
    expect(options.rp).toEqual({ id: rpId, name: 'Beta LLC' });
    expect(Buffer.from(options.user.id, 'base64url').toString()).toBe(user.id);
    expect(options.user.name).toBe(user.email);
    expect(options.user.displayName).toBe('Bob');
    expect(options.attestation).toBe('none');
    expect(options.authenticatorSelection).toMatchObject({
      residentKey: 'required',
      userVerification: 'preferred',
    });
    expect(options.excludeCredentials).toEqual([
      { id: 'AAAA', type: 'public-key', transports: ['usb'] },
      { id: 'BBBB', type: 'public-key' },
    ]);
    expect(options.pubKeyCredParams.map((p) => p.alg)).toContain(-7);
    expect(options.challenge.length).toBeGreaterThanOrEqual(43);
    expect(options.timeout).toBe(300_000);
  });

  it('refuses a user id that cannot be a user handle', async () => {
    await expect(
      registrationOptions({ rpId, rpName: 'x', user: { ...user, id: 'x'.repeat(65) } }),
    ).rejects.toMatchObject({
      code: 'webauthn_invalid_user_id',
    });
  });

  it('verifies a registration and returns what to store', async () => {
    const { authenticator, passkey } = await enroll();
    const credential = authenticator.credentials[0]!;
    expect(passkey).toEqual({
      credentialId: Buffer.from(credential.id).toString('base64url'),
      publicKey: expect.stringMatching(/^[A-Za-z0-9_-]+$/),
      counter: 0,
      transports: ['internal', 'hybrid'],
      deviceType: 'singleDevice',
      backedUp: false,
      aaguid: '00000000-0000-0000-0000-000000000000',
    });
    expect(passkeyAmr(passkey)).toBe('hwk');
  });

  it('records a synced passkey as multi-device and backed up (amr swk)', async () => {
    const { passkey } = await enroll({ backupEligible: true });
    expect(passkey).toMatchObject({ deviceType: 'multiDevice', backedUp: true });
    expect(passkeyAmr(passkey)).toBe('swk');
    // Backup eligible but not yet backed up is still a key that can leave the device.
    expect(passkeyAmr({ deviceType: 'multiDevice', backedUp: false })).toBe('swk');
  });

  it('rejects a registration for another challenge, origin or RP', async () => {
    const authenticator = createSoftAuthenticator({ origin });
    const options = await registrationOptions({ rpId, rpName: 'Beta LLC', user });
    const response = authenticator.register(options);
    const cases = [
      { expectedChallenge: 'another-challenge', expectedOrigin: origin, rpId },
      { expectedChallenge: options.challenge, expectedOrigin: 'https://evil.test', rpId },
      { expectedChallenge: options.challenge, expectedOrigin: origin, rpId: 'evil.test' },
    ];
    for (const input of cases) {
      const error = await verifyRegistration({ response, ...input }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WebAuthnError);
      expect(error).toMatchObject({ code: 'webauthn_registration_failed' });
    }
    const phished = createSoftAuthenticator({ origin: 'https://sso.example.test.evil.test' }).register(
      options,
    );
    await expect(
      verifyRegistration({
        response: phished,
        expectedChallenge: options.challenge,
        expectedOrigin: origin,
        rpId,
      }),
    ).rejects.toThrow(WebAuthnError);
  });

  it('lets the browser refuse to register the same authenticator twice', async () => {
    const { authenticator, passkey } = await enroll();
    const again = await registrationOptions({
      rpId,
      rpName: 'Beta LLC',
      user,
      excludeCredentials: [passkey],
    });
    expect(() => authenticator.register(again)).toThrow(/excluded/);
  });
});

describe('passkey authentication', () => {
  it('as a second step: lists the passkeys and prefers user verification', async () => {
    const { authenticator, passkey } = await enroll();
    const options = await authenticationOptions({ rpId, allowCredentials: [passkey] });
    expect(options.allowCredentials).toEqual([
      { id: passkey.credentialId, type: 'public-key', transports: ['internal', 'hybrid'] },
    ]);
    expect(options.userVerification).toBe('preferred');
    expect(options.rpId).toBe(rpId);
    const response = authenticator.authenticate(options);
    const result = await verifyAuthentication({
      response,
      expectedChallenge: options.challenge,
      expectedOrigin: origin,
      rpId,
      passkey,
      userId: user.id,
      requireUserVerification: false,
    });
    expect(result).toEqual({
      ok: true,
      newCounter: 1,
      userVerified: true,
      deviceType: 'singleDevice',
      backedUp: false,
    });
  });

  it('as a second step: accepts an authenticator that cannot verify the user', async () => {
    const { authenticator, passkey } = await enroll({ userVerifying: false });
    const options = await authenticationOptions({ rpId, allowCredentials: [passkey] });
    const response = authenticator.authenticate(options);
    const base = { response, expectedChallenge: options.challenge, expectedOrigin: origin, rpId, passkey };
    expect(await verifyAuthentication({ ...base, requireUserVerification: false })).toMatchObject({
      ok: true,
      userVerified: false,
    });
    // The default demands verification, as a discoverable sign-in must.
    expect(await verifyAuthentication(base)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/verif/i),
    });
  });

  it('as a discoverable sign-in: no credentials listed, verification required, the user handle names the user', async () => {
    const { authenticator, passkey } = await enroll({ backupEligible: true, counter: 'zero' });
    const options = await authenticationOptions({ rpId });
    expect(options.allowCredentials ?? []).toEqual([]);
    expect(options.userVerification).toBe('required');
    const response = authenticator.authenticate(options);
    expect(readAssertionIds(response)).toEqual({ credentialId: passkey.credentialId, userId: user.id });
    const input = { response, expectedChallenge: options.challenge, expectedOrigin: origin, rpId, passkey };
    expect(await verifyAuthentication({ ...input, userId: user.id })).toEqual({
      ok: true,
      newCounter: 0,
      userVerified: true,
      deviceType: 'multiDevice',
      backedUp: true,
    });
    expect(await verifyAuthentication({ ...input, userId: 'someone-else' })).toMatchObject({ ok: false });
  });

  it('an authenticator that cannot verify the user cannot sign in without a password', async () => {
    const { authenticator } = await enroll({ userVerifying: false });
    const options = await authenticationOptions({ rpId });
    expect(() => authenticator.authenticate(options)).toThrow(/verification required/);
  });

  it('accepts counters that grow, and authenticators that always report 0', async () => {
    const { authenticator, passkey } = await enroll();
    let stored: StoredPasskey = passkey;
    for (const expected of [1, 2, 3]) {
      const options = await authenticationOptions({ rpId, allowCredentials: [stored] });
      const response = authenticator.authenticate(options);
      const result = await verifyAuthentication({
        response,
        expectedChallenge: options.challenge,
        expectedOrigin: origin,
        rpId,
        passkey: stored,
      });
      expect(result).toMatchObject({ ok: true, newCounter: expected });
      if (result.ok) stored = { ...stored, counter: result.newCounter };
    }
    const synced = await enroll({ counter: 'zero', backupEligible: true });
    for (let i = 0; i < 2; i++) {
      const options = await authenticationOptions({ rpId, allowCredentials: [synced.passkey] });
      const response = synced.authenticator.authenticate(options);
      expect(
        await verifyAuthentication({
          response,
          expectedChallenge: options.challenge,
          expectedOrigin: origin,
          rpId,
          passkey: synced.passkey,
        }),
      ).toMatchObject({ ok: true, newCounter: 0 });
    }
  });

  it('refuses a counter that did not grow (a cloned authenticator)', async () => {
    const { authenticator, passkey } = await enroll();
    const options = await authenticationOptions({ rpId, allowCredentials: [passkey] });
    const response = authenticator.authenticate(options);
    const result = await verifyAuthentication({
      response,
      expectedChallenge: options.challenge,
      expectedOrigin: origin,
      rpId,
      passkey: { ...passkey, counter: 5 },
    });
    expect(result).toMatchObject({ ok: false, reason: expect.stringMatching(/counter/i) });
  });

  it('refuses wrong challenge, origin, RP, credential or signature', async () => {
    const { authenticator, passkey } = await enroll();
    const other = await enroll();
    const options = await authenticationOptions({ rpId, allowCredentials: [passkey] });
    const response = authenticator.authenticate(options);
    const good = { response, expectedChallenge: options.challenge, expectedOrigin: origin, rpId, passkey };
    const tamperedData = Buffer.from(response.response.authenticatorData, 'base64url');
    tamperedData[36] = 0x7f; // raise the signature counter after signing
    const cases = [
      { ...good, expectedChallenge: 'stale' },
      { ...good, expectedOrigin: 'https://evil.test' },
      { ...good, rpId: 'evil.test' },
      // Someone else's passkey record with this response, and this response presented for theirs.
      { ...good, passkey: other.passkey },
      { ...good, passkey: { ...passkey, publicKey: other.passkey.publicKey } },
      {
        ...good,
        response: {
          ...response,
          response: { ...response.response, authenticatorData: tamperedData.toString('base64url') },
        },
      },
    ];
    for (const [index, input] of cases.entries()) {
      expect({ index, result: await verifyAuthentication(input) }).toMatchObject({
        index,
        result: { ok: false },
      });
    }
    // The untouched response is fine.
    expect(await verifyAuthentication(good)).toMatchObject({ ok: true });
  });

  it('refuses an assertion made for another RP ID', async () => {
    const { authenticator, passkey } = await enroll();
    const options = await authenticationOptions({ rpId, allowCredentials: [passkey] });
    expect(() => authenticator.authenticate(options, { rpId: 'evil.test' })).toThrow(
      /No matching credential/,
    );
  });
});
