import type { Caller } from '../../admin-api/auth.js';
import { html } from '../../pages/html.js';
import { consolePage } from '../layout.js';

/** A refusal or failure inside the console, with the way back. */
export function problemPage(input: {
  title: string;
  message: string;
  caller?: Caller | undefined;
  csrf?: string | undefined;
}): string {
  return consolePage({
    title: input.title,
    caller: input.caller,
    csrf: input.csrf,
    body: html`<p role="alert">${input.message}</p>
<p><a href="/admin">Back to the overview</a></p>`,
  });
}

/** Someone signed in who holds no administrator role: words, not a stack trace. */
export function notAdminPage(detail: string): string {
  return consolePage({
    title: 'You are not an administrator',
    body: html`<p role="alert">You signed in, but this console is only for Latchkey administrators (${detail}).</p>
<p>If you should manage users or organizations here, ask an instance administrator to give you a role (<code>latchkey admin admins grant --user you@example.com</code>, or the <code>admin.administrators</code> list of the configuration file).</p>
<div class="links"><a href="/account">Go to your account page</a><a href="/admin/sign-in?switch=1">Sign in with another account</a></div>`,
  });
}

export function signedOutPage(message: string): string {
  return consolePage({
    title: 'Signed out of the admin console',
    body: html`<p role="status">${message}</p>
<div class="links"><a href="/admin/sign-in">Sign in again</a></div>`,
  });
}

/** The sign-in round trip failed (denied, expired, another browser): start again. */
export function signInFailedPage(message: string): string {
  return consolePage({
    title: 'Sign-in did not finish',
    body: html`<p role="alert">${message}</p>
<div class="links"><a href="/admin/sign-in">Sign in to the console again</a></div>`,
  });
}
