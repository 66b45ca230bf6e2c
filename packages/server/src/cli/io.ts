import type { TxtResolver } from '../admin/domain-verification.js';

/** What a CLI run talks to; `processIo()` in main.ts, fakes in tests. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** The whole of standard input (for passwords and secrets piped in). */
  readStdin(): Promise<string>;
  /** Prompts on the terminal without echoing; undefined when stdin is not a terminal. */
  promptHidden?: ((question: string) => Promise<string>) | undefined;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** DNS TXT lookups for `domains verify` (node:dns/promises by default). */
  resolveTxt?: TxtResolver | undefined;
}

/**
 * Reads a secret: from the terminal without echo, or the first line piped into stdin
 * (`echo "$PASSWORD" | latchkey admin users set-password …`).
 */
export async function readSecret(io: CliIo, question: string): Promise<string | undefined> {
  if (io.promptHidden) return io.promptHidden(question);
  const text = await io.readStdin();
  const line = text.split(/\r?\n/)[0] ?? '';
  return line.length > 0 ? line : undefined;
}
