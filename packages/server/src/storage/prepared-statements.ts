import { type Compilable, CompiledQuery } from 'kysely';

const SLOT = '\u0000latchkey-slot:';

/** A named placeholder for `prepared` (typed as anything so it fits every column). */
export function param(name: string): never {
  return `${SLOT}${name}` as never;
}

/**
 * Compiles a Kysely query once; each call returns it with the named `param()` slots filled in. The
 * SQL text (and so the dialect's placeholders) is fixed, only the parameter array changes.
 */
export function prepared(query: Compilable<unknown>): (values: Record<string, unknown>) => CompiledQuery {
  const { sql: text, parameters } = query.compile();
  const slots = parameters.map((p) =>
    typeof p === 'string' && p.startsWith(SLOT) ? p.slice(SLOT.length) : undefined,
  );
  return (values) =>
    CompiledQuery.raw(
      text,
      slots.map((name, i) => (name === undefined ? parameters[i] : (values[name] ?? null))),
    );
}
