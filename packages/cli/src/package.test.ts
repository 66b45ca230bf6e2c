import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
const REPO_NODE_MODULES = fileURLToPath(new URL('../../../node_modules', import.meta.url));
const scratch: string[] = [];

afterAll(async () => {
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

/**
 * What `npm install -g @latchkey/cli` (or `npx @latchkey/cli`) gets: the command and its one-file
 * bundle (the SDK inside it), nothing from the workspace. Needs `npm run build` first, like the
 * e2e tests.
 */
describe('the published package', () => {
  it('npm pack ships the bin, the bundle and the README; no sources, tests or workspace links', async () => {
    const manifest = JSON.parse(await readFile(`${PACKAGE_DIR}/package.json`, 'utf8'));
    expect(manifest.private).not.toBe(true);
    expect(manifest.name).toBe('@latchkey/cli');
    expect(manifest.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(manifest.bin).toEqual({ 'latchkey-desktop': './bin/latchkey-desktop.cjs' });
    // The SDK is bundled: a runtime dependency on the workspace's @latchkey/desktop would install
    // a second copy (and its dependencies) for nothing.
    expect(Object.keys(manifest.dependencies ?? {})).toEqual(['qrcode']);
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: PACKAGE_DIR,
      timeout: 60_000,
    });
    const files = (JSON.parse(stdout) as [{ files: { path: string }[] }])[0].files.map((f) => f.path).sort();
    expect(files).toEqual([
      'README.md',
      'bin/latchkey-desktop.cjs',
      'dist/latchkey-desktop.cjs',
      'package.json',
    ]);
  }, 90_000);

  it('the bin runs from the packed tarball, with only its declared dependencies beside it', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'latchkey-cli-pack-'));
    scratch.push(dir);
    const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], {
      cwd: PACKAGE_DIR,
      timeout: 60_000,
    });
    const tarball = path.join(dir, (JSON.parse(stdout) as [{ filename: string }])[0].filename);
    // An install without a registry: the tarball unpacked where npm puts it, and the one declared
    // dependency (what `npm install` would fetch) linked beside it. No @latchkey/desktop in sight.
    const installed = path.join(dir, 'node_modules', '@latchkey', 'cli');
    await mkdir(installed, { recursive: true });
    await run('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);
    await symlink(path.join(REPO_NODE_MODULES, 'qrcode'), path.join(dir, 'node_modules', 'qrcode'));
    const bin = path.join(installed, 'bin', 'latchkey-desktop.cjs');
    const env = { PATH: process.env.PATH ?? '', HOME: dir };

    const help = await run(process.execPath, [bin, '--help'], { cwd: dir, env });
    expect(help.stdout).toContain('Usage: latchkey-desktop <command>');

    // A real command through the bundled SDK: the file store is read (nothing there), no request made.
    const whoami = await run(
      process.execPath,
      [
        bin,
        'whoami',
        '--json',
        '--issuer',
        'http://127.0.0.1:9',
        '--client-id',
        'acme-desktop',
        '--store',
        'file',
        '--store-dir',
        path.join(dir, 'tokens'),
        '--cache-dir',
        path.join(dir, 'cache'),
      ],
      { cwd: dir, env: { ...env, LATCHKEY_FILE_STORE_KEY: 'a'.repeat(64) } },
    ).catch((error: { code: number; stdout: string; stderr: string }) => error);
    expect(whoami.stdout.trim(), JSON.stringify(whoami)).toBe('{"status":"signed-out"}');
    expect((whoami as { code?: number }).code).toBe(3);
  }, 90_000);
});
