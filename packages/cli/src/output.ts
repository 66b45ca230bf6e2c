/** Where the CLI writes: results on stdout, everything for the person on stderr. */
export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** A spinner on stderr while waiting; nothing when stderr is not a terminal (logs, CI, --json). */
export function startSpinner(io: Io, text: string, enabled: boolean): { stop(final?: string): void } {
  if (!enabled || !io.stderr.isTTY) {
    if (enabled) io.stderr.write(`${text}\n`);
    return { stop: () => {} };
  }
  let frame = 0;
  const timer = setInterval(() => {
    io.stderr.write(`\r${FRAMES[frame++ % FRAMES.length]} ${text}`);
  }, 80);
  return {
    stop(final) {
      clearInterval(timer);
      io.stderr.write(`\r\x1b[2K${final ? `${final}\n` : ''}`);
    },
  };
}
