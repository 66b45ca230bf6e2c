/** Static assets served from /assets; pages load nothing from other origins (CSP default-src 'self'). */
export const stylesheet = `
*{box-sizing:border-box}
html{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.5;color:#1b1f24;background:#f3f4f6}
body{margin:0;padding:24px 12px;min-height:100vh}
.skip{position:absolute;left:-9999px}.skip:focus{left:12px;top:12px;background:#fff;padding:8px}
.card{max-width:420px;margin:40px auto;background:#fff;border-radius:12px;padding:32px 28px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
/* The header: a logo and the display name as its owner writes it (no case change: brand names have their own). */
.brand{font-weight:700;letter-spacing:.02em;color:#3b5bdb;margin:0 0 16px;font-size:1rem;display:flex;align-items:center;gap:10px}
.brand .logo{height:32px;width:auto;max-width:160px}
h1{font-size:1.45rem;margin:0 0 12px}
p{margin:0 0 14px}
label{display:block;font-weight:600;margin:14px 0 6px}
input[type=email],input[type=password],input[type=text]{width:100%;font-size:1rem;padding:10px 12px;border:1px solid #868e96;border-radius:8px}
input:focus,button:focus,a:focus,summary:focus{outline:3px solid #1864ab;outline-offset:2px}
button,.button{display:block;width:100%;margin-top:18px;font-size:1rem;font-weight:600;padding:11px 14px;border:0;border-radius:8px;background:#3b5bdb;color:#fff;cursor:pointer;text-align:center;text-decoration:none}
button.secondary,.button.secondary{background:#f1f3f5;color:#1b1f24;border:1px solid #6c757d}
.alert:empty{display:none}
.alert{padding:10px 12px;border-radius:8px;margin:0 0 14px}
.alert.error{background:#fff5f5;border:1px solid #ffa8a8;color:#862e2e}
.alert.info{background:#e7f5ff;border:1px solid #a5d8ff;color:#1c4f80}
.muted{color:#495057;font-size:.92rem}
.links{margin-top:18px;display:flex;flex-direction:column;gap:8px;font-size:.95rem}
.identity{display:flex;gap:8px;align-items:center;background:#f8f9fa;border:1px solid #868e96;border-radius:8px;padding:8px 12px;margin-bottom:12px;word-break:break-all}
.codes{font-family:ui-monospace,monospace;font-size:1.05rem;columns:2;padding-left:1.2em}
.qr svg{width:200px;height:200px}
.key{font-family:ui-monospace,monospace;word-break:break-all;background:#f8f9fa;padding:6px 8px;border-radius:6px}
form.inline{display:inline}
h2{font-size:1.1rem;margin:24px 0 8px}
section{border-top:1px solid #e9ecef;margin-top:20px}
ul.choices,ul.items{list-style:none;padding:0;margin:0}
ul.items li{display:flex;justify-content:space-between;align-items:center;gap:8px;padding:6px 0;flex-wrap:wrap}
button.small{width:auto;margin:0;padding:6px 12px;font-size:.9rem}
.qr svg{max-width:100%}
/* WCAG 1.4.11: boxes, secondary buttons and the focus ring keep at least 3:1 against the card. */
.reference{margin-top:18px}
details{margin-top:8px}
.opening p{margin-top:8px}
@media (max-width:480px){.card{margin:0;padding:24px 16px}}
`;
