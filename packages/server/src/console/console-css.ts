/**
 * The console's additions to the sign-in pages' stylesheet (/assets/latchkey.css, loaded first):
 * a wide frame, navigation, tables and the danger button. Served at /admin/assets/console.css
 * (CSP style-src 'self': no inline styles). Colours keep at least 4.5:1 for text and 3:1 for
 * borders and focus rings against their backgrounds (WCAG 1.4.3, 1.4.11).
 */
export const consoleStylesheet = `
body.console{padding:0}
.console .top{background:#1b1f24;color:#fff;padding:10px 20px;display:flex;flex-wrap:wrap;gap:12px 24px;align-items:center}
.console .top .brand{color:#fff;margin:0;font-size:.95rem}
.console .top nav ul{list-style:none;display:flex;flex-wrap:wrap;gap:4px;margin:0;padding:0}
.console .top nav a{color:#fff;text-decoration:none;padding:6px 10px;border-radius:6px;display:inline-block}
.console .top nav a:hover{background:#343a40}
.console .top nav a[aria-current=page]{background:#3b5bdb}
.console .top a:focus,.console .top button:focus{outline:3px solid #74c0fc;outline-offset:2px}
.console .who{margin-left:auto;display:flex;gap:12px;align-items:center;font-size:.9rem}
.console .who button{background:#f1f3f5;color:#1b1f24;border:1px solid #adb5bd;margin:0;width:auto;padding:6px 12px;font-size:.9rem}
.console main.wide{max-width:1100px;margin:24px auto;background:#fff;border-radius:12px;padding:24px 28px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
.console table{border-collapse:collapse;width:100%;margin:8px 0 16px;font-size:.95rem}
.console th,.console td{text-align:left;padding:8px 10px;border-bottom:1px solid #dee2e6;vertical-align:top}
.console th{background:#f1f3f5}
.console td.num,.console th.num{text-align:right;font-variant-numeric:tabular-nums}
.console form.search{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-end;margin:8px 0 16px}
.console form.search label{margin:0 0 4px}
.console form.search input,.console form.search select{width:auto;min-width:12rem;font-size:1rem;padding:8px 10px;border:1px solid #868e96;border-radius:8px;background:#fff;color:#1b1f24}
.console form.search button{width:auto;margin:0}
.console select:focus{outline:3px solid #1864ab;outline-offset:2px}
.console .actions{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0 16px}
.console .actions form{margin:0}
.console .actions button,.console .actions .button{width:auto;margin:0;padding:8px 14px;font-size:.95rem}
.console button.danger{background:#c92a2a;color:#fff}
.console .badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:.85rem;border:1px solid #495057;color:#1b1f24;background:#fff}
.console .badge.ok{border-color:#2b8a3e;color:#1e6b30;background:#ebfbee}
.console .badge.bad{border-color:#c92a2a;color:#a61e1e;background:#fff5f5}
.console .tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,1fr));gap:12px;margin:12px 0 20px}
.console .tile{border:1px solid #adb5bd;border-radius:10px;padding:12px 14px}
.console .tile .n{font-size:1.8rem;font-weight:700;display:block}
.console dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:8px 0 16px}
.console dl.facts dt{font-weight:600}
.console dl.facts dd{margin:0;word-break:break-word}
.console .pager{display:flex;gap:16px;margin:8px 0}
.console code{font-family:ui-monospace,monospace;font-size:.9em}
.console pre{background:#f8f9fa;border:1px solid #adb5bd;border-radius:8px;padding:10px;overflow:auto;white-space:pre-wrap}
`;
