import { run } from './run.js';

// No top-level await: the bundle is CommonJS (scripts/bundle.mjs), which cannot have one.
void (async () => {
  const code = await run(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
  });
  // Exit as soon as the output is flushed: idle keep-alive sockets must not hold a finished command open.
  await Promise.all(
    [process.stdout, process.stderr].map((stream) => new Promise((resolve) => stream.write('', resolve))),
  );
  process.exit(code);
})();
