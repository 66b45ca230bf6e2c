import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

// Like every process a test spawns, the command runs from the compiled dist/ (`npm test` builds first).
const BIN = fileURLToPath(new URL('../bin/latchkey-standin-idp.js', import.meta.url));
const DIST = fileURLToPath(new URL('../dist/main.js', import.meta.url));

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0] ?? '');
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${err}`)));
  });
}

describe('latchkey-standin-idp command', () => {
  if (!existsSync(DIST)) throw new Error(`${DIST} is missing: run npm run build first`);
  let child: ChildProcess | undefined;
  afterEach(() => {
    child?.kill('SIGTERM');
    child = undefined;
  });

  it('starts from flags, prints its issuer and serves discovery', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'standin-'));
    const users = join(dir, 'users.json');
    writeFileSync(users, JSON.stringify([{ email: 'alice@acme.test', password: 'pw' }]));
    child = spawn(
      process.execPath,
      [BIN, '--port', '0', '--users', users, '--client', 'app:sec:http://127.0.0.1:4000/cb'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const issuer = await firstLine(child);
    expect(issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const discovery = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as {
      issuer: string;
    };
    expect(discovery.issuer).toBe(issuer);
  });

  it("says in one line that it is a demo stand-in keeping its state in memory, not the engine's warning", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'standin-'));
    const users = join(dir, 'users.json');
    writeFileSync(users, JSON.stringify([{ email: 'alice@acme.test', password: 'pw' }]));
    child = spawn(
      process.execPath,
      [BIN, '--port', '0', '--users', users, '--client', 'app:sec:http://127.0.0.1:4000/cb'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const issuer = await firstLine(child);
    // The line comes right after the issuer; a sign-in exercises the engine's storage too.
    await fetch(
      `${issuer}/auth?client_id=app&response_type=code&scope=openid&redirect_uri=http://127.0.0.1:4000/cb`,
    );
    for (let i = 0; i < 50 && !stderr.includes('\n'); i += 1) await new Promise((r) => setTimeout(r, 20));
    const lines = stderr.split('\n').filter((line) => line && !line.includes('Unsupported runtime'));
    expect(lines).toEqual([
      `Stand-in Google IdP at ${issuer}: a demo stand-in that keeps its state in memory (a restart forgets its sessions and tokens); 1 user, clients: app`,
    ]);
    expect(stderr).not.toMatch(/in-memory adapter|MUST change/);
  });

  it('refuses a malformed --client with a message', async () => {
    child = spawn(process.execPath, [BIN, '--client', 'nocolons'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await expect(firstLine(child)).rejects.toThrow(/exited with 2:[\s\S]*expected id:secret:redirect_uri/);
  });
});
