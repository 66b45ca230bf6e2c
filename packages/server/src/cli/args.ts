import { ServerError } from '../errors/server-error.js';
/** Errors a person made on the command line: printed without a stack trace, exit code 2. */
export class UsageError extends ServerError {
  override readonly name = 'UsageError';
  constructor(message: string) {
    super('usage', message);
  }
}

export interface ParsedArgs {
  positionals: string[];
  flags: Record<string, string | boolean>;
}

/**
 * Minimal `--flag value` / `--flag=value` / `--switch` parser. `booleans` lists flags that take no
 * value, so `--json users list` does not swallow `users`.
 */
export function parseArgs(argv: string[], booleans: readonly string[] = []): ParsedArgs {
  const positionals: string[] = [];
  const flags: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      if (eq !== -1) flags[name] = arg.slice(eq + 1);
      else if (booleans.includes(name)) flags[name] = true;
      else {
        const value = argv[i + 1];
        // A missing value reads as `true`; the command then names the flag (unknown, or needing a value).
        if (value === undefined || value.startsWith('--')) flags[name] = true;
        else {
          flags[name] = value;
          i += 1;
        }
      }
    } else positionals.push(arg);
  }
  return { positionals, flags };
}

export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const value = args.flags[name];
  return typeof value === 'string' ? value : undefined;
}

/** Durations like 30s, 10m, 2h, 7d, or plain seconds. */
export function parseDurationMs(input: string, flag: string): number {
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(input.trim());
  if (!match) throw new UsageError(`${flag}: expected a duration like 30s, 10m, 2h or 7d`);
  const n = Number(match[1]);
  const unit = match[2] ?? 's';
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit] ?? 1000;
  return n * factor;
}
