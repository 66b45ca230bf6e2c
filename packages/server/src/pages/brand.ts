/** What the header of a page shows: a display name, and optionally a logo and an accent stylesheet. */
export interface Brand {
  /** The header's text (and the logo's alt text). */
  name: string;
  /** Same-origin URL of the logo (/assets/brand/<hash>); never another origin (CSP img-src 'self'). */
  logoUrl?: string | undefined;
  /** Same-origin stylesheet that sets the accent colour (/assets/brand/<hash>.css): no inline styles. */
  stylesheetUrl?: string | undefined;
}

/** The brand of an instance that configures none. */
export const DEFAULT_BRAND: Brand = Object.freeze({ name: 'Latchkey' });
