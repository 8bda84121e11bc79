import { readdir, readFile } from 'node:fs/promises';
import { describe, it, expect } from 'vitest';

/** Module specifiers imported by a TypeScript source. */
function importsOf(source: string): string[] {
  return [...source.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g)].map((match) => match[1]!);
}

describe('@mailway/queue/jobs', () => {
  it('imports only zod, node built-ins and its own modules (no BullMQ, no ioredis)', async () => {
    const dir = new URL('./', import.meta.url);
    const files = (await readdir(dir)).filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts'));
    expect(files).toContain('index.ts');
    for (const file of files) {
      const imports = importsOf(await readFile(new URL(file, dir), 'utf8'));
      for (const specifier of imports) expect(specifier, `${file} imports ${specifier}`).toMatch(/^(zod|node:.+|\.\/[\w-]+\.js)$/);
    }
  });
});
