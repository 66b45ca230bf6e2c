/** Durations in the configuration file: integer seconds, or a number with a unit ("90s", "10m", "1h30m", "14d"). */

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };
const DURATION = /^(?:\d+[smhdw])+$/;

export const DURATION_HINT =
  'must be a duration: whole seconds (e.g. 600) or a number with a unit s, m, h, d or w (e.g. "90s", "10m", "1h30m", "14d")';

/** Parses a duration into whole seconds; `undefined` when the value is not a valid duration. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  }
  if (typeof value !== 'string') return undefined;
  const text = value.trim().toLowerCase();
  if (/^\d+$/.test(text)) return parseDuration(Number(text));
  if (!DURATION.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)([smhdw])/g)) {
    total += Number(amount) * (UNIT_SECONDS[unit as string] ?? Number.NaN);
  }
  return Number.isSafeInteger(total) ? total : undefined;
}
