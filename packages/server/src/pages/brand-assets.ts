import { createHash } from 'node:crypto';
import type { BrandingConfig, LatchkeyConfig } from '../config/types.js';
import { type Brand, DEFAULT_BRAND } from './brand.js';

export interface BrandAsset {
  type: string;
  body: Buffer;
}

/**
 * The brands of the instance, its organizations and its apps, built once at start from the
 * configuration, and the files they need (logos, accent stylesheets), served from /assets/brand/
 * under a content hash so they can be cached for good.
 *
 * Which brand a page shows (`pick`): the organization's once the sign-in knows it (after the email
 * step) — the person's employer is who they trust with their password; else the app's (a client in
 * the request: the first sign-in step, device confirmation, the errors of an interaction); else the
 * instance's. The app's name stays in the texts that already name it ("Sign in to Acme Desktop").
 * Keys an organization or app leaves unset come from the instance's branding.
 */
export interface Brands {
  readonly instance: Brand;
  pick(at: { organizationId?: string | undefined; clientId?: string | undefined }): Brand;
  asset(name: string): BrandAsset | undefined;
}

const hashOf = (body: Buffer) => createHash('sha256').update(body).digest('base64url').slice(0, 22);

/** A few rules over the base stylesheet (web/assets.ts): the header text and the primary buttons. */
export function accentStylesheet(color: string): string {
  return `.brand{color:${color}}button,.button{background:${color}}\n`;
}

export function createBrands(config: Pick<LatchkeyConfig, 'branding' | 'organizations' | 'clients'>): Brands {
  const assets = new Map<string, BrandAsset>();
  const add = (body: Buffer, type: string, ext: string) => {
    const name = `${hashOf(body)}${ext}`;
    assets.set(name, { type, body });
    return `/assets/brand/${name}`;
  };
  const base = config.branding ?? {};
  const make = (own: BrandingConfig, fallbackName: string): Brand => {
    const logo = own.logo ?? base.logo;
    const accent = own.accentColor ?? base.accentColor;
    return Object.freeze({
      name: own.displayName ?? fallbackName,
      logoUrl: logo ? add(Buffer.from(logo.base64, 'base64'), logo.mediaType, '') : undefined,
      stylesheetUrl: accent
        ? add(Buffer.from(accentStylesheet(accent)), 'text/css; charset=utf-8', '.css')
        : undefined,
    });
  };
  const instance = config.branding ? make(config.branding, DEFAULT_BRAND.name) : DEFAULT_BRAND;
  const organizations = new Map<string, Brand>();
  for (const o of config.organizations) if (o.branding) organizations.set(o.id, make(o.branding, o.name));
  const clients = new Map<string, Brand>();
  for (const c of config.clients) if (c.branding) clients.set(c.id, make(c.branding, c.name));
  return {
    instance,
    pick: ({ organizationId, clientId }) =>
      (organizationId !== undefined ? organizations.get(organizationId) : undefined) ??
      (clientId !== undefined ? clients.get(clientId) : undefined) ??
      instance,
    asset: (name) => assets.get(name),
  };
}
