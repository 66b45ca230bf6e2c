/**
 * The pages the loopback receiver shows in the browser tab that carried the redirect (RFC 8252
 * §7.3). Self-contained: inline CSS, no external assets (the page is served with `default-src
 * 'none'`, and a fetched asset could carry the code in its Referer); every text is escaped.
 */

/** What a loopback page shows: the app's name, and for the error page what went wrong (plain text). */
export interface LoopbackPageInfo {
  appName: string | undefined;
  message?: string;
}

/**
 * A page of your own: a function returning a whole HTML document, or an HTML template whose
 * placeholders `{{appName}}` and `{{message}}` are replaced by the escaped text (an unknown
 * placeholder is left as written, so a typo shows on the page instead of vanishing).
 */
export type LoopbackPage<Info> = string | ((info: Info) => string);

/** Renders the loopback receiver's pages (either or both; the other stays the built-in one). */
export interface LoopbackPages {
  /** After a successful sign-in. */
  success?: LoopbackPage<{ appName: string | undefined }>;
  /** After a failed one. `message` is plain text (in a function, escape it with `escapeHtml`). */
  error?: LoopbackPage<{ appName: string | undefined; message: string }>;
}

const PLACEHOLDER = /\{\{\s*(appName|message)\s*\}\}/g;

/**
 * Renders a page of your own: calls the function, or fills the template's placeholders with the
 * escaped values (`appName` without one reads "the application", as on the built-in pages).
 */
export function renderLoopbackPage<Info extends LoopbackPageInfo>(
  page: LoopbackPage<Info>,
  info: Info,
): string {
  if (typeof page === 'function') return page(info);
  return page.replace(PLACEHOLDER, (_all, name: 'appName' | 'message') =>
    escapeHtml(name === 'appName' ? (info.appName ?? 'the application') : (info.message ?? '')),
  );
}

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Replaces the tab's URL with `/`: the authorization code leaves the address bar and the history
 * without another request to the one-shot server. Added to custom pages too.
 */
const CLEAN_URL_SCRIPT = "<script>history.replaceState(null,'','/');</script>";

/** Puts the address-bar cleanup in a page: before `</body>` when there is one, else at the end. */
export function withCleanUrl(html: string): string {
  const end = html.toLowerCase().lastIndexOf('</body>');
  return end < 0
    ? `${html}${CLEAN_URL_SCRIPT}`
    : `${html.slice(0, end)}${CLEAN_URL_SCRIPT}${html.slice(end)}`;
}

const STYLE = `
:root{color-scheme:light dark;--bg:#f4f5f7;--card:#fff;--text:#1d2330;--muted:#5b6475;--ok:#1a7f4b;--bad:#b42318}
@media (prefers-color-scheme:dark){:root{--bg:#15181e;--card:#1f232b;--text:#e8eaee;--muted:#a3aab8;--ok:#4cc38a;--bad:#f97066}}
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;background:var(--bg);color:var(--text);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;padding:1.5rem}
main{background:var(--card);border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.12),0 8px 24px rgba(0,0,0,.06);max-width:28rem;width:100%;padding:2.5rem 2rem;text-align:center}
svg{width:3.5rem;height:3.5rem;margin-bottom:1rem}
.ok svg{color:var(--ok)}.bad svg{color:var(--bad)}
h1{font-size:1.4rem;margin:0 0 .5rem}
p{margin:.5rem 0;color:var(--muted)}
.app{color:var(--text);font-weight:600}
.detail{font-size:.9rem;word-break:break-word}
`;

const ICON_OK =
  '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><circle cx="12" cy="12" r="10"/><path d="m7.5 12.5 3 3 6-6.5"/></svg>';
const ICON_BAD =
  '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><circle cx="12" cy="12" r="10"/><path d="M12 7v6M12 17h.01"/></svg>';

function document(title: string, kind: 'ok' | 'bad', body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><main class="${kind}">${kind === 'ok' ? ICON_OK : ICON_BAD}${body}</main></body></html>`;
}

function appLabel(appName: string | undefined): string {
  return appName ? `<span class="app">${escapeHtml(appName)}</span>` : 'the application';
}

/**
 * "Signed in" / "You are signed in — return to <App>". The heading stays "Signed in": whole-flow tests
 * (e2e/) and people's scripts look for it.
 */
export function defaultSuccessPage({ appName }: { appName: string | undefined }): string {
  return document(
    appName ? `Signed in — ${appName}` : 'Signed in',
    'ok',
    `<h1>Signed in</h1><p>You are signed in — return to ${appLabel(appName)}. You can close this tab.</p>`,
  );
}

/** "Sign-in failed", what went wrong, and where to try again. */
export function defaultErrorPage({
  appName,
  message,
}: {
  appName: string | undefined;
  message: string;
}): string {
  return document(
    appName ? `Sign-in failed — ${appName}` : 'Sign-in failed',
    'bad',
    `<h1>Sign-in failed</h1><p class="detail">${escapeHtml(message)}</p><p>Return to ${appLabel(appName)} and try again.</p>`,
  );
}

/** The short page for any other request to the receiver. */
export function notFoundPage(): string {
  return document('Not found', 'bad', '<h1>Not found</h1><p>Nothing here.</p>');
}
