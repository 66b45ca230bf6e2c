import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

/** What an app gets from `npm install @latchkey/desktop`: the compiled code and its types, nothing else. */
describe('the published package', () => {
  it('npm pack ships dist (JavaScript and declarations for every export) and the README, no sources or tests', async () => {
    const manifest = JSON.parse(await readFile(`${PACKAGE_DIR}/package.json`, 'utf8'));
    expect(manifest.private).not.toBe(true);
    expect(manifest.name).toBe('@latchkey/desktop');
    expect(manifest.version).toMatch(/^\d+\.\d+\.\d+/);
    const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json'], {
      cwd: PACKAGE_DIR,
      timeout: 60_000,
    });
    const files = (JSON.parse(stdout) as [{ files: { path: string }[] }])[0].files.map((f) => f.path);
    for (const target of Object.values(manifest.exports['.'] as Record<string, string>))
      expect(files, target).toContain(target.replace(/^\.\//, ''));
    expect(files).toContain('README.md');
    expect(
      files.filter((f) => f.startsWith('src/') || /\.test\.|test-support|\.map$|tsbuildinfo/.test(f)),
    ).toEqual([]);
  }, 90_000);

  it('the README and the types say what expiresOn is: epoch milliseconds', async () => {
    const readme = await readFile(`${PACKAGE_DIR}/README.md`, 'utf8');
    expect(readme).toMatch(/`expiresOn` is epoch milliseconds/);
    const types = await readFile(`${PACKAGE_DIR}/src/tokens.ts`, 'utf8');
    expect(types).toMatch(/Epoch milliseconds \(as `Date\.now\(\)`\)[\s\S]*expiresOn: number;/);
  });
});
