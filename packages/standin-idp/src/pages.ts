import type { StandinProfile } from './accounts.js';

/** The steps of the stand-in's sign-in, in order. Each form carries `data-step` for headless drivers. */
export type SignInStep = 'email' | 'password' | 'totp';

export interface PageInput {
  profile: StandinProfile;
  uid: string;
  step: SignInStep;
  /** The email typed or hinted so far. */
  email?: string | undefined;
  clientName?: string | undefined;
  error?: string | undefined;
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

const BRAND: Record<StandinProfile, { name: string; heading: string; subheading: string }> = {
  google: { name: 'Google (stand-in)', heading: 'Sign in', subheading: 'Use your Google Account' },
  entra: { name: 'Microsoft (stand-in)', heading: 'Sign in', subheading: 'Sign in to your account' },
};

const STYLE = `
body{font-family:system-ui,sans-serif;background:#f0f4f9;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}
main{background:#fff;border-radius:24px;padding:36px 40px;width:min(420px,90vw);box-shadow:0 1px 3px #0002}
.brand{font-weight:600;color:#444;margin:0 0 16px}
h1{font-weight:400;font-size:28px;margin:0 0 8px}
p{color:#444}
label{display:block;margin:16px 0 6px}
input{width:100%;box-sizing:border-box;font-size:16px;padding:12px;border:1px solid #888;border-radius:4px}
.who{display:inline-block;border:1px solid #ccc;border-radius:16px;padding:4px 12px}
.error{color:#b3261e}
.actions{display:flex;justify-content:space-between;align-items:center;margin-top:24px}
button{background:#0b57d0;color:#fff;border:0;border-radius:20px;padding:10px 24px;font-size:14px;cursor:pointer}
a{color:#0b57d0}`;

function stepBody(input: PageInput): string {
  const base = `/interaction/${encodeURIComponent(input.uid)}`;
  const email = escapeHtml(input.email ?? '');
  const error = input.error ? `<p class="error" role="alert">${escapeHtml(input.error)}</p>` : '';
  const cancel = `<a href="${base}/abort" id="cancel">Cancel</a>`;
  switch (input.step) {
    case 'email':
      return `<form method="post" action="${base}/email" data-step="email">
  <label for="email">Email or phone</label>
  <input id="email" name="email" type="email" autocomplete="username" value="${email}" autofocus required>
  ${error}
  <div class="actions">${cancel}<button type="submit" id="next">Next</button></div>
</form>`;
    case 'password':
      return `<p><span class="who" id="who">${email}</span> <a href="${base}/switch" id="switch">Not you?</a></p>
<form method="post" action="${base}/password" data-step="password">
  <input type="hidden" name="email" value="${email}">
  <label for="password">Enter your password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" autofocus required>
  ${error}
  <div class="actions">${cancel}<button type="submit" id="next">Next</button></div>
</form>`;
    case 'totp':
      return `<h2>2-Step Verification</h2>
<p><span class="who" id="who">${email}</span></p>
<p>Get a verification code from the authenticator app.</p>
<form method="post" action="${base}/totp" data-step="totp">
  <label for="code">Enter code</label>
  <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]*" autofocus required>
  ${error}
  <div class="actions">${cancel}<button type="submit" id="next">Verify</button></div>
</form>`;
  }
}

export function renderSignInPage(input: PageInput): string {
  const brand = BRAND[input.profile];
  const to = input.clientName ? `<p>to continue to ${escapeHtml(input.clientName)}</p>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${brand.heading} - ${brand.name}</title><style>${STYLE}</style></head>
<body><main>
<p class="brand">${brand.name}</p>
<h1>${brand.heading}</h1>
<p>${brand.subheading}</p>${to}
${stepBody(input)}
</main></body></html>`;
}

export function renderMessagePage(profile: StandinProfile, title: string, message: string): string {
  const brand = BRAND[profile];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)} - ${brand.name}</title><style>${STYLE}</style></head>
<body><main><p class="brand">${brand.name}</p><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p></main></body></html>`;
}
