import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The server's layers, bottom first (docs/ARCHITECTURE.md). A module imports only from its own
 * folder or from a lower layer; folders of one layer do not import each other. Type-only imports
 * count: a type is a dependency too. Tests and test-support are outside the rules.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['errors'],
  ['config', 'crypto'],
  ['storage'],
  ['domain'],
  ['pages'],
  ['federation'],
  ['protocol'],
  ['web'],
  ['sign-in', 'account', 'reset', 'scim'],
  ['http'],
  ['admin'],
  ['admin-api'],
  // The console calls the admin API's operations in-process (one implementation, one set of role checks).
  ['console'],
  ['main'],
  ['cli'],
  ['bin', 'index.ts'],
];

const SRC = path.dirname(fileURLToPath(import.meta.url));

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) {
      if (name !== 'test-support') sourceFiles(full, out);
    } else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(path.relative(SRC, full));
  }
  return out;
}

const IMPORT = /(?:from\s+|import\(\s*)'(\.{1,2}\/[^']+)'/g;

function importsOf(file: string): string[] {
  const text = readFileSync(path.join(SRC, file), 'utf8');
  return [...text.matchAll(IMPORT)].map((m) =>
    path.normalize(path.join(path.dirname(file), m[1] as string)).replace(/\.js$/, '.ts'),
  );
}

const top = (file: string) => file.split(path.sep)[0] as string;
const rank = (file: string) => LAYERS.findIndex((layer) => layer.includes(top(file)));

const files = sourceFiles(SRC);
const graph = new Map(files.map((f) => [f, importsOf(f)]));

describe('server architecture', () => {
  it('every source folder belongs to a layer', () => {
    expect(files.filter((f) => rank(f) < 0)).toEqual([]);
  });

  it('imports go down the layers, never up or sideways', () => {
    const violations: string[] = [];
    for (const [file, imports] of graph) {
      for (const target of imports) {
        if (top(target) === top(file)) continue;
        if (rank(target) >= rank(file)) violations.push(`${file} → ${target}`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('has no import circle', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, trail: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(file)), file].join(' → '));
        return;
      }
      state.set(file, 'open');
      for (const target of graph.get(file) ?? []) if (graph.has(target)) visit(target, [...trail, file]);
      state.set(file, 'done');
    };
    for (const file of files) visit(file, []);
    expect(cycles).toEqual([]);
  });

  it('only the composition root and the entry points import it', () => {
    const importers = [...graph]
      .filter(([, imports]) => imports.includes('main/assemble.ts'))
      .map(([f]) => f);
    expect(importers).toEqual(['main/server.ts']);
  });

  it('no flow, page or protocol module reaches raw SQL: only storage and domain run queries', () => {
    const offenders = files.filter(
      (f) =>
        !['storage', 'domain', 'federation', 'protocol'].includes(top(f)) &&
        /\.(selectFrom|deleteFrom|insertInto|updateTable)\(/.test(readFileSync(path.join(SRC, f), 'utf8')),
    );
    expect(offenders).toEqual([]);
  });

  it('every error class belongs to the one server error family', () => {
    const offenders = files.filter(
      (f) => top(f) !== 'errors' && /class \w+ extends Error\b/.test(readFileSync(path.join(SRC, f), 'utf8')),
    );
    expect(offenders).toEqual([]);
  });
});
