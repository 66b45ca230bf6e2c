import type { SecondFactorMethod } from '../domain/two-step/credentials.js';
import { alert, format, html, layout, raw, type SafeHtml } from './index.js';
import type { Branded } from './layout.js';
import { messages } from './messages.js';
import { METHOD_LABEL } from './two-step-text.js';

const csrfField = (token: string) => html`<input type="hidden" name="_csrf" value="${token}">`;

export interface SecondFactorPageInput extends Branded {
  method: SecondFactorMethod;
  /** Form action (TOTP, recovery) or the passkey ceremony's base path. */
  action: string;
  csrf: string;
  email: string;
  /** "Try another way", when the user has another method. */
  chooseUrl?: string | undefined;
  switchUrl: string;
  error?: SafeHtml | string | undefined;
  /**
   * The way out for a lost phone on the authenticator page: a recovery code's page when the person
   * has codes, otherwise (`admin`) what to ask the administrator.
   */
  lostPhone?: { recoveryUrl: string } | 'admin' | undefined;
}

/** The second step: one method at a time, with "Try another way" (like Google's 2-Step Verification). */
export function secondFactorPage(input: SecondFactorPageInput): string {
  const title =
    input.method === 'recovery'
      ? messages.recoveryTitle
      : input.method === 'passkey'
        ? messages.passkeyTitle
        : messages.totpTitle;
  const identity = html`<div class="identity"><span>${format(messages.signingInAs, { email: input.email })}</span></div>`;
  let form: SafeHtml;
  if (input.method === 'totp') {
    form = html`<form method="post" action="${input.action}">
${csrfField(input.csrf)}
<label for="code">${messages.totpLabel}</label>
<input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 \\-]*" maxlength="12" required autofocus aria-describedby="code-help">
<p id="code-help" class="muted">${format(messages.totpHelp, { email: input.email })}</p>
<button type="submit">${messages.verify}</button>
</form>`;
  } else if (input.method === 'recovery') {
    form = html`<form method="post" action="${input.action}">
${csrfField(input.csrf)}
<label for="code">${messages.recoveryLabel}</label>
<input id="code" name="code" type="text" autocomplete="off" autocapitalize="none" spellcheck="false" maxlength="40" required autofocus>
<button type="submit">${messages.verify}</button>
</form>`;
  } else {
    form = html`<p>${messages.passkeyHelp}</p>
<p class="muted" data-passkey-nojs>${messages.passkeyNeedsScript}</p>
<button type="button" id="passkey" data-passkey data-action="${input.action}" data-csrf="${input.csrf}" data-failed="${messages.passkeyFailed}" hidden autofocus>${messages.passkeyButton}</button>`;
  }
  return layout({
    brand: input.brand,
    title,
    scripts: input.method === 'passkey' ? ['/assets/passkey.js'] : [],
    body: html`<h1>${title}</h1>
${identity}
${alert(input.error)}
${form}
${input.method === 'totp' && input.lostPhone === 'admin' ? html`<p class="muted lost-phone">${format(messages.lostPhoneAdmin, { email: input.email })}</p>` : ''}
<div class="links">
${input.method === 'totp' && typeof input.lostPhone === 'object' ? html`<a href="${input.lostPhone.recoveryUrl}">${messages.lostPhoneRecovery}</a>` : ''}
${input.chooseUrl ? html`<a href="${input.chooseUrl}">${messages.chooseMethod}</a>` : ''}
<a href="${input.switchUrl}">${messages.notYou}</a>
</div>`,
  });
}

export function chooseMethodPage(
  input: {
    email: string;
    choices: { method: SecondFactorMethod; href: string }[];
  } & Branded,
): string {
  return layout({
    brand: input.brand,
    title: messages.chooseTitle,
    body: html`<h1>${messages.chooseTitle}</h1>
<div class="identity"><span>${format(messages.signingInAs, { email: input.email })}</span></div>
<p>${messages.chooseHelp}</p>
<ul class="choices">
${input.choices.map((c, i) => html`<li><a class="button secondary" href="${c.href}"${i === 0 ? raw(' autofocus') : ''}>${METHOD_LABEL[c.method]}</a></li>`)}
</ul>`,
  });
}

export interface EnrollPageInput extends Branded {
  action: string;
  csrf: string;
  email: string;
  qrSvg: string;
  key: string;
  /** Extra hidden fields (the account page keeps the pending secret sealed in the form). */
  hidden?: Record<string, string>;
  title?: string;
  help?: string;
  error?: SafeHtml | string | undefined;
  backUrl?: string | undefined;
}

/** TOTP enrollment: QR code and the key for manual entry, confirmed by a first code. */
export function enrollPage(input: EnrollPageInput): string {
  const title = input.title ?? messages.enrollTitle;
  // Groups of four make the Base32 key readable aloud and easy to type.
  const grouped = input.key.replace(/(.{4})(?=.)/g, '$1 ');
  return layout({
    brand: input.brand,
    title,
    body: html`<h1>${title}</h1>
<div class="identity"><span>${input.email}</span></div>
${alert(input.error)}
<p>${input.help ?? messages.enrollHelp}</p>
<div class="qr" role="img" aria-label="${messages.enrollQrLabel}">${raw(input.qrSvg)}</div>
<p class="muted">${messages.enrollManual}</p>
<p class="key" id="totp-key">${grouped}</p>
<form method="post" action="${input.action}">
${csrfField(input.csrf)}
${Object.entries(input.hidden ?? {}).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
<label for="code">${messages.totpLabel}</label>
<input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="12" required autofocus>
<button type="submit">${messages.enrollConfirm}</button>
</form>
${input.backUrl ? html`<div class="links"><a href="${input.backUrl}">${messages.accountBack}</a></div>` : ''}`,
  });
}

export interface RecoveryCodesPageInput extends Branded {
  codes: readonly string[];
  downloadHref: string;
  /** Where "I saved my codes" goes: a form post (sign-in) or a link (account page). */
  doneAction?: string;
  doneUrl?: string;
  csrf?: string;
}

/** Ten codes, shown once, with a download. */
export function recoveryCodesPage(input: RecoveryCodesPageInput): string {
  return layout({
    brand: input.brand,
    title: messages.recoveryCodesTitle,
    body: html`<h1>${messages.recoveryCodesTitle}</h1>
<p>${messages.recoveryCodesHelp}</p>
<ol class="codes" id="recovery-codes">${input.codes.map((c) => html`<li><code>${c}</code></li>`)}</ol>
<a class="button secondary" href="${input.downloadHref}" download="${messages.recoveryCodesDownloadName}">${messages.recoveryCodesDownload}</a>
${
  input.doneAction
    ? html`<form method="post" action="${input.doneAction}">${csrfField(input.csrf ?? '')}<button type="submit" autofocus>${messages.recoveryCodesDone}</button></form>`
    : html`<a class="button" href="${input.doneUrl ?? '/account'}">${messages.recoveryCodesDone}</a>`
}`,
  });
}
