import { html } from './html.js';
import { layout } from './layout.js';
import { messages } from './messages.js';

/**
 * The SAML HTTP-POST binding's hop (SAML Bindings §3.5.4): a form carrying the AuthnRequest to the
 * IdP, posted by `/assets/auto-post.js` (CSP allows no inline script), or by the person's click.
 */
export function upstreamPostPage(input: { action: string; fields: Record<string, string> }): string {
  return layout({
    title: messages.upstreamPostTitle,
    scripts: ['/assets/auto-post.js'],
    body: html`<h1>${messages.upstreamPostTitle}</h1>
<form method="post" action="${input.action}" id="auto-post">
${Object.entries(input.fields).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
<button type="submit">${messages.upstreamPostContinue}</button>
</form>`,
  });
}
