import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../test-support/server.js';
import { baseEnv, buildServer, LATCHKEY_BIN } from './test-support/run-latchkey.js';

let cwd: string;
beforeAll(async () => {
  await buildServer();
  cwd = await mkdtemp(path.join(os.tmpdir(), 'latchkey-tty-'));
}, 240_000);
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

/** `latchkey serve` in a terminal (a real pseudo-terminal through util-linux's `script`). */
describe('latchkey serve on a terminal', () => {
  it('says where it runs and what is missing in one human line, and logs readable lines, not JSON', async () => {
    const port = await freePort();
    const command = `${process.execPath} ${LATCHKEY_BIN} serve`;
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      cwd,
      env: { ...baseEnv({ LATCHKEY_PORT: String(port) }), TERM: 'dumb' },
      detached: true,
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    try {
      const deadline = Date.now() + 30_000;
      while (!/Latchkey is listening/.test(output) && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 200));
      expect(output).toMatch(
        new RegExp(
          `Latchkey on http://127\\.0\\.0\\.1:${port} — (no apps or organizations yet|\\d+ apps? \\([^)]+\\), no organizations yet); see docs/configuration\\.md`,
        ),
      );
      expect(output).toMatch(/\d\d:\d\d:\d\d info +Latchkey is listening on/);
      expect(output).not.toMatch(/^\{"level"/m);
    } finally {
      process.kill(-(child.pid as number), 'SIGTERM');
    }
  }, 60_000);
});
