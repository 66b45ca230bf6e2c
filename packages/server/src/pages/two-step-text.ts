import type { SecondFactorMethod } from '../domain/two-step/credentials.js';
import { messages } from './messages.js';

export function throttledText(retryAfterMs: number): string {
  return messages.throttled.replace('{seconds}', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
}

/** A `data:` URL of a text file listing the codes, for the download link (no route keeps them). */
export function recoveryCodesDownload(email: string, codes: readonly string[]): string {
  const text = `${messages.recoveryCodesFileHeader.replace('{email}', email)}\n\n${codes.join('\n')}\n`;
  return `data:text/plain;charset=utf-8,${encodeURIComponent(text)}`;
}

export const METHOD_LABEL: Record<SecondFactorMethod, string> = {
  totp: messages.methodTotp,
  passkey: messages.methodPasskey,
  recovery: messages.methodRecovery,
};
