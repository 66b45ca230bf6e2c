import { run } from './run.js';

const code = await run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
process.exitCode = code;
// Idle keep-alive sockets must not hold the command open once it is done.
setTimeout(() => process.exit(code), 200).unref();
