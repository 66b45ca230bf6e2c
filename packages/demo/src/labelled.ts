/**
 * The demo's terminal shows three processes at once (Latchkey, the stand-in IdP, the app): each of
 * their lines gets the process's name in front, so a reader knows who said what.
 */

/** The labels, one per process. */
export const LABELS = {
  server: '[latchkey]',
  idp: '[stand-in idp]',
  app: '[acme-desktop]',
} as const;

/**
 * oidc-provider's notice that this Node.js is older than it wants (both Latchkey and the stand-in
 * run it). Not news to someone trying the demo: it stays in the process's log file only.
 */
export function isEngineRuntimeNotice(line: string): boolean {
  return line.includes('oidc-provider WARNING: Unsupported runtime');
}

export interface LabelOptions {
  /** Lines to leave out of the terminal (they still reach `copy`). */
  skip?: (line: string) => boolean;
  /** Turns a line into what the terminal shows, or `undefined` to leave it out. Default: the line. */
  show?: (line: string) => string | undefined;
  /** Everything, unlabelled, as it came (a log file). */
  copy?: NodeJS.WritableStream;
}

// A child writing for a terminal may end its lines with \r\n.
const TRAILING_CR = /\r$/;

/**
 * Writes each complete line of `from` to `to` as `<label> <line>`. A last line without a newline
 * is written when `from` ends. Resolves when `from` has ended.
 */
export function labelLines(
  from: NodeJS.ReadableStream,
  label: string,
  to: NodeJS.WritableStream,
  options: LabelOptions = {},
): Promise<void> {
  let pending = '';
  const emit = (raw: string) => {
    const line = raw.replace(TRAILING_CR, '');
    if (line.trim() === '' || options.skip?.(line)) return;
    const shown = options.show ? options.show(line) : line;
    if (shown !== undefined) to.write(`${label} ${shown}\n`);
  };
  return new Promise((resolve) => {
    from.on('data', (chunk: Buffer | string) => {
      const text = chunk.toString();
      options.copy?.write(text);
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) emit(line);
    });
    from.once('end', () => {
      if (pending) emit(pending);
      pending = '';
      resolve();
    });
    from.once('error', () => resolve());
  });
}

/**
 * Latchkey's log lines are JSON (pino): the terminal gets warnings and errors as one readable line,
 * the log file gets everything. Lines that are not JSON (a crash's stack) are shown as they are.
 */
export function serverLogLine(line: string): string | undefined {
  let entry: { level?: unknown; msg?: unknown; err?: { message?: unknown } };
  try {
    entry = JSON.parse(line);
  } catch {
    return line;
  }
  if (typeof entry !== 'object' || entry === null || typeof entry.level !== 'number') return line;
  if (entry.level < 40) return undefined;
  const level = entry.level >= 50 ? 'error' : 'warning';
  const detail = typeof entry.err?.message === 'string' ? ` (${entry.err.message})` : '';
  return `${level}: ${String(entry.msg ?? '')}${detail}`;
}
