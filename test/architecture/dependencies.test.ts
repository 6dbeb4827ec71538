// The dependency direction a newcomer should keep (docs/architecture.md): every
// import in src/ - type-only ones included, since a type cycle couples files as
// much as a value one - points down this list, and no file imports itself back
// through others. The check reads the source, so it needs no build and no tool.
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

/**
 * Lowest first. '.' is src/ itself: the shared services (errors, log, status,
 * metrics, component, context), which depend on no folder. A folder may import
 * from its own rank or below, never above; folders of one rank never import each other.
 */
const LAYERS: string[][] = [['.'], ['mqtt'], ['config'], ['storage'], ['clock'], ['auth'], ['broker'], ['bridge', 'serial'], ['ops'], ['daemon'], ['cli']];

const IMPORT = /(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** file (relative to src) -> the src files it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const from = relative(SRC, file);
    const targets: string[] = [];
    for (const match of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const target = normalize(join(dirname(from), match[1]!)).replace(/\.js$/, '.ts');
      if (!target.startsWith('..')) targets.push(target);
    }
    graph.set(from, targets);
  }
  return graph;
}

/** The top folder a src file belongs to ('.' for src/ itself). */
function folderOf(file: string): string {
  const parts = file.split('/');
  return parts.length > 1 ? parts[0]! : '.';
}

function rankOf(folder: string): number {
  return LAYERS.findIndex((layer) => layer.includes(folder));
}

/** Strongly connected components with more than one file (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('source dependencies', () => {
  const graph = importGraph();

  it('reads the whole tree (the check is not vacuous)', () => {
    assert.ok(graph.size > 100, `only ${graph.size} files found under ${SRC}`);
    assert.ok([...graph.values()].flat().length > 300);
  });

  it('has no import cycle between files, type-only imports included', () => {
    assert.deepEqual(cycles(graph), []);
  });

  it('puts every folder in a layer', () => {
    const unplaced = [...new Set([...graph.keys()].map(folderOf))].filter((f) => rankOf(f) < 0);
    assert.deepEqual(unplaced, [], 'add new folders to LAYERS and to docs/architecture.md');
  });

  it('imports only down the layers: no folder cycle, shared services depend on no folder', () => {
    const upward: string[] = [];
    for (const [from, targets] of graph) {
      for (const to of targets) {
        const a = folderOf(from);
        const b = folderOf(to);
        if (a !== b && rankOf(b) >= rankOf(a)) upward.push(`${from} -> ${to}`);
      }
    }
    assert.deepEqual(upward, []);
  });
});
