import { type Brand, DEFAULT_BRAND } from './brand.js';
import { html, type SafeHtml } from './html.js';
import { messages } from './messages.js';

export interface LayoutOptions {
  title: string;
  body: SafeHtml;
  /** Scripts served from /assets (CSP allows only 'self'). */
  scripts?: string[];
  /** Whose name, logo and accent the header shows (pages/brand-assets.ts `pick`); default Latchkey's. */
  brand?: Brand | undefined;
}

/** Page inputs that take the brand to show. */
export interface Branded {
  brand?: Brand | undefined;
}

/** The frame of every page: accessible landmarks, a skip link, one stylesheet, no inline script. */
export function layout({ title, body, scripts = [], brand = DEFAULT_BRAND }: LayoutOptions): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · ${brand.name}</title>
<link rel="stylesheet" href="/assets/latchkey.css">
${brand.stylesheetUrl ? html`<link rel="stylesheet" href="${brand.stylesheetUrl}">` : ''}
${scripts.map((src) => html`<script src="${src}" defer></script>`)}
${
  // Only a page showing a throttle's wait (pages/two-step-text.ts) carries the countdown script.
  body.value.includes('data-countdown=') ? html`<script src="/assets/countdown.js" defer></script>` : ''
}
${
  // Times shown in the reader's own zone (web/assets-local-time.ts); the UTC text stays without it.
  body.value.includes('data-local-time') ? html`<script src="/assets/local-time.js" defer></script>` : ''
}
</head>
<body>
<a class="skip" href="#main">${messages.skipToContent}</a>
<main id="main" class="card">
<p class="brand" aria-hidden="true">${
    brand.logoUrl ? html`<img class="logo" src="${brand.logoUrl}" alt="${brand.name}" height="32">` : ''
  }<span class="brand-name">${brand.name}</span></p>
${body}
</main>
</body>
</html>`.value;
}

/** A status region that screen readers announce when it has content. */
export function alert(message: SafeHtml | string | undefined, kind: 'error' | 'info' = 'error'): SafeHtml {
  return html`<div class="alert ${kind}" role="${kind === 'error' ? 'alert' : 'status'}" aria-live="polite">${
    message ?? ''
  }</div>`;
}
