/**
 * GTK 3 through node-gtk (GObject introspection). node-gtk runs Node's event loop inside GTK's main
 * loop, so `fetch`, timers and the SDK work unchanged while `Gtk.main()` runs. Its CommonJS entry is
 * the one with the helpers (`require`), so it is loaded with `createRequire`.
 */
import { createRequire } from 'node:module';

// node-gtk builds its classes at run time from the typelibs: there are no TypeScript types to import.
// biome-ignore lint/suspicious/noExplicitAny: GObject introspection objects are untyped
export type G = any;

export interface Toolkit {
  Gtk: G;
  Gdk: G;
  GdkPixbuf: G;
  Atk: G;
  GLib: G;
}

let loaded: Toolkit | undefined;

/** Loads GTK 3 and initialises it (needs a display: `DISPLAY` or `WAYLAND_DISPLAY`). */
export function loadToolkit(): Toolkit {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  const gi = require('node-gtk') as { require(namespace: string, version?: string): G };
  const Gtk = gi.require('Gtk', '3.0');
  const Gdk = gi.require('Gdk', '3.0');
  const GdkPixbuf = gi.require('GdkPixbuf', '2.0');
  const Atk = gi.require('Atk', '1.0');
  const GLib = gi.require('GLib', '2.0');
  Gtk.init();
  loaded = { Gtk, Gdk, GdkPixbuf, Atk, GLib };
  return loaded;
}

/** Whether a window can be shown at all: a graphical session on Linux; elsewhere assumed. */
export function hasDisplay(env: NodeJS.ProcessEnv = process.env): boolean {
  if (process.platform !== 'linux' && process.platform !== 'freebsd') return true;
  return Boolean(env.DISPLAY || env.WAYLAND_DISPLAY);
}
