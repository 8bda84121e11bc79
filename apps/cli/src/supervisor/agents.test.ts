import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentCommand, agentNodeFlags, agentProcessDefaults, defaultAgentNodeFlags, spawnAgent } from './agents.js';

/**
 * What a process started by spawnAgent with `env` and node `flags` finds: MALLOC_MMAP_THRESHOLD_,
 * and the size its young generation grows to under a steady stream of short-lived objects, in
 * MiB (twice the semi-space limit). Its output goes to ours, so it writes a file.
 */
async function seen(env: Record<string, string>, flags: readonly string[] = []): Promise<{ threshold: string; newSpaceMiB: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'mailway-agents-'));
  try {
    const file = join(dir, 'seen');
    const script = [
      'const ring = new Array(20000); let i = 0;',
      "for (let n = 0; n < 3e6; n++) { ring[i] = { a: n, b: [n, n + 1], c: 'x' + n }; i = (i + 1) % ring.length; }",
      "const space = require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');",
      `require('node:fs').writeFileSync(${JSON.stringify(file)}, JSON.stringify({ threshold: process.env.MALLOC_MMAP_THRESHOLD_ ?? '(unset)', newSpaceMiB: Math.round(space.space_size / 1048576) }));`,
    ].join('\n');
    const child = spawnAgent({ command: process.execPath, args: [...flags, '-e', script], cwd: dir }, env);
    await once(child, 'exit');
    return JSON.parse(await readFile(file, 'utf8')) as { threshold: string; newSpaceMiB: number };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('spawnAgent', () => {
  it('gives every agent a fixed malloc mmap threshold, unless the environment sets one', async () => {
    expect(agentProcessDefaults.MALLOC_MMAP_THRESHOLD_).toBe('131072');
    expect((await seen({})).threshold).toBe('131072');
    expect((await seen({ MALLOC_MMAP_THRESHOLD_: '65536' })).threshold).toBe('65536');
  });
});

describe('agent node flags', () => {
  it('start every agent, built or from source, with a small young generation and slow heap growth', async () => {
    for (const env of [{}, { MAILWAY_AGENTS_FROM_SOURCE: '1' }, { MAILWAY_RELAY_ENTRY: '/elsewhere/main.js' }]) {
      expect(agentCommand('relay', env).args.slice(0, defaultAgentNodeFlags.length)).toEqual(['--max-semi-space-size=4', '--heap-growing-percent=50']);
    }
    // Node runs with them (neither is allowed in NODE_OPTIONS): the young generation stays at 8 MiB, not Node's 32.
    expect((await seen({}, agentNodeFlags({}))).newSpaceMiB).toBeLessThanOrEqual(8);
    expect((await seen({})).newSpaceMiB).toBeGreaterThan(8);
  });

  it('are replaced by MAILWAY_AGENT_NODE_FLAGS; empty leaves Node its defaults', () => {
    expect(agentNodeFlags({ MAILWAY_AGENT_NODE_FLAGS: '--max-semi-space-size=16  --stack-trace-limit=50' })).toEqual(['--max-semi-space-size=16', '--stack-trace-limit=50']);
    expect(agentNodeFlags({ MAILWAY_AGENT_NODE_FLAGS: '' })).toEqual([]);
    expect(agentCommand('delivery', { MAILWAY_AGENT_NODE_FLAGS: '' }).args[0]).not.toMatch(/^--max-semi/);
  });
});
