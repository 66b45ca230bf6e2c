import { describe, expect, it } from 'vitest';
import { newId, randomToken, sha256Base64url } from './ids.js';
import { DecryptionError, SecretBox } from './secret-box.js';

describe('SecretBox', () => {
  const box = SecretBox.fromSecret('operator secret one');

  it('round-trips, with a fresh IV each time, in the v1 compact format', () => {
    const a = box.encrypt('JBSWY3DPEHPK3PXP', 'credentials:1');
    const b = box.encrypt('JBSWY3DPEHPK3PXP', 'credentials:1');
    expect(a).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('JBSWY3DPEHPK3PXP');
    expect(box.decrypt(a, 'credentials:1')).toBe('JBSWY3DPEHPK3PXP');
    expect(box.decrypt(box.encrypt(''), '')).toBe('');
    expect(box.decrypt(box.encrypt('ünïcødé ✓'))).toBe('ünïcødé ✓');
  });

  it('refuses another key with a typed error', () => {
    const sealed = box.encrypt('secret');
    const other = SecretBox.fromSecret('operator secret two');
    expect(() => other.decrypt(sealed)).toThrow(DecryptionError);
    try {
      other.decrypt(sealed);
    } catch (error) {
      expect((error as DecryptionError).code).toBe('decryption_failed');
      expect((error as Error).message).not.toContain('secret two');
    }
  });

  it('binds a value to its associated data', () => {
    const sealed = box.encrypt('secret', 'clients:a');
    expect(() => box.decrypt(sealed, 'clients:b')).toThrow(DecryptionError);
    expect(() => box.decrypt(sealed)).toThrow(DecryptionError);
  });

  it('refuses tampered, truncated and unknown values', () => {
    const sealed = box.encrypt('secret');
    const [v, iv, body] = sealed.split('.') as [string, string, string];
    const flipped = Buffer.from(body, 'base64url');
    flipped[0] = (flipped[0] as number) ^ 1;
    expect(() => box.decrypt(`${v}.${iv}.${flipped.toString('base64url')}`)).toThrow(DecryptionError);
    expect(() => box.decrypt(`${v}.${iv}.${body.slice(0, 10)}`)).toThrow(DecryptionError);
    expect(() => box.decrypt(`v2.${iv}.${body}`)).toThrow(DecryptionError);
    expect(() => box.decrypt('plaintext')).toThrow(DecryptionError);
  });

  it('derives the same key from the same secret', () => {
    expect(SecretBox.fromSecret('operator secret one').decrypt(box.encrypt('x', 'ad'), 'ad')).toBe('x');
    expect(() => SecretBox.fromSecret('')).toThrow(TypeError);
  });
});

describe('ids', () => {
  it('newId is URL-safe, fixed-length and sorts by time', () => {
    const a = newId(1_700_000_000_000);
    const b = newId(1_700_000_000_001);
    const c = newId(1_800_000_000_000);
    for (const id of [a, b, c]) expect(id).toMatch(/^[0-9a-v]{26}$/);
    expect([c, a, b].sort()).toEqual([a, b, c]);
    const burst = Array.from({ length: 1000 }, () => newId(5));
    expect(new Set(burst).size).toBe(1000);
    expect([...burst].sort()).toEqual(burst);
  });

  it('randomToken and sha256Base64url', () => {
    expect(randomToken()).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(randomToken(16)).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(sha256Base64url('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
  });
});
