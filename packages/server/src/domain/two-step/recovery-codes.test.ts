import { describe, expect, it } from 'vitest';
import {
  generateRecoveryCodes,
  hashRecoveryCode,
  matchRecoveryCode,
  normalizeRecoveryCode,
} from './recovery-codes.js';

describe('recovery codes', () => {
  it('generates ten distinct, readable codes by default', () => {
    const codes = generateRecoveryCodes();
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) {
      expect(code).toMatch(/^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$/);
      expect(code).not.toMatch(/[ilou]/);
    }
    expect(generateRecoveryCodes(3)).toHaveLength(3);
    expect(() => generateRecoveryCodes(0)).toThrow(RangeError);
  });

  it('uses every symbol of the alphabet (no bias toward a subset)', () => {
    const seen = new Set(generateRecoveryCodes(100).join('').replace(/-/g, ''));
    expect(seen.size).toBe(32);
  });

  it('normalizes separators, case and look-alike letters', () => {
    expect(normalizeRecoveryCode('7K3M-Q9AX-2FHD')).toBe('7k3mq9ax2fhd');
    expect(normalizeRecoveryCode(' 7k3m q9ax 2fhd ')).toBe('7k3mq9ax2fhd');
    expect(normalizeRecoveryCode('OIL0-0000-0000')).toBe('0110' + '00000000');
    expect(normalizeRecoveryCode('７k3m-q9ax-2fhd')).toBe('7k3mq9ax2fhd');
    expect(normalizeRecoveryCode('7k3m-q9ax-2fh')).toBeNull();
    expect(normalizeRecoveryCode('7k3m-q9ax-2fhu')).toBeNull();
    expect(normalizeRecoveryCode('123456')).toBeNull();
  });

  it('hashes the normalized code, so any typing of it matches', () => {
    const [code] = generateRecoveryCodes(1) as [string];
    const stored = hashRecoveryCode(code);
    expect(stored).toMatch(/^sha256:[A-Za-z0-9_-]{43}$/);
    expect(hashRecoveryCode(code.toUpperCase().replace(/-/g, ' '))).toBe(stored);
    expect(() => hashRecoveryCode('nope')).toThrow(TypeError);
  });

  it('uses an HMAC when given a key', () => {
    const [code] = generateRecoveryCodes(1) as [string];
    const key = new Uint8Array(32).fill(7);
    const keyed = hashRecoveryCode(code, key);
    expect(keyed).toMatch(/^hmac-sha256:/);
    expect(keyed).not.toBe(hashRecoveryCode(code, new Uint8Array(32).fill(8)));
  });

  it('finds which stored code was typed', () => {
    const codes = generateRecoveryCodes();
    const stored = codes.map((c) => hashRecoveryCode(c));
    expect(matchRecoveryCode(codes[4]!.toUpperCase(), stored)).toBe(4);
    expect(matchRecoveryCode(generateRecoveryCodes(1)[0]!, stored)).toBe(-1);
    expect(matchRecoveryCode('123456', stored)).toBe(-1);
    expect(matchRecoveryCode(codes[0]!, [])).toBe(-1);
  });
});
