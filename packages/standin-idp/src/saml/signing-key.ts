import { generateKeyPairSync, type KeyObject, randomBytes, sign, X509Certificate } from 'node:crypto';

/**
 * A test signing key with a self-signed X.509 certificate, generated at start so that no private key
 * is ever committed. node:crypto makes keys and verifies certificates but cannot issue one, and a
 * self-signed RSA certificate is small enough to encode by hand (RFC 5280 §4.1) — no ASN.1 library.
 */
export interface SigningKey {
  privateKey: KeyObject;
  privateKeyPem: string;
  certificatePem: string;
  /** Base64 DER, as it appears in `ds:X509Certificate` of metadata and `KeyInfo`. */
  certificateBase64: string;
}

export function generateSigningKey(commonName: string): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const der = selfSignedCertificate(commonName, privateKey, publicKey);
  const certificate = new X509Certificate(der);
  if (!certificate.verify(publicKey)) throw new Error('self-signed certificate does not verify');
  return {
    privateKey,
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certificatePem: certificate.toString(),
    certificateBase64: der.toString('base64'),
  };
}

const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';
const COMMON_NAME = '2.5.4.3';

/**
 * A self-signed certificate for the key pair. `serialBytes`: 16 random bytes (tests pass their own).
 * Exported for tests.
 */
export function selfSignedCertificate(
  commonName: string,
  privateKey: KeyObject,
  publicKey: KeyObject,
  serialBytes: Buffer = randomBytes(16),
): Buffer {
  const algorithm = sequence(oid(SHA256_WITH_RSA), Buffer.from([0x05, 0x00]));
  const name = sequence(set(sequence(oid(COMMON_NAME), tlv(0x0c, Buffer.from(commonName, 'utf8')))));
  const now = Date.now();
  const serial = Buffer.from(serialBytes);
  // A positive INTEGER in DER's minimal form: the top bit clear (else negative) and the first byte
  // never zero (a leading 0x00 before a byte < 0x80 is not minimal, and OpenSSL refuses the
  // certificate — it did, about once in 256 keys).
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x40;
  const tbs = sequence(
    tlv(0xa0, integer(Buffer.from([2]))), // [0] EXPLICIT version v3
    integer(serial),
    algorithm,
    name,
    sequence(utcTime(new Date(now - 60_000)), utcTime(new Date(now + 365 * 86_400_000))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = sign('sha256', tbs, privateKey);
  return sequence(tbs, algorithm, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
}

function tlv(tag: number, value: Buffer): Buffer {
  const length = value.length;
  let header: Buffer;
  if (length < 0x80) header = Buffer.from([tag, length]);
  else {
    const bytes: number[] = [];
    for (let n = length; n > 0; n >>= 8) bytes.unshift(n & 0xff);
    header = Buffer.from([tag, 0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([header, value]);
}

const sequence = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const integer = (value: Buffer) => tlv(0x02, value);

function oid(dotted: string): Buffer {
  const [first = 0, second = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [first * 40 + second];
  for (const arc of rest) {
    const chunk = [arc & 0x7f];
    for (let n = arc >> 7; n > 0; n >>= 7) chunk.unshift(0x80 | (n & 0x7f));
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

function utcTime(date: Date): Buffer {
  const text = date
    .toISOString()
    .replace(/[-:T]/g, '')
    .replace(/\.\d+Z$/, 'Z')
    .slice(2);
  return tlv(0x17, Buffer.from(text, 'ascii'));
}
