import { alert, format, html, layout, type SafeHtml } from './index.js';
import type { Branded } from './layout.js';
import { messages } from './messages.js';

const csrfField = (token: string) => html`<input type="hidden" name="_csrf" value="${token}">`;

/** Dates in a form every reader parses the same way, whatever their locale. */
export function shortDate(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export interface AccountPageInput extends Branded {
  csrf: string;
  email: string;
  local: boolean;
  notice?: string | undefined;
  error?: string | undefined;
  minPasswordLength: number;
  totp: boolean;
  passkeys: {
    id: string;
    createdAt: number;
    lastUsedAt: number | null;
    /** Where it was added from (passkeys added before this was recorded have none). */
    addedFrom?: { device: string; ip: string } | undefined;
  }[];
  /** "Sign out everywhere" offers to remove credentials added in this many days. */
  recentDays: number;
  recoveryCodes: number;
  /** From `SessionControl.listing()`: browsers, and apps holding a live refresh token (redeemed codes). */
  sessions: AccountSessionRow[];
}

export interface AccountSessionRow {
  kind: 'session' | 'grant';
  id: string;
  /** The app's registered name, or "Browser" for a browser session at Latchkey. */
  what: string;
  /** OS and browser, or the app as it describes itself (domain/user-agents.ts). */
  device: string;
  ip: string | null;
  signedInAt: number;
  lastUsedAt: number;
  current: boolean;
}

/** A moment as `<time>`: UTC text, rewritten in the reader's zone by /assets/local-time.js. */
export function localTime(ms: number): SafeHtml {
  return html`<time datetime="${new Date(ms).toISOString()}" data-local-time>${shortDate(ms)}</time>`;
}

function endForm(csrf: string, action: string, label: string, text: string): SafeHtml {
  return html`<form method="post" action="${action}" class="inline">${csrfField(csrf)}<button type="submit" class="secondary small" aria-label="${label}">${text}</button></form>`;
}

export function accountPage(input: AccountPageInput): string {
  const { csrf } = input;
  const twoStep = input.local
    ? html`<section aria-labelledby="pw-h">
<h2 id="pw-h">${messages.accountPasswordTitle}</h2>
<form method="post" action="/account/password">
${csrfField(csrf)}
<input type="email" name="username" autocomplete="username" value="${input.email}" hidden readonly>
<label for="current-password">${messages.accountCurrentPassword}</label>
<input id="current-password" name="current" type="password" autocomplete="current-password" required autofocus>
<label for="new-password">${messages.accountNewPassword}</label>
<input id="new-password" name="password" type="password" autocomplete="new-password" required minlength="${input.minPasswordLength}" aria-describedby="new-password-help">
<p id="new-password-help" class="muted">${format(messages.accountPasswordHelp, { min: input.minPasswordLength })}</p>
<label for="confirm-password">${messages.accountConfirmPassword}</label>
<input id="confirm-password" name="confirm" type="password" autocomplete="new-password" required>
<label class="check"><input type="checkbox" name="keep_session" id="keep-session" checked> ${messages.accountKeepThisBrowser}</label>
<p class="muted">${messages.accountPasswordSignsOut}</p>
<button type="submit">${messages.accountChangePassword}</button>
</form>
</section>
<section aria-labelledby="totp-h">
<h2 id="totp-h">${messages.accountTotpTitle}</h2>
<p id="totp-status">${input.totp ? messages.accountTotpOn : messages.accountTotpOff}</p>
<a class="button secondary" href="/account/totp">${input.totp ? messages.accountTotpReplace : messages.accountTotpSetUp}</a>
${input.totp ? html`<form method="post" action="/account/totp/remove">${csrfField(csrf)}<button type="submit" class="secondary">${messages.accountTotpRemove}</button></form>` : ''}
</section>
<section aria-labelledby="pk-h">
<h2 id="pk-h">${messages.accountPasskeysTitle}</h2>
${
  input.passkeys.length
    ? html`<ul class="items" id="passkeys">${input.passkeys.map((p) => {
        const date = shortDate(p.createdAt);
        return html`<li><span>${format(messages.accountPasskeyItem, { date })}${p.addedFrom ? html` ${format(messages.accountPasskeyFrom, p.addedFrom)}` : ''}${p.lastUsedAt ? html`, ${format(messages.accountPasskeyLastUsed, { date: shortDate(p.lastUsedAt) })}` : ''}</span>
${endForm(csrf, `/account/passkeys/${encodeURIComponent(p.id)}/remove`, format(messages.accountPasskeyRemoveLabel, { date }).value, messages.accountPasskeyRemove)}</li>`;
      })}</ul>`
    : html`<p>${messages.accountPasskeysNone}</p>`
}
<p class="muted" data-passkey-nojs>${messages.passkeyNeedsScript}</p>
<button type="button" id="add-passkey" class="secondary" data-passkey data-mode="create" data-action="/account/passkeys" data-csrf="${csrf}" data-failed="${messages.accountPasskeyFailed}" hidden>${messages.accountPasskeyAdd}</button>
</section>
<section aria-labelledby="rc-h">
<h2 id="rc-h">${messages.accountRecoveryTitle}</h2>
<p id="recovery-status">${input.recoveryCodes ? format(messages.recoveryCodesLeft, { count: input.recoveryCodes }) : messages.accountRecoveryNone}</p>
<form method="post" action="/account/recovery-codes">${csrfField(csrf)}
<p class="muted">${messages.accountRecoveryMakeHelp}</p>
<button type="submit" class="secondary">${messages.accountRecoveryMake}</button></form>
</section>`
    : html`<p>${messages.accountNotLocal}</p>`;
  return layout({
    brand: input.brand,
    title: messages.accountTitle,
    scripts: input.local ? ['/assets/passkey.js'] : [],
    body: html`<h1>${messages.accountTitle}</h1>
<div class="identity"><span>${format(messages.signedInAs, { email: input.email })}</span></div>
${alert(input.error)}
${alert(input.notice, 'info')}
${twoStep}
<section aria-labelledby="s-h">
<h2 id="s-h">${messages.accountSessionsTitle}</h2>
<ul class="items" id="sessions">${input.sessions.map((s) => {
      const label = format(messages.accountSessionRow, { what: s.what, device: s.device }).value;
      return html`<li class="session"><span><strong class="what">${s.what}</strong>${s.current ? html` ${messages.accountSessionThis}` : ''}<br>
<span class="muted"><span class="device">${s.device}</span>${s.ip ? html` · <span class="ip">${s.ip}</span>` : ''}<br>
${messages.accountSessionSignedIn} ${localTime(s.signedInAt)} · ${messages.accountSessionLastUsed} ${localTime(s.lastUsedAt)}</span></span>
${endForm(csrf, `/account/sessions/${s.kind}/${encodeURIComponent(s.id)}/end`, format(messages.accountSessionEndLabel, { what: label }).value, messages.accountSessionEnd)}</li>`;
    })}</ul>
<form method="post" action="/account/sessions/end-all">${csrfField(csrf)}
${input.local ? html`<label class="check"><input type="checkbox" name="remove_recent" id="remove-recent"> ${format(messages.accountRemoveRecent, { days: input.recentDays })}</label>` : ''}
<button type="submit" class="secondary">${messages.accountSignOutEverywhere}</button></form>
</section>
<div class="links"><a href="/session/end">${messages.accountSignOut}</a></div>`,
  });
}

export function signedOutAccountPage(input: Branded = {}): string {
  return layout({
    brand: input.brand,
    title: messages.accountTitle,
    body: html`<h1>${messages.accountTitle}</h1>
<p>${messages.accountSignedOut}</p>
<a class="button" href="/account/sign-in" autofocus>${messages.accountSignIn}</a>`,
  });
}

/** The step-up page: changes to how a person signs in need a recent sign-in. */
export function confirmItIsYouPage(input: { minutes: number } & Branded): string {
  return layout({
    brand: input.brand,
    title: messages.accountConfirmTitle,
    body: html`<h1>${messages.accountConfirmTitle}</h1>
<p>${format(messages.accountConfirmHelp, { minutes: input.minutes })}</p>
<a class="button" href="/account/sign-in?confirm=1" autofocus>${messages.accountConfirmButton}</a>
<a class="button secondary" href="/account">${messages.accountTitle}</a>`,
  });
}

export { alert };
