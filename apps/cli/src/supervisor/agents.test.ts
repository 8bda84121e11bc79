import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentProcessDefaults, spawnAgent } from './agents.js';

/** What a process started by spawnAgent with `env` finds in MALLOC_MMAP_THRESHOLD_ (its output goes to ours, so it writes a file). */
async function thresholdSeen(env: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mailway-agents-'));
  try {
    const file = join(dir, 'seen');
    const script = `require('node:fs').writeFileSync(${JSON.stringify(file)}, process.env.MALLOC_MMAP_THRESHOLD_ ?? '(unset)')`;
    const child = spawnAgent({ command: process.execPath, args: ['-e', script], cwd: dir }, env);
    await once(child, 'exit');
    return await readFile(file, 'utf8');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('spawnAgent', () => {
  it('gives every agent a fixed malloc mmap threshold, unless the environment sets one', async () => {
    expect(agentProcessDefaults.MALLOC_MMAP_THRESHOLD_).toBe('131072');
    expect(await thresholdSeen({})).toBe('131072');
    expect(await thresholdSeen({ MALLOC_MMAP_THRESHOLD_: '65536' })).toBe('65536');
  });
});
