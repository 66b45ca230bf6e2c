import { MIN_PASSWORD_LENGTH } from '../domain/passwords/password-check.js';
import { alert, format, html, layout } from './index.js';
import type { Branded } from './layout.js';
import { messages } from './messages.js';

export function resetPage(
  input: {
    csrf: string;
    email: string;
    action: string;
    error?: string | undefined;
  } & Branded,
): string {
  return layout({
    brand: input.brand,
    title: messages.resetTitle,
    body: html`<h1>${messages.resetTitle}</h1>
<p>${format(messages.resetHelp, { email: input.email })}</p>
${alert(input.error)}
<form method="post" action="${input.action}">
<input type="hidden" name="_csrf" value="${input.csrf}">
<input type="email" name="username" autocomplete="username" value="${input.email}" hidden readonly>
<label for="new-password">${messages.accountNewPassword}</label>
<input id="new-password" name="password" type="password" autocomplete="new-password" required minlength="${MIN_PASSWORD_LENGTH}" autofocus aria-describedby="new-password-help">
<p id="new-password-help" class="muted">${format(messages.accountPasswordHelp, { min: MIN_PASSWORD_LENGTH })}</p>
<label for="confirm-password">${messages.accountConfirmPassword}</label>
<input id="confirm-password" name="confirm" type="password" autocomplete="new-password" required>
<button type="submit">${messages.resetSubmit}</button>
</form>`,
  });
}
