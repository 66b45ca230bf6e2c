import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { accentStylesheet, createBrands } from '../pages/brand-assets.js';
import { contrastRatio, MAX_LOGO_BYTES } from './build.js';
import { ConfigError } from './errors.js';
import { loadConfig } from './load.js';

const SECRET = 'operator-secret-0123456789abcdefghijklmnop';
// A 1×1 PNG.
const PNG_BASE64 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'latchkey-branding-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function load(yaml: string) {
  const configPath = join(dir, 'latchkey.yaml');
  await writeFile(configPath, yaml);
  return loadConfig({ env: { LATCHKEY_SECRET: SECRET }, cwd: dir, configPath });
}

async function issuesOf(yaml: string) {
  const error = await load(yaml).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return (error as ConfigError).issues;
}

const withOrgBranding = (branding: string) => `
organizations:
  - id: acme
    name: Acme Corp
    domains: [acme.test]
    connection: { type: local }
    branding: ${branding}
`;

describe('branding: in the configuration', () => {
  it('reads a data: URI logo, a logo file and an accent; every level builds its own brand', async () => {
    await writeFile(join(dir, 'meetings.png'), Buffer.from(PNG_BASE64, 'base64'));
    const config = await load(`
branding: { display_name: Example Sign-in, accent_color: "#1C4F80" }
clients:
  - id: meetings
    name: Acme Meetings
    redirect_uris: [com.acme.meetings:/cb]
    branding: { logo: meetings.png }
organizations:
  - id: acme
    name: Acme Corp
    domains: [acme.test]
    connection: { type: local }
    branding: { logo: "data:image/png;base64,${PNG_BASE64}", accent_color: "#2b6a3e" }
`);
    expect(config.branding).toEqual({ displayName: 'Example Sign-in', accentColor: '#1c4f80' });
    expect(config.clients[0]?.branding?.logo).toEqual({ mediaType: 'image/png', base64: PNG_BASE64 });
    expect(config.organizations[0]?.branding?.logo).toEqual({ mediaType: 'image/png', base64: PNG_BASE64 });

    const brands = createBrands(config);
    expect(brands.instance.name).toBe('Example Sign-in');
    expect(brands.instance.logoUrl).toBeUndefined();
    const org = brands.pick({ organizationId: 'acme', clientId: 'meetings' });
    // The organization wins over the app; its name defaults to the organization's name.
    expect(org.name).toBe('Acme Corp');
    const app = brands.pick({ clientId: 'meetings' });
    expect(app.name).toBe('Acme Meetings');
    // The app sets no accent: the instance's applies.
    expect(app.stylesheetUrl).toBe(brands.instance.stylesheetUrl);
    expect(brands.pick({ clientId: 'unbranded', organizationId: 'unknown' })).toBe(brands.instance);

    // Files are served by their content's hash.
    const logoName = org.logoUrl?.replace('/assets/brand/', '') ?? '';
    expect(logoName).toMatch(/^[\w-]{22}$/);
    expect(brands.asset(logoName)?.body.equals(Buffer.from(PNG_BASE64, 'base64'))).toBe(true);
    expect(brands.asset(logoName)?.type).toBe('image/png');
    const css = brands.asset(org.stylesheetUrl?.replace('/assets/brand/', '') ?? '');
    expect(css?.body.toString()).toBe(accentStylesheet('#2b6a3e'));
    expect(brands.asset('nothing.css')).toBeUndefined();
  });

  it('without branding every page is Latchkey', async () => {
    const config = await load(withOrgBranding('{}'));
    expect(createBrands(config).instance).toEqual({ name: 'Latchkey' });
  });

  it('refuses a logo at a URL: the pages load images from Latchkey only', async () => {
    const issues = await issuesOf(withOrgBranding('{ logo: "https://cdn.acme.test/logo.png" }'));
    expect(issues).toEqual([
      {
        path: 'organizations[0].branding.logo',
        message: expect.stringMatching(/not a URL.*img-src 'self' data:/),
      },
    ]);
  });

  it('refuses an accent white text is unreadable on, naming the measured ratio', async () => {
    const issues = await issuesOf(`branding: { accent_color: "#ffcc00" }\n`);
    const ratio = contrastRatio('#ffcc00', '#ffffff');
    expect(ratio).toBeLessThan(4.5);
    expect(issues).toEqual([
      {
        path: 'branding.accent_color',
        message: expect.stringContaining(`${ratio.toFixed(2)}:1, below the 4.5:1`),
      },
    ]);
    // The boundary: the base stylesheet's own blue passes, a slightly lighter grey does not.
    expect(contrastRatio('#3b5bdb', '#ffffff')).toBeGreaterThanOrEqual(4.5);
    expect(contrastRatio('#777777', '#ffffff')).toBeLessThan(4.5);
    expect((await issuesOf(`branding: { accent_color: "#777777" }\n`))[0]?.message).toMatch(/4\.48:1/);
  });

  it('refuses a colour not written #rrggbb', async () => {
    for (const color of ['red', '#fff', 'rgb(0,0,0)', '#12345g']) {
      expect(await issuesOf(`branding: { accent_color: "${color}" }\n`)).toEqual([
        { path: 'branding.accent_color', message: 'must be a colour written #rrggbb, e.g. #1c4f80' },
      ]);
    }
  });

  it('refuses other data: types, oversized logos, unreadable files, in one report', async () => {
    const big = Buffer.alloc(MAX_LOGO_BYTES + 1).toString('base64');
    const issues = await issuesOf(`
branding: { logo: "data:text/html;base64,PGgxPg==" }
clients:
  - id: a
    redirect_uris: [com.acme.a:/cb]
    branding: { logo: "data:image/png;base64,${big}" }
  - id: b
    redirect_uris: [com.acme.b:/cb]
    branding: { logo: missing.svg }
  - id: c
    redirect_uris: [com.acme.c:/cb]
    branding: { logo: logo.gif }
`);
    expect(issues).toEqual(
      expect.arrayContaining([
        { path: 'branding.logo', message: 'must be a data:image/(png|svg+xml|jpeg|webp);base64,… URI' },
        {
          path: 'clients[0].branding.logo',
          message: `is ${MAX_LOGO_BYTES + 1} bytes; a logo may have at most ${MAX_LOGO_BYTES} bytes`,
        },
        { path: 'clients[1].branding.logo', message: 'cannot be read (ENOENT)' },
        {
          path: 'clients[2].branding.logo',
          message: 'must be a .png, .svg, .jpg or .webp file (or a data:image/… URI)',
        },
      ]),
    );
  });
});
