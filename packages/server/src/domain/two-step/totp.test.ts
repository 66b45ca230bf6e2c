import { describe, expect, it } from 'vitest';
import {
  generateTotpCode,
  generateTotpSecret,
  normalizeTotpCode,
  totpKeyUri,
  totpQrSvg,
  totpStepAt,
  verifyTotp,
} from './totp.js';

// RFC 6238 Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890"; the 8-digit
// reference values end with the 6-digit codes used here.
const RFC_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const RFC_VECTORS: [number, string][] = [
  [59, '287082'],
  [1111111109, '081804'],
  [1234567890, '005924'],
  [2000000000, '279037'],
];

describe('TOTP', () => {
  it('matches the RFC 6238 test vectors', async () => {
    for (const [seconds, code] of RFC_VECTORS) {
      expect(await generateTotpCode({ secret: RFC_SECRET, now: seconds * 1000 })).toBe(code);
      expect(await verifyTotp({ secret: RFC_SECRET, code, now: seconds * 1000 })).toEqual({
        ok: true,
        step: Math.floor(seconds / 30),
      });
    }
  });

  it('generates 160-bit Base32 secrets', () => {
    const secret = generateTotpSecret();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(generateTotpSecret()).not.toBe(secret);
  });

  it('builds the otpauth URI with issuer and account name', () => {
    const uri = totpKeyUri({ secret: 'JBSWY3DPEHPK3PXP', accountName: 'bob@beta.test', issuer: 'Beta LLC' });
    const url = new URL(uri);
    expect(url.protocol).toBe('otpauth:');
    expect(uri.startsWith('otpauth://totp/Beta%20LLC:bob%40beta.test?')).toBe(true);
    expect(url.searchParams.get('secret')).toBe('JBSWY3DPEHPK3PXP');
    expect(url.searchParams.get('issuer')).toBe('Beta LLC');
  });

  it('draws the QR code as a self-contained SVG', async () => {
    const svg = await totpQrSvg(
      'otpauth://totp/Beta%20LLC:bob%40beta.test?secret=JBSWY3DPEHPK3PXP&issuer=Beta%20LLC',
    );
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('viewBox');
    expect(svg).not.toMatch(/<script|href=|url\(/i);
  });

  it('accepts the previous and next step, not two steps away', async () => {
    const secret = generateTotpSecret();
    const now = 1_700_000_000_000;
    const step = totpStepAt(now);
    for (const offset of [-1, 0, 1]) {
      const code = await generateTotpCode({ secret, now: now + offset * 30_000 });
      expect(await verifyTotp({ secret, code, now })).toEqual({ ok: true, step: step + offset });
    }
    for (const offset of [-2, 2]) {
      const code = await generateTotpCode({ secret, now: now + offset * 30_000 });
      expect(await verifyTotp({ secret, code, now })).toEqual({ ok: false, reason: 'invalid' });
    }
  });

  it('refuses a code whose step is not after the last used step', async () => {
    const secret = generateTotpSecret();
    const now = 1_700_000_010_000;
    const code = await generateTotpCode({ secret, now });
    const first = await verifyTotp({ secret, code, now });
    expect(first.ok).toBe(true);
    const lastUsedStep = first.ok ? first.step : -1;
    // The same code again, a few seconds later.
    expect(await verifyTotp({ secret, code, lastUsedStep, now: now + 5_000 })).toEqual({
      ok: false,
      reason: 'replayed',
    });
    // An older code that is still within the window is refused too.
    const previous = await generateTotpCode({ secret, now: now - 30_000 });
    expect(await verifyTotp({ secret, code: previous, lastUsedStep, now })).toEqual({
      ok: false,
      reason: 'replayed',
    });
    // The next step's code is fine.
    const next = await generateTotpCode({ secret, now: now + 30_000 });
    expect(await verifyTotp({ secret, code: next, lastUsedStep, now: now + 30_000 })).toEqual({
      ok: true,
      step: lastUsedStep + 1,
    });
    // A stored step far ahead (clock was wrong once) refuses rather than throws.
    expect(await verifyTotp({ secret, code, lastUsedStep: lastUsedStep + 100, now })).toEqual({
      ok: false,
      reason: 'replayed',
    });
  });

  it('reports a wrong code as invalid', async () => {
    const secret = generateTotpSecret();
    const now = Date.now();
    const code = await generateTotpCode({ secret, now });
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    expect(await verifyTotp({ secret, code: wrong, now })).toEqual({ ok: false, reason: 'invalid' });
    expect(await verifyTotp({ secret: generateTotpSecret(), code, now })).toMatchObject({ ok: false });
  });

  it('normalizes what people type', async () => {
    expect(normalizeTotpCode(' 123 456 ')).toBe('123456');
    expect(normalizeTotpCode('123-456')).toBe('123456');
    expect(normalizeTotpCode('１２３４５６')).toBe('123456');
    expect(normalizeTotpCode('12345')).toBeNull();
    expect(normalizeTotpCode('1234567')).toBeNull();
    expect(normalizeTotpCode('12345a')).toBeNull();
    expect(normalizeTotpCode('')).toBeNull();
    const secret = generateTotpSecret();
    const now = Date.now();
    const code = await generateTotpCode({ secret, now });
    const typed = `${code.slice(0, 3)} - ${code.slice(3)}`;
    expect((await verifyTotp({ secret, code: typed, now })).ok).toBe(true);
    expect(await verifyTotp({ secret, code: 'abcdef', now })).toEqual({ ok: false, reason: 'invalid' });
  });
});
