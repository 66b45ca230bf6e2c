export { type SafeHtml, escapeHtml, format, html, raw } from './html.js';
export { alert, layout } from './layout.js';
