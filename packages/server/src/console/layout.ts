import type { Caller } from '../admin-api/auth.js';
import { html, type SafeHtml } from '../pages/html.js';
import { alert } from '../pages/layout.js';
import { CONSOLE_NAME } from './console-client.js';
import { mayUse } from './operations.js';

/** The console's sections; each shows only to a caller who may use the operation behind it. */
const SECTIONS = [
  { href: '/admin', label: 'Overview', operation: 'getMe' },
  { href: '/admin/users', label: 'Users', operation: 'searchUsers' },
  { href: '/admin/organizations', label: 'Organizations', operation: 'listOrganizations' },
  { href: '/admin/apps', label: 'Apps', operation: 'listClients' },
  { href: '/admin/keys', label: 'Signing keys', operation: 'listKeys' },
  { href: '/admin/audit', label: 'Audit log', operation: 'searchAudit' },
  { href: '/admin/administrators', label: 'Administrators', operation: 'listAdmins' },
] as const;

export type Section = (typeof SECTIONS)[number]['href'];

export interface ConsolePageInput {
  title: string;
  body: SafeHtml;
  /** The signed-in administrator; undefined on the pages before or after a session. */
  caller?: Caller | undefined;
  csrf?: string | undefined;
  section?: Section | undefined;
  notice?: string | undefined;
  error?: string | undefined;
}

/** Hidden synchronizer token of every console form. */
export const csrfField = (token: string) => html`<input type="hidden" name="_csrf" value="${token}">`;

/**
 * The console's frame: the sign-in pages' stylesheet and escaping, a wide main area, navigation by
 * role (an organization administrator's shows no instance-wide page), a skip link, no script.
 */
export function consolePage(input: ConsolePageInput): string {
  const { caller } = input;
  const nav = caller
    ? html`<nav aria-label="Console"><ul>${SECTIONS.filter((s) => mayUse(s.operation, caller)).map(
        (s) =>
          html`<li><a href="${s.href}"${s.href === input.section ? html` aria-current="page"` : ''}>${s.label}</a></li>`,
      )}</ul></nav>
<div class="who"><span>${caller.user.email ?? caller.user.id} · ${caller.roles.instance ? 'instance administrator' : `administrator of ${caller.roles.organizations.join(', ')}`}</span>
<form method="post" action="/admin/sign-out">${csrfField(input.csrf ?? '')}<button type="submit">Sign out</button></form></div>`
    : '';
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${input.title} · ${CONSOLE_NAME}</title>
<link rel="stylesheet" href="/assets/latchkey.css">
<link rel="stylesheet" href="/admin/assets/console.css">
</head>
<body class="console">
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<p class="brand">${CONSOLE_NAME}</p>
${nav}
</header>
<main id="main" class="wide">
<h1>${input.title}</h1>
${input.notice ? alert(input.notice, 'info') : ''}
${input.error ? alert(input.error, 'error') : ''}
${input.body}
</main>
</body>
</html>`.value;
}

/** `2026-12-02 13:05 UTC`: one unambiguous format for every time the console shows. */
export function when(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
