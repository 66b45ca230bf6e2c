import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeDevice } from '../../server/src/domain/user-agents.js';
import { createContext } from './context.js';
import { createMemoryStore } from './stores/memory-store.js';
import { SDK_VERSION, sdkUserAgent } from './user-agent.js';

describe('the SDK’s User-Agent', () => {
  it('names the app first, then the system and the SDK; the server lists it as the app on its system', () => {
    const ua = sdkUserAgent({ appName: 'Acme Desktop', appVersion: '2.1.0' }, 'linux');
    expect(ua).toBe(`Acme Desktop/2.1.0 (Linux) latchkey-desktop/${SDK_VERSION}`);
    expect(describeDevice(ua)).toBe('Acme Desktop on Linux');
    expect(describeDevice(sdkUserAgent({ appName: 'Acme Desktop' }, 'win32'))).toBe(
      'Acme Desktop on Windows',
    );
    expect(describeDevice(sdkUserAgent({ appName: 'Acme Desktop' }, 'darwin'))).toBe('Acme Desktop on macOS');
  });

  it('drops what could make the header say something else, and falls back to the SDK alone', () => {
    expect(sdkUserAgent({ appName: 'Evil) Node.js/1 (\r\nX: y' }, 'linux')).toBe(
      `Evil Node.js1 X y/0 (Linux) latchkey-desktop/${SDK_VERSION}`,
    );
    expect(sdkUserAgent({ appName: '(((' }, 'linux')).toBe(`latchkey-desktop/${SDK_VERSION} (Linux)`);
    expect(sdkUserAgent({}, 'linux')).toBe(`latchkey-desktop/${SDK_VERSION} (Linux)`);
    expect(describeDevice(sdkUserAgent({}, 'linux'))).toBe('latchkey-desktop on Linux');
  });

  it('is the version in package.json', async () => {
    const manifest = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));
    expect(SDK_VERSION).toBe(manifest.version);
  });

  it('replaces oauth4webapi’s own on the requests the SDK makes', async () => {
    const seen: (string | null)[] = [];
    const ctx = await createContext({
      issuer: 'http://127.0.0.1:9/',
      clientId: 'acme-desktop',
      store: createMemoryStore(),
      cacheDir: await mkdtemp(join(tmpdir(), 'latchkey-ua-')),
      scopes: ['openid'],
      resources: [],
      discoveryMaxAgeSeconds: 0,
      userAgent: 'Acme Desktop/2.1.0 (Linux) latchkey-desktop/0.1.0',
      fetch: async (_url, init) => {
        seen.push(new Headers(init?.headers).get('user-agent'));
        return new Response('{}', { status: 500 });
      },
    });
    await ctx.metadata().catch(() => {});
    expect(seen).toEqual(['Acme Desktop/2.1.0 (Linux) latchkey-desktop/0.1.0']);
  });
});
