import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateSigningKey, selfSignedCertificate } from './signing-key.js';

describe('stand-in SAML signing key', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

  it('issues a certificate OpenSSL accepts whatever the random serial number', () => {
    // First bytes that once produced a non-minimal or negative INTEGER.
    for (const first of [0x00, 0x01, 0x7f, 0x80, 0xff]) {
      for (const second of [0x00, 0x05, 0x80]) {
        const serial = Buffer.alloc(16, 0x11);
        serial[0] = first;
        serial[1] = second;
        const certificate = new X509Certificate(selfSignedCertificate('Test', privateKey, publicKey, serial));
        expect(certificate.verify(publicKey)).toBe(true);
        expect(certificate.subject).toBe('CN=Test');
      }
    }
  });

  it('generates a key whose certificate verifies', () => {
    const key = generateSigningKey('Stand-in');
    expect(new X509Certificate(Buffer.from(key.certificateBase64, 'base64')).verify(publicKey)).toBe(false);
    expect(key.certificatePem).toMatch(/^-----BEGIN CERTIFICATE-----/);
  });
});
