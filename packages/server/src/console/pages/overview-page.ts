import { html, type SafeHtml } from '../../pages/html.js';
import type { HourCounts } from '../overview-stats.js';

const KINDS = [
  { key: 'signIns', label: 'Sign-ins' },
  { key: 'failures', label: 'Failed attempts' },
  { key: 'throttled', label: 'Throttled attempts' },
  { key: 'upstreamErrors', label: 'Upstream errors' },
] as const;

export function overviewBody(input: { hours: HourCounts[]; scope: string }): SafeHtml {
  const total = (key: (typeof KINDS)[number]['key']) => input.hours.reduce((sum, h) => sum + h[key], 0);
  const rows = [...input.hours].reverse();
  return html`<p class="muted">The last ${input.hours.length} hours, ${input.scope}, from the audit log (every server process).</p>
<div class="tiles">${KINDS.map((k) => html`<div class="tile"><span class="n">${total(k.key)}</span>${k.label}</div>`)}</div>
<h2>Per hour</h2>
<table><caption class="muted">Newest hour first; times in UTC</caption>
<thead><tr><th scope="col">Hour</th>${KINDS.map((k) => html`<th scope="col" class="num">${k.label}</th>`)}</tr></thead>
<tbody>${rows.map(
    (h) =>
      html`<tr><th scope="row">${new Date(h.hour).toISOString().slice(0, 13).replace('T', ' ')}:00</th>${KINDS.map((k) => html`<td class="num">${h[k.key]}</td>`)}</tr>`,
  )}</tbody></table>`;
}
