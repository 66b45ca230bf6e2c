import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from './config/load.js';
import { startServer } from './server.js';
import { BASE_YAML, freePort, TEST_SECRET } from './test-support/server.js';

let dir: string | undefined;
let blocker: Server | undefined;

afterEach(async () => {
  await new Promise((resolve) => (blocker ? blocker.close(resolve) : resolve(undefined)));
  blocker = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('starting a server', () => {
  it('whose port is taken fails with the reason and leaves its database closed', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'latchkey-start-'));
    const port = await freePort();
    blocker = createServer();
    await new Promise<void>((resolve) => blocker?.listen(port, '127.0.0.1', resolve));
    const configPath = path.join(dir, 'latchkey.yaml');
    await writeFile(configPath, BASE_YAML);
    const database = path.join(dir, 'latchkey.db');
    const config = await loadConfig({
      cwd: dir,
      configPath,
      env: {
        LATCHKEY_ISSUER: `http://127.0.0.1:${port}`,
        LATCHKEY_PORT: String(port),
        LATCHKEY_DATABASE_URL: `sqlite:${database}`,
        LATCHKEY_SECRET: TEST_SECRET,
        LATCHKEY_LOG_LEVEL: 'silent',
      },
    });
    await expect(startServer(config)).rejects.toMatchObject({ code: 'EADDRINUSE' });
    // Closed: the last connection to close folds the write-ahead log into the file and removes it
    // (and the checkpoint thread is gone with it).
    expect(existsSync(`${database}-wal`)).toBe(false);
  });
});
