import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Brand } from './brand.js';
import { errorPage } from './error-page.js';
import { alert, format, html, layout, type SafeHtml } from './index.js';
import type { Branded } from './layout.js';
import { messages } from './messages.js';

/** Hidden CSRF field for every form. */
const csrfField = (token: string) => html`<input type="hidden" name="_csrf" value="${token}">`;

export interface EmailPageInput extends Branded {
  action: string;
  csrf: string;
  appName?: string | undefined;
  email?: string | undefined;
  error?: SafeHtml | string | undefined;
  passkeyAction?: string | undefined;
}

export function emailPage(input: EmailPageInput): string {
  const title = input.appName
    ? format(messages.emailTitle, { app: input.appName }).value
    : messages.emailTitleNoApp;
  return layout({
    brand: input.brand,
    title,
    scripts: input.passkeyAction ? ['/assets/passkey.js'] : [],
    body: html`<h1>${title}</h1>
${alert(input.error)}
<form method="post" action="${input.action}" novalidate>
${csrfField(input.csrf)}
<label for="email">${messages.emailLabel}</label>
<input id="email" name="email" type="email" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus value="${input.email ?? ''}" aria-describedby="email-help">
<p id="email-help" class="muted">${messages.emailHelp}</p>
<button type="submit">${messages.continue}</button>
</form>
${
  input.passkeyAction
    ? html`<div class="links"><button type="button" class="secondary" id="passkey-signin" data-action="${input.passkeyAction}" data-csrf="${input.csrf}" hidden>${messages.signInWithPasskey}</button></div>`
    : ''
}`,
  });
}

export interface PasswordPageInput extends Branded {
  action: string;
  csrf: string;
  email: string;
  switchUrl: string;
  error?: SafeHtml | string | undefined;
}

export function passwordPage(input: PasswordPageInput): string {
  return layout({
    brand: input.brand,
    title: messages.passwordTitle,
    body: html`<h1>${messages.passwordTitle}</h1>
<div class="identity"><span>${format(messages.signingInAs, { email: input.email })}</span></div>
${alert(input.error)}
<form method="post" action="${input.action}">
${csrfField(input.csrf)}
<input type="email" name="username" autocomplete="username" value="${input.email}" hidden readonly>
<label for="password">${messages.passwordLabel}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required autofocus>
<button type="submit">${messages.signIn}</button>
</form>
<div class="links"><a href="${input.switchUrl}">${messages.notYou}</a><span class="muted">${messages.forgotPassword}</span></div>`,
  });
}

export interface MessagePageInput extends Branded {
  title: string;
  message: SafeHtml | string;
  links?: { href: string; label: string }[];
  status?: number;
}

export function messagePage(input: MessagePageInput): string {
  return layout({
    brand: input.brand,
    title: input.title,
    body: html`<h1>${input.title}</h1>
<p role="alert">${input.message}</p>
${input.links?.length ? html`<div class="links">${input.links.map((l) => html`<a href="${l.href}">${l.label}</a>`)}</div>` : ''}`,
  });
}

export interface HandoffPageInput extends Branded {
  action: string;
  csrf: string;
  appName: string;
  email: string;
  mode: 'scheme' | 'loopback' | 'device' | 'web';
  switchUrl: string;
  retryUrl?: string | undefined;
  downloadUrl?: string | undefined;
  abortUrl: string;
  notice?: SafeHtml | string | undefined;
  /**
   * Device flow: what asked for the code, as the app describes itself ("Acme Desktop on Linux",
   * domain/user-agents.ts, never a raw User-Agent) and the address it asked from.
   */
  device?: { description: string; ip?: string | undefined; userCode?: string | undefined } | undefined;
  /** The APIs (RFC 8707 resources) the app asked to reach, with the scopes it will get for each. */
  reaches?: { name: string; scopes: string[] }[] | undefined;
  /** Loopback mode: the app's receiver (`http://127.0.0.1:<port>`), asked before the click is sent (assets-handoff.ts). */
  loopbackOrigin?: string | undefined;
}

// Kept here rather than in messages.ts while that file is being reworked; move them there later.
const PAGE_TEXT = {
  handoffReaches: '{app} will also reach {api}',
  handoffReachesScopes: '{app} will also reach {api} ({scopes})',
  handoffGoneTitle: '{app} is no longer waiting',
  handoffGone: '{app} is no longer waiting for this sign-in. Start again from the app.',
  handoffGoneHelp: 'You stay signed in here, so starting again from {app} takes one click.',
  deviceRequestedBy: 'Requested by {app} from {address} ({program})',
  deviceRequestedByNoAddress: 'Requested by {app} ({program})',
  deviceCodeShown: 'Code: {code} — the one your device shows',
  deviceThrottledTitle: 'Too many codes tried',
  deviceThrottled:
    'Too many codes were entered from your network. Wait {wait}, then enter the code your device shows again.',
  deviceThrottledAgain: 'Enter the code again',
} as const;

/**
 * The last page of every browser sign-in for a native app (RFC 8252 §8.6): nothing is approved
 * without this click, even when the browser session made credentials unnecessary.
 */
export function handoffPage(input: HandoffPageInput): string {
  const app = input.appName;
  const button =
    input.mode === 'scheme'
      ? format(messages.handoffLaunch, { app })
      : input.mode === 'device'
        ? raw(messages.handoffDeviceButton)
        : format(messages.handoffContinue, { app });
  const explanation =
    input.mode === 'scheme'
      ? format(messages.handoffPermission, { app })
      : input.mode === 'device'
        ? format(messages.handoffDevice, { app })
        : format(messages.handoffLoopback, { app });
  // The heading says what the button does (one action, one name).
  const title = input.mode === 'device' ? format(messages.deviceConfirmTitle, { app }).value : button.value;
  const opening = format(input.mode === 'scheme' ? messages.handoffOpening : messages.handoffReturning, {
    app,
  });
  return layout({
    brand: input.brand,
    title,
    scripts: ['/assets/handoff.js'],
    body: html`<h1>${title}</h1>
${alert(input.notice, 'info')}
<div class="identity"><span>${format(messages.signedInAs, { email: input.email })}</span></div>
<form method="post" action="${input.action}"${input.mode === 'loopback' && input.loopbackOrigin ? html` data-loopback="${input.loopbackOrigin}"` : ''}>
${csrfField(input.csrf)}
<button type="submit" id="handoff" autofocus>${button}</button>
</form>
${
  // Deny is a decision like Allow: a button that posts, never a link a prefetch could follow.
  input.mode === 'device'
    ? html`<form method="post" action="${input.abortUrl}">
${csrfField(input.csrf)}
<button type="submit" class="secondary" id="deny">${messages.handoffDeviceDeny}</button>
</form>`
    : ''
}
<div id="handoff-opening" class="opening" role="status" data-title="${opening}" hidden>
<p>${format(messages.handoffOpeningHelp, { app })}</p>
${input.retryUrl ? html`<a class="button secondary" href="${input.retryUrl}">${messages.handoffTryAgain}</a>` : ''}
</div>
${
  input.mode === 'loopback' && input.loopbackOrigin
    ? html`<div id="handoff-gone" class="opening" role="alert" data-title="${format(PAGE_TEXT.handoffGoneTitle, { app })}" hidden>
<p>${format(PAGE_TEXT.handoffGone, { app })}</p>
<p class="muted">${format(PAGE_TEXT.handoffGoneHelp, { app })}</p>
</div>`
    : ''
}
<p class="muted" id="handoff-explanation">${explanation}</p>
${
  input.mode === 'device' && input.device
    ? html`<p class="device-origin">${
        input.device.ip
          ? format(PAGE_TEXT.deviceRequestedBy, {
              app,
              address: input.device.ip,
              program: input.device.description,
            })
          : format(PAGE_TEXT.deviceRequestedByNoAddress, { app, program: input.device.description })
      }</p>${input.device.userCode ? html`<p class="muted">${format(PAGE_TEXT.deviceCodeShown, { code: input.device.userCode })}</p>` : ''}`
    : ''
}
${(input.reaches ?? []).map((r) => html`<p class="muted reaches">${format(r.scopes.length > 0 ? PAGE_TEXT.handoffReachesScopes : PAGE_TEXT.handoffReaches, { app, api: r.name, scopes: r.scopes.join(', ') })}</p>`)}
<div class="links">
${input.mode === 'scheme' && input.retryUrl ? html`<a href="${input.retryUrl}">${messages.handoffTryAgain}</a>` : ''}
${input.mode === 'scheme' && input.downloadUrl ? html`<a href="${input.downloadUrl}" rel="noopener">${format(messages.handoffDownload, { app })}</a>` : ''}
<a href="${input.switchUrl}">${messages.notYou}</a>

</div>`,
  });
}

function raw(text: string): SafeHtml {
  return html`${text}`;
}

// ---- Pages rendered inside the engine (Koa context) ----

/** Pulls the action URL and the engine's own CSRF value out of the form it hands us. */
function engineForm(form: string): { action: string; xsrf: string } {
  const action = /action="([^"]+)"/.exec(form)?.[1] ?? '';
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(form)?.[1] ?? '';
  return { action, xsrf };
}

function send(ctx: KoaContextWithOIDC, body: string) {
  ctx.type = 'html';
  ctx.body = body;
}

export function renderDeviceInput(
  ctx: KoaContextWithOIDC,
  form: string,
  _out: unknown,
  err: unknown,
  brand?: Brand,
): void {
  const { action, xsrf } = engineForm(form);
  const error = err ? messages.deviceInvalid : undefined;
  const code = typeof ctx.oidc.params?.user_code === 'string' ? ctx.oidc.params.user_code : '';
  send(
    ctx,
    layout({
      brand,
      title: messages.deviceTitle,
      body: html`<h1>${messages.deviceTitle}</h1>
${alert(error)}
<form method="post" action="${action}">
<input type="hidden" name="xsrf" value="${xsrf}">
${
  // One confirmation, not two: entering the code goes straight to the sign-in, and the page after
  // it (handoffPage, mode 'device') names the app, the device and its address, with Allow / Deny.
  html`<input type="hidden" name="confirm" value="yes">`
}
<label for="user_code">${messages.deviceLabel}</label>
<input id="user_code" name="user_code" type="text" autocomplete="one-time-code" autocapitalize="characters" spellcheck="false" required autofocus value="${code}" aria-describedby="code-help">
<p id="code-help" class="muted">${messages.deviceHelp}</p>
<button type="submit">${messages.continue}</button>
</form>`,
    }),
  );
}

export function renderDeviceConfirm(
  ctx: KoaContextWithOIDC,
  form: string,
  client: { clientName?: string; clientId: string },
  /** `program`: a summary from a fixed vocabulary (protocol/user-agent.ts), never the raw User-Agent. */
  deviceInfo: { ip?: string | undefined; program: string },
  userCode: string,
  brand?: Brand,
): void {
  const { action, xsrf } = engineForm(form);
  const app = client.clientName ?? client.clientId;
  const requestedBy = deviceInfo.ip
    ? format(PAGE_TEXT.deviceRequestedBy, { app, address: deviceInfo.ip, program: deviceInfo.program })
    : format(PAGE_TEXT.deviceRequestedByNoAddress, { app, program: deviceInfo.program });
  send(
    ctx,
    layout({
      brand,
      title: format(messages.deviceConfirmTitle, { app }).value,
      body: html`<h1>${format(messages.deviceConfirmTitle, { app })}</h1>
<p>${format(messages.deviceConfirmHelp, { app, code: userCode })}</p>
<p class="muted">${requestedBy}</p>
<form method="post" action="${action}">
<input type="hidden" name="xsrf" value="${xsrf}">
<input type="hidden" name="user_code" value="${userCode}">
<input type="hidden" name="confirm" value="yes">
<button type="submit" autofocus>${messages.deviceConfirm}</button>
</form>
<form method="post" action="${action}">
<input type="hidden" name="xsrf" value="${xsrf}">
<input type="hidden" name="user_code" value="${userCode}">
<input type="hidden" name="abort" value="yes">
<button type="submit" class="secondary">${messages.deviceAbort}</button>
</form>`,
    }),
  );
}

/** User-code entry refused by the throttle (RFC 8628 §5.1): how long to wait, and the way back. */
export function renderDeviceThrottled(ctx: KoaContextWithOIDC, seconds: number, brand?: Brand): void {
  send(
    ctx,
    messagePage({
      brand,
      title: PAGE_TEXT.deviceThrottledTitle,
      message: format(PAGE_TEXT.deviceThrottled, { wait: seconds === 1 ? '1 second' : `${seconds} seconds` }),
      links: [{ href: '/device', label: PAGE_TEXT.deviceThrottledAgain }],
    }),
  );
}

export function renderDeviceSuccess(ctx: KoaContextWithOIDC, brand?: Brand): void {
  send(ctx, messagePage({ brand, title: messages.deviceDoneTitle, message: messages.deviceDone }));
}

export function renderLogoutConfirm(ctx: KoaContextWithOIDC, form: string, brand?: Brand): void {
  const { action, xsrf } = engineForm(form);
  send(
    ctx,
    layout({
      brand,
      title: messages.logoutTitle,
      body: html`<h1>${messages.logoutTitle}</h1>
<p>${messages.logoutHelp}</p>
<form method="post" action="${action}">
<input type="hidden" name="xsrf" value="${xsrf}">
<input type="hidden" name="logout" value="yes">
<button type="submit" autofocus>${messages.logoutConfirm}</button>
</form>`,
    }),
  );
}

export function renderLoggedOut(ctx: KoaContextWithOIDC, brand?: Brand): void {
  send(ctx, messagePage({ brand, title: messages.signedOutTitle, message: messages.signedOut }));
}

/**
 * Errors the engine cannot send back to the client (unknown client, bad redirect URI, expired
 * interaction…): what happened in words, the reference of the log line, and the RFC error code
 * folded into a details line for support, never internals.
 */
export function renderErrorPage(
  ctx: KoaContextWithOIDC,
  out: { error?: string; error_description?: string },
  brand?: Brand,
): void {
  const code = out.error ?? 'server_error';
  let message: string | SafeHtml;
  const description = out.error_description ?? '';
  if (code === 'invalid_client') message = messages.errorUnknownClient;
  else if (/redirect_uri/.test(description) || code === 'invalid_redirect_uri')
    message = messages.errorRedirectUri;
  else if (code === 'server_error') message = messages.errorGeneric;
  else if (code === 'temporarily_unavailable') message = messages.errorUnavailable;
  else if (
    /interaction|session/i.test(description) ||
    (code === 'invalid_request' && /expired/.test(description))
  )
    message = messages.errorExpired;
  else message = format(messages.errorInvalidRequest, { code });
  const reference = String(ctx.res.getHeader('x-request-id') ?? '');
  send(
    ctx,
    errorPage({
      brand,
      title: messages.errorTitle,
      message,
      reference,
      details: description && code !== 'server_error' ? `${code}: ${description}` : code,
    }),
  );
}
