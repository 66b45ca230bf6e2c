import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const lib = fileURLToPath(new URL('../bench/lib.mjs', import.meta.url));

/**
 * bench/server.mjs, the process whose idle memory the benchmark reports (Latchkey's and the bare
 * engine's), imports bench/lib.mjs. A static import there is loaded into every server under test:
 * the PostgreSQL driver at lib.mjs's top once added ~8 MB to both. CommonJS packages (pg is one)
 * show in `require.cache`.
 */
describe('the benchmark harness', () => {
  it('loads no PostgreSQL driver into a server process until a scratch database is made', () => {
    const script = `
      import { createRequire } from 'node:module';
      const require = createRequire(${JSON.stringify(lib)});
      const lib = await import(${JSON.stringify(lib)});
      const packages = () => Object.keys(require.cache).filter((f) => /node_modules[\\\\/]pg[\\\\/]/.test(f)).length;
      const atImport = packages();
      // The first call imports the driver (its connection to a closed port then fails).
      await lib.createScratchPostgres('postgres://postgres@127.0.0.1:1/none').catch(() => {});
      console.log(JSON.stringify({ atImport, afterUse: packages() }));
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}');
    expect(result.atImport).toBe(0);
    // The check itself works: once used, the driver's CommonJS files are there.
    expect(result.afterUse).toBeGreaterThan(0);
  });
});
