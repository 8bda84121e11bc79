/**
 * The server's modules form no import cycle, type-only imports included: commands reach their
 * session through `session-control.ts`, never back through the connection that dispatches them.
 * Reads the import and re-export lines of every non-test module under src/server.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const serverDir = dirname(fileURLToPath(import.meta.url));
const importPattern = /^\s*(?:import|export)\s[^;]*?\sfrom\s+'(\.{1,2}\/[^']+)\.js'/gm;

/** Every module under `dir`, tests left out. */
function modules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return modules(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** The relative imports of each module that stay inside `dir`. */
function importGraph(dir: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of modules(dir)) {
    const source = readFileSync(file, 'utf8');
    const targets = [...source.matchAll(importPattern)].map((match) => resolve(dirname(file), `${match[1]}.ts`));
    graph.set(file, targets.filter((target) => !relative(dir, target).startsWith('..')));
  }
  return graph;
}

/** Each cycle found by a depth-first walk, as the list of modules around it. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (file: string): void => {
    const onPath = path.indexOf(file);
    if (onPath !== -1) {
      found.push([...path.slice(onPath), file]);
      return;
    }
    if (done.has(file)) return;
    path.push(file);
    for (const target of graph.get(file) ?? []) visit(target);
    path.pop();
    done.add(file);
  };
  for (const file of graph.keys()) visit(file);
  return found;
}

describe('server module graph', () => {
  it('finds the modules and their imports', () => {
    const graph = importGraph(serverDir);
    // A pattern that matched nothing would pass the cycle check below without checking anything.
    expect(graph.get(join(serverDir, 'server.ts'))).toContain(join(serverDir, 'config.ts'));
    expect(graph.get(join(serverDir, 'commands', 'table.ts'))).toContain(join(serverDir, 'commands', 'mail.ts'));
  });

  it('has no import cycle', () => {
    const found = cycles(importGraph(serverDir)).map((cycle) => cycle.map((file) => relative(serverDir, file)).join(' -> '));
    expect(found).toEqual([]);
  });
});
