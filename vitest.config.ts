import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const desktopSource = fileURLToPath(new URL('./packages/desktop/src/index.ts', import.meta.url));

// One runner for every suite. Projects let CI narrow a run (`--project server`) and let the
// Node 22 job run only the server's suites.
export default defineConfig({
  resolve: { alias: { '@latchkey/desktop': desktopSource } },
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Vitest's default is one worker fewer than the cores: one on a 2-core CI machine, and the
    // suites (mostly waiting on HTTP, databases and browsers) ran one file at a time.
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'server', include: ['packages/server/src/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'desktop',
          include: ['packages/desktop/src/**/*.test.ts', 'packages/cli/src/**/*.test.ts'],
        },
      },
      { extends: true, test: { name: 'standin', include: ['packages/standin-idp/src/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['e2e/**/*.test.ts'],
          exclude: ['e2e/interop/**'],
          fileParallelism: false,
          // The desktop window and journey suites run on their own, after everything else: one
          // display, one keyring, and GTK input that must not compete for the CPU.
          sequence: { groupOrder: 1 },
          testTimeout: 90_000,
        },
      },
      // Independent client libraries (openid-client, oauth4webapi, MSAL Node, AppAuth-JS, authlib)
      // against the real server: `--project interop` runs just them.
      {
        extends: true,
        test: {
          name: 'interop',
          include: ['e2e/interop/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 90_000,
        },
      },
    ],
  },
});
