import { createRequire } from 'node:module';
import type * as Otplib from 'otplib';

/**
 * TOTP as every authenticator app implements it: RFC 6238 with HMAC-SHA-1, 6 digits, 30-second
 * steps from the Unix epoch. Other algorithms or lengths are ignored by several popular apps
 * (they silently fall back to these), so we do not offer them.
 * @see https://www.rfc-editor.org/rfc/rfc6238
 */
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
/**
 * Steps accepted on either side of the current one. RFC 6238 §5.2 recommends "at most one time
 * step" of network delay; one step also absorbs ordinary clock drift on phones.
 */
export const TOTP_WINDOW_STEPS = 1;

/**
 * otplib 13 refuses secrets under 16 bytes, but the 16-character Base32 secrets many deployments
 * and our own samples carry (JBSWY3DPEHPK3PXP) are 10 bytes — RFC 4226 §4's minimum of 128 bits is
 * a SHOULD for new secrets, which {@link generateTotpSecret} meets; existing ones must still verify.
 */
let loaded: { otp: typeof Otplib; guardrails: ReturnType<typeof Otplib.createGuardrails> } | undefined;

/**
 * otplib, loaded at the first use (an enrollment or a code to check), not when the server starts:
 * a server whose people sign in with passwords, passkeys or their IdP never needs it (README,
 * Performance: idle memory). Its CommonJS build, so that loading stays synchronous; nothing else
 * imports otplib, so there is one copy.
 */
function otplib(): NonNullable<typeof loaded> {
  if (!loaded) {
    const otp = createRequire(import.meta.url)('otplib') as typeof Otplib;
    loaded = { otp, guardrails: otp.createGuardrails({ MIN_SECRET_BYTES: 10 }) };
  }
  return loaded;
}

/** A new shared secret: 20 random bytes (160 bits, the HMAC-SHA-1 block recommended by RFC 4226 §4), Base32. */
export function generateTotpSecret(): string {
  return otplib().otp.generateSecret({ length: 20 });
}

export interface TotpKeyUriInput {
  /** Base32 secret from {@link generateTotpSecret}. */
  secret: string;
  /** Shown in the app under the issuer, usually the email address. */
  accountName: string;
  /** The organization or product name shown in the app. */
  issuer: string;
}

/**
 * The `otpauth://totp/Issuer:account?secret=…&issuer=…` URI that authenticator apps scan. The issuer
 * appears both as label prefix and parameter, as Google's Key Uri Format recommends for older apps.
 * @see https://github.com/google/google-authenticator/wiki/Key-Uri-Format
 */
export function totpKeyUri({ secret, accountName, issuer }: TotpKeyUriInput): string {
  return otplib().otp.generateURI({ secret, label: accountName, issuer });
}

/**
 * A QR code of `uri` as an SVG document string, to be inlined into the enrollment page (no
 * external request, no script; works under a strict CSP). The caller supplies the accessible name,
 * e.g. by wrapping it in an element with `role="img"` and `aria-label`.
 */
export async function totpQrSvg(uri: string): Promise<string> {
  // Loaded with the first enrollment page, not at start (with its PNG code, about 1 MB resident).
  const { default: QRCode } = await import('qrcode');
  // Level M survives the smudges of a phone camera and keeps a 32-character secret readable at
  // a modest size; margin 2 modules is enough on a white page.
  return QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
}

/**
 * What a person types: digits possibly grouped with spaces or dashes ("123 456", "123-456"), and
 * sometimes full-width digits from an East Asian input method. Returns the bare digits, or `null`
 * when the input cannot be a code.
 */
export function normalizeTotpCode(input: string): string | null {
  const code = input.normalize('NFKC').replace(/[\s\-‐‑‒–—.]/g, '');
  return new RegExp(`^\\d{${TOTP_DIGITS}}$`).test(code) ? code : null;
}

export interface VerifyTotpInput {
  secret: string;
  /** As typed by the user; normalized here. */
  code: string;
  /** The step stored after the last accepted code, if any. */
  lastUsedStep?: number | null;
  /** Epoch milliseconds; defaults to the current time. */
  now?: number;
}

export type VerifyTotpResult = { ok: true; step: number } | { ok: false; reason: 'invalid' | 'replayed' };

/**
 * Verifies a TOTP code within ±{@link TOTP_WINDOW_STEPS} steps. A code is accepted at most once:
 * RFC 6238 §5.2 says the verifier "MUST NOT accept the second attempt of the same OTP after the
 * successful validation has been issued". The caller stores the returned `step` and passes it as
 * `lastUsedStep` next time; any code whose step is not later than that is refused as replayed —
 * which also refuses an older, still-in-window code that an observer saw being typed.
 *
 * The stored step must be updated with a compare-and-set (only if it is still the value that was
 * read) so that two simultaneous submissions of one code cannot both succeed.
 */
export async function verifyTotp({
  secret,
  code,
  lastUsedStep,
  now,
}: VerifyTotpInput): Promise<VerifyTotpResult> {
  const token = normalizeTotpCode(code);
  if (token === null) return { ok: false, reason: 'invalid' };
  const { otp, guardrails } = otplib();
  const result = await otp.verify({
    secret,
    token,
    epoch: Math.floor((now ?? Date.now()) / 1000),
    period: TOTP_PERIOD_SECONDS,
    digits: TOTP_DIGITS,
    // otplib's tolerance is in seconds; a whole number of periods is a whole number of steps.
    epochTolerance: TOTP_WINDOW_STEPS * TOTP_PERIOD_SECONDS,
    guardrails,
  });
  if (!result.valid) return { ok: false, reason: 'invalid' };
  // The functional API's result type covers HOTP too; a TOTP match always carries its step.
  if (!('timeStep' in result)) throw new Error('otplib returned a TOTP match without a time step');
  // otplib can skip used steps itself (`afterTimeStep`), but then a replay looks like a wrong
  // code; telling them apart lets the audit log record a replay. A code matching two steps in the
  // window is a one-in-a-million collision; otplib returns the earliest match, so such a code may
  // be refused as replayed even though the later step was still free — safe, and rare.
  if (lastUsedStep !== undefined && lastUsedStep !== null && result.timeStep <= lastUsedStep) {
    return { ok: false, reason: 'replayed' };
  }
  return { ok: true, step: result.timeStep };
}

/**
 * The code an authenticator app would show at `now` (epoch ms). For tests, the development
 * `users:` TOTP secrets and tools; never needed to verify.
 */
export function generateTotpCode({ secret, now }: { secret: string; now?: number }): Promise<string> {
  const { otp, guardrails } = otplib();
  return otp.generate({
    secret,
    epoch: Math.floor((now ?? Date.now()) / 1000),
    period: TOTP_PERIOD_SECONDS,
    digits: TOTP_DIGITS,
    guardrails,
  });
}

/** The RFC 6238 time step T = floor(unixSeconds / 30) that `now` (epoch ms) falls in. */
export function totpStepAt(now: number): number {
  return Math.floor(now / 1000 / TOTP_PERIOD_SECONDS);
}
