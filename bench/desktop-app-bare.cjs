// The baseline of bench/desktop-app.mjs: a bare GTK window started the way acme-desktop starts
// (node-gtk, GLib's main loop entered from CommonJS, GTK loaded from an ES module continuation,
// a header bar and one label), printing `shown` once laid out, as acme-desktop traces its views.
const gi = require('node-gtk');
const GLib = gi.require('GLib', '2.0');
const loop = new GLib.MainLoop(null, false);
Promise.resolve().then(() => {
  const Gtk = gi.require('Gtk', '3.0');
  gi.require('Gdk', '3.0');
  Gtk.init();
  const window = new Gtk.Window({ type: Gtk.WindowType.TOPLEVEL });
  window.setTitle('Bare window');
  window.setDefaultSize(520, 600);
  const header = new Gtk.HeaderBar();
  header.setShowCloseButton(true);
  header.setTitle('Bare window');
  window.setTitlebar(header);
  window.add(new Gtk.Label({ label: 'Hello' }));
  window.showAll();
  setImmediate(() => {
    process.stdout.write(`${JSON.stringify({ event: 'shown', ms: Math.round(performance.now()) })}\n`);
    process.exit(0);
  });
});
loop.run();
