import { html, layout, type SafeHtml } from './index.js';
import type { Branded } from './layout.js';
import { messages } from './messages.js';

export interface ErrorPageInput extends Branded {
  title: string;
  message: SafeHtml | string;
  /** The request id, also in the log line of the refusal, for whoever helps the person. */
  reference: string;
  /** Replays the app's authorization request, when Latchkey still knows it. */
  startAgainUrl?: string | undefined;
  /** For support: the protocol error code and its description, folded away. */
  details?: string | undefined;
}

/** Every error a person reaches: words first, a way on, then the reference and the code for support. */
export function errorPage(input: ErrorPageInput): string {
  return layout({
    brand: input.brand,
    title: input.title,
    body: html`<h1>${input.title}</h1>
<p role="alert">${input.message}</p>
${input.startAgainUrl ? html`<a class="button" href="${input.startAgainUrl}">${messages.errorStartAgainApp}</a>` : ''}
<p class="muted reference">${messages.errorReference.replace('{id}', input.reference)}</p>
${input.details ? html`<details class="muted"><summary>${messages.errorDetails}</summary><code>${input.details}</code></details>` : ''}`,
  });
}
