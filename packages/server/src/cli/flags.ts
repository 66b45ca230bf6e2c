import { type ParsedArgs, parseDurationMs, stringFlag, UsageError } from './args.js';

/** Flags every command accepts. */
export const GLOBAL_FLAGS = ['config', 'database', 'json', 'help'] as const;

/** Switches (no value) across all commands, so that `--json users list` keeps `users`. */
export const BOOLEAN_FLAGS = [
  'json',
  'help',
  'status',
  'device-flow',
  'verify',
  'require-2sv',
  'no-jit',
  'no-password',
  'client-secret-stdin',
  'secret-stdin',
] as const;

/** Refuses flags the command does not know, naming them. */
export function allowFlags(args: ParsedArgs, allowed: readonly string[]): void {
  for (const name of Object.keys(args.flags)) {
    if (!allowed.includes(name) && !(GLOBAL_FLAGS as readonly string[]).includes(name)) {
      throw new UsageError(`unknown flag --${name}`);
    }
  }
}

export function requireString(args: ParsedArgs, name: string, what = 'a value'): string {
  const value = args.flags[name];
  if (typeof value !== 'string' || value.trim() === '')
    throw new UsageError(`--${name} is required (${what})`);
  return value.trim();
}

export function optionalString(args: ParsedArgs, name: string): string | undefined {
  const value = args.flags[name];
  if (value === true) throw new UsageError(`--${name} needs a value`);
  return stringFlag(args, name);
}

export function booleanFlag(args: ParsedArgs, name: string): boolean {
  const value = args.flags[name];
  if (value === undefined) return false;
  if (value === true || value === 'true') return true;
  if (value === 'false') return false;
  throw new UsageError(`--${name} takes no value`);
}

/** All values of a repeatable flag (`--redirect-uri a --redirect-uri b`, or comma-separated). */
export function repeated(argv: readonly string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    if (arg === `--${name}`) {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith('--')) values.push(next);
      i += 1;
    } else if (arg.startsWith(`--${name}=`)) values.push(arg.slice(name.length + 3));
  }
  return values
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
}

export function durationFlag(args: ParsedArgs, name: string, fallback: string): number {
  return parseDurationMs(optionalString(args, name) ?? fallback, `--${name}`);
}

export function positiveInt(args: ParsedArgs, name: string): number | undefined {
  const value = optionalString(args, name);
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new UsageError(`--${name}: expected a positive whole number`);
  return Number(value);
}

/** `--since 1h` (that long ago) or an ISO date/time. */
export function sinceFlag(args: ParsedArgs, name: string, now = Date.now()): number | undefined {
  const value = optionalString(args, name);
  if (value === undefined) return undefined;
  if (/^\d+(ms|s|m|h|d)$/.test(value)) return now - parseDurationMs(value, `--${name}`);
  const at = Date.parse(value);
  if (Number.isNaN(at)) {
    throw new UsageError(`--${name}: expected a duration like 1h or 7d, or a date like 2025-01-31T12:00:00Z`);
  }
  return at;
}
