export { escapeHtml, format, html, raw, type SafeHtml } from './html.js';
export { alert, layout } from './layout.js';
