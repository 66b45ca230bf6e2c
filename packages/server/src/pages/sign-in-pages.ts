import type { KoaContextWithOIDC } from 'oidc-provider';
import { alert, format, html, layout, type SafeHtml } from './index.js';
import { messages } from './messages.js';

/** Hidden CSRF field for every form. */
const csrfField = (token: string) => html`<input type="hidden" name="_csrf" value="${token}">`;

export interface EmailPageInput {
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

export interface PasswordPageInput {
  action: string;
  csrf: string;
  email: string;
  switchUrl: string;
  error?: SafeHtml | string | undefined;
}

export function passwordPage(input: PasswordPageInput): string {
  return layout({
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

export interface MessagePageInput {
  title: string;
  message: SafeHtml | string;
  links?: { href: string; label: string }[];
  status?: number;
}

export function messagePage(input: MessagePageInput): string {
  return layout({
    title: input.title,
    body: html`<h1>${input.title}</h1>
<p role="alert">${input.message}</p>
${input.links?.length ? html`<div class="links">${input.links.map((l) => html`<a href="${l.href}">${l.label}</a>`)}</div>` : ''}`,
  });
}

export interface HandoffPageInput {
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
}

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
  const title = format(messages.handoffTitle, { app }).value;
  return layout({
    title,
    body: html`<h1>${title}</h1>
${alert(input.notice, 'info')}
<div class="identity"><span>${format(messages.signedInAs, { email: input.email })}</span></div>
<form method="post" action="${input.action}">
${csrfField(input.csrf)}
<button type="submit" id="handoff" autofocus>${button}</button>
</form>
<p class="muted">${explanation}</p>
<div class="links">
${input.mode === 'scheme' && input.retryUrl ? html`<a href="${input.retryUrl}">${messages.handoffTryAgain}</a>` : ''}
${input.mode === 'scheme' && input.downloadUrl ? html`<a href="${input.downloadUrl}" rel="noopener">${format(messages.handoffDownload, { app })}</a>` : ''}
<a href="${input.switchUrl}">${messages.notYou}</a>
${input.mode === 'device' ? html`<a href="${input.abortUrl}">${messages.handoffDeviceDeny}</a>` : ''}
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

export function renderDeviceInput(ctx: KoaContextWithOIDC, form: string, _out: unknown, err: unknown): void {
  const { action, xsrf } = engineForm(form);
  const error = err ? messages.deviceInvalid : undefined;
  const code = typeof ctx.oidc.params?.user_code === 'string' ? ctx.oidc.params.user_code : '';
  send(
    ctx,
    layout({
      title: messages.deviceTitle,
      body: html`<h1>${messages.deviceTitle}</h1>
${alert(error)}
<form method="post" action="${action}">
<input type="hidden" name="xsrf" value="${xsrf}">
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
  deviceInfo: { ip?: string; ua?: string } | undefined,
  userCode: string,
): void {
  const { action, xsrf } = engineForm(form);
  const app = client.clientName ?? client.clientId;
  const device = [deviceInfo?.ua, deviceInfo?.ip].filter(Boolean).join(' · ');
  send(
    ctx,
    layout({
      title: format(messages.deviceConfirmTitle, { app }).value,
      body: html`<h1>${format(messages.deviceConfirmTitle, { app })}</h1>
<p>${format(messages.deviceConfirmHelp, { app, code: userCode })}</p>
${device ? html`<p class="muted">${format(messages.deviceConfirmDevice, { device })}</p>` : ''}
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

export function renderDeviceSuccess(ctx: KoaContextWithOIDC): void {
  send(ctx, messagePage({ title: messages.deviceDoneTitle, message: messages.deviceDone }));
}

export function renderLogoutConfirm(ctx: KoaContextWithOIDC, form: string): void {
  const { action, xsrf } = engineForm(form);
  send(
    ctx,
    layout({
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

export function renderLoggedOut(ctx: KoaContextWithOIDC): void {
  send(ctx, messagePage({ title: messages.signedOutTitle, message: messages.signedOut }));
}

/**
 * Errors the engine cannot send back to the client (unknown client, bad redirect URI, expired
 * interaction…): a readable page with the RFC error code and no internals.
 */
export function renderErrorPage(
  ctx: KoaContextWithOIDC,
  out: { error?: string; error_description?: string },
): void {
  const code = out.error ?? 'server_error';
  let message: string | SafeHtml;
  const description = out.error_description ?? '';
  if (code === 'invalid_client') message = messages.errorUnknownClient;
  else if (/redirect_uri/.test(description)) message = messages.errorRedirectUri;
  else if (code === 'server_error') message = messages.errorGeneric;
  else if (code === 'temporarily_unavailable') message = messages.errorUnavailable;
  else if (
    /interaction|session/i.test(description) ||
    (code === 'invalid_request' && /expired/.test(description))
  )
    message = messages.errorExpired;
  else message = format(messages.errorInvalidRequest, { code });
  send(
    ctx,
    layout({
      title: messages.errorTitle,
      body: html`<h1>${messages.errorTitle}</h1>
<p role="alert">${message}</p>
<p class="muted"><code>${code}</code>${description && code !== 'server_error' ? html`: ${description}` : ''}</p>`,
    }),
  );
}
