import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from './errors.js';
import { loadConfig } from './load.js';

const SECRET = 'operator-secret-0123456789abcdefghijklmnop';
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'latchkey-config-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function load(resources: string) {
  const configPath = join(dir, 'latchkey.yaml');
  await writeFile(
    configPath,
    `clients:
  - { id: app, name: App, redirect_uris: [com.acme.app:/cb] }
  - { id: other, name: Other, redirect_uris: [com.acme.other:/cb] }
resources:
${resources}`,
  );
  return loadConfig({ env: { LATCHKEY_SECRET: SECRET }, cwd: dir, configPath });
}

async function issues(promise: Promise<unknown>) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return (error as ConfigError).issues;
}

describe('resources[].clients: which apps may get tokens for an API', () => {
  it('absent: every client, every scope (configurations written before the key existed)', async () => {
    const config = await load('  - { id: https://api.acme.test, scopes: [a, b] }\n');
    expect(config.resources[0]?.clients).toBeUndefined();
  });

  it('a list of client ids: those clients, every scope of the resource', async () => {
    const config = await load('  - { id: https://api.acme.test, scopes: [a, b], clients: [app] }\n');
    expect(config.resources[0]?.clients).toEqual({ app: ['a', 'b'] });
  });

  it('a mapping: each client with its own scopes (an empty list: the audience, no scope)', async () => {
    const config = await load(
      '  - { id: https://api.acme.test, scopes: [a, b], clients: { app: [b], other: [] } }\n',
    );
    expect(config.resources[0]?.clients).toEqual({ app: ['b'], other: [] });
  });

  it('an empty list admits no client', async () => {
    const config = await load('  - { id: https://api.acme.test, scopes: [a], clients: [] }\n');
    expect(config.resources[0]?.clients).toEqual({});
  });

  it('a scope the resource does not define is refused, naming the key', async () => {
    const found = await issues(
      load('  - { id: https://api.acme.test, scopes: [a], clients: { app: [a, nope] } }\n'),
    );
    expect(found).toEqual([
      { path: 'resources[0].clients.app[1]', message: 'scope "nope" is not in resources[0].scopes' },
    ]);
  });

  it('a duplicate client in the list is refused, naming the key', async () => {
    const found = await issues(load('  - { id: https://api.acme.test, clients: [app, app] }\n'));
    expect(found).toEqual([{ path: 'resources[0].clients[1]', message: 'client "app" is listed twice' }]);
  });

  it('something other than a list or a mapping is refused', async () => {
    const found = await issues(load('  - { id: https://api.acme.test, clients: app }\n'));
    expect(found[0]?.path).toBe('resources[0].clients');
    expect(found[0]?.message).toMatch(/list of client ids or a mapping/);
  });
});
