import type { z } from 'zod';

type Def = {
  type: string;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  innerType?: z.ZodType;
  in?: z.ZodType;
  options?: z.ZodType[];
};
const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** The schemas a value at this node may be checked against, wrappers (optional, default, pipe) removed. */
function unwrap(schema: z.ZodType): z.ZodType[] {
  const def = defOf(schema);
  if (def.innerType) return unwrap(def.innerType);
  if (def.type === 'pipe' && def.in) return unwrap(def.in);
  if (def.type === 'union' && def.options) return def.options.flatMap(unwrap);
  return [schema];
}

/**
 * The keys an object at `path` may have (for "did you mean" on an unknown key): the schema walked
 * down by the path, through lists and the alternatives of a union (a connection's types).
 */
export function keysAt(schema: z.ZodType, path: readonly (string | number)[]): string[] {
  let nodes = unwrap(schema);
  for (const segment of path) {
    const next: z.ZodType[] = [];
    for (const node of nodes) {
      const def = defOf(node);
      if (typeof segment === 'number' && def.type === 'array' && def.element)
        next.push(...unwrap(def.element));
      else if (typeof segment === 'string' && def.type === 'object' && def.shape?.[segment]) {
        next.push(...unwrap(def.shape[segment]));
      }
    }
    nodes = next;
  }
  return [...new Set(nodes.flatMap((n) => Object.keys(defOf(n).shape ?? {})))];
}
