import { performance } from 'node:perf_hooks';
import { parseOptions } from '@node-rs/argon2';
import { describe, expect, it } from 'vitest';
import { createPasswordHasher, MAX_PASSWORD_LENGTH, PasswordHasherError } from './password-hasher.js';

// Cheap parameters keep the suite fast; one test uses the OWASP defaults.
const fast = { memoryCost: 1024, timeCost: 1, parallelism: 1 };

describe('createPasswordHasher', () => {
  it('uses Argon2id with the OWASP defaults', async () => {
    const hasher = createPasswordHasher();
    expect(hasher.params).toEqual({ memoryCost: 19_456, timeCost: 2, parallelism: 1 });
    const hash = await hasher.hash('correct horse battery staple');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await hasher.verify(hash, 'correct horse battery staple')).toEqual({
      ok: true,
      needsRehash: false,
    });
  });

  it('refuses a wrong password', async () => {
    const hasher = createPasswordHasher(fast);
    const hash = await hasher.hash('secret one');
    expect(await hasher.verify(hash, 'secret two')).toEqual({ ok: false, needsRehash: false });
  });

  it('salts every hash', async () => {
    const hasher = createPasswordHasher(fast);
    expect(await hasher.hash('same')).not.toBe(await hasher.hash('same'));
  });

  it('asks for a rehash when the configured parameters changed, and only after a correct password', async () => {
    const old = createPasswordHasher(fast);
    const stored = await old.hash('pw');
    const upgraded = createPasswordHasher({ ...fast, timeCost: 2 });
    expect(await upgraded.verify(stored, 'pw')).toEqual({ ok: true, needsRehash: true });
    expect(await upgraded.verify(stored, 'wrong')).toEqual({ ok: false, needsRehash: false });
    const rehashed = await upgraded.hash('pw');
    expect(parseOptions(rehashed).timeCost).toBe(2);
    expect(await upgraded.verify(rehashed, 'pw')).toEqual({ ok: true, needsRehash: false });
  });

  it('asks for a rehash of a hash made with another Argon2 variant', async () => {
    const { hash } = await import('@node-rs/argon2');
    const argon2i = await hash('pw', { ...fast, algorithm: 1 as never });
    expect(argon2i).toMatch(/^\$argon2i\$/);
    expect(await createPasswordHasher(fast).verify(argon2i, 'pw')).toEqual({ ok: true, needsRehash: true });
  });

  it('treats Unicode-equivalent spellings of a password alike (NFKC)', async () => {
    const hasher = createPasswordHasher(fast);
    const stored = await hasher.hash('caf\u00e9');
    expect((await hasher.verify(stored, 'cafe\u0301')).ok).toBe(true);
  });

  it('caps the password length', async () => {
    const hasher = createPasswordHasher(fast);
    const long = 'a'.repeat(MAX_PASSWORD_LENGTH + 1);
    await expect(hasher.hash(long)).rejects.toMatchObject({ code: 'password_too_long' });
    const stored = await hasher.hash('a'.repeat(MAX_PASSWORD_LENGTH));
    expect((await hasher.verify(stored, 'a'.repeat(MAX_PASSWORD_LENGTH))).ok).toBe(true);
    expect(await hasher.verify(stored, long)).toEqual({ ok: false, needsRehash: false });
    expect(await hasher.verifyDummy(long)).toBe(false);
  });

  it('reports an unreadable stored hash with a stable code', async () => {
    const hasher = createPasswordHasher(fast);
    const error = await hasher.verify('not-a-hash', 'pw').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PasswordHasherError);
    expect(error).toMatchObject({ code: 'invalid_password_hash' });
  });

  it('rejects invalid parameters', () => {
    expect(() => createPasswordHasher({ timeCost: 0 })).toThrow(PasswordHasherError);
    expect(() => createPasswordHasher({ memoryCost: 8, parallelism: 2 })).toThrow(/8 × parallelism/);
    expect(() => createPasswordHasher({ parallelism: 1.5 })).toThrow(/positive integers/);
  });

  it('spends about as long on a dummy verification as on a real one', async () => {
    const hasher = createPasswordHasher();
    const stored = await hasher.hash('the real password');
    await hasher.verifyDummy('warm up'); // the dummy hash is made on first use
    const time = async (fn: () => Promise<unknown>) => {
      const samples: number[] = [];
      for (let i = 0; i < 7; i++) {
        const start = performance.now();
        await fn();
        samples.push(performance.now() - start);
      }
      samples.sort((a, b) => a - b);
      return samples[3]!; // median
    };
    const real = await time(() => hasher.verify(stored, 'a wrong guess'));
    const dummy = await time(() => hasher.verifyDummy('a wrong guess'));
    expect(await hasher.verifyDummy('the real password')).toBe(false);
    // Same parameters, same work: medians within a generous factor on a shared, noisy machine.
    expect(dummy).toBeGreaterThan(real * 0.5);
    expect(dummy).toBeLessThan(real * 2);
  });
});
