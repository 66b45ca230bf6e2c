import type { SecondFactorMethod } from '../domain/two-step/credentials.js';
import { html, type SafeHtml } from './html.js';
import { messages } from './messages.js';

/** "1 second", "40 seconds", "2 minutes": a wait as people say it (minutes from two minutes on). */
export function waitText(seconds: number): string {
  if (seconds < 120)
    return seconds === 1 ? messages.waitSecond : messages.waitSeconds.replace('{n}', String(seconds));
  const minutes = Math.ceil(seconds / 60);
  return minutes === 1 ? messages.waitMinute : messages.waitMinutes.replace('{n}', String(minutes));
}

const waitSeconds = (retryAfterMs: number) => Math.max(1, Math.ceil(retryAfterMs / 1000));

export function throttledText(retryAfterMs: number): string {
  return messages.throttled.replace('{wait}', waitText(waitSeconds(retryAfterMs)));
}

/**
 * The same words with a countdown (/assets/countdown.js counts the span down and then says
 * "You can try again now"); without script the text stays as written.
 */
export function throttledCountdown(retryAfterMs: number): SafeHtml {
  const seconds = waitSeconds(retryAfterMs);
  const [before, after] = messages.throttled.split('{wait}') as [string, string];
  return html`${before}<span data-countdown="${seconds}" data-ready="${messages.throttledReady}" data-one="${messages.waitSecond}" data-many="${messages.waitSeconds}" data-minute="${messages.waitMinute}" data-minutes="${messages.waitMinutes}">${waitText(seconds)}</span>${after}`;
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
