import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DirectorySyncer } from '../src/maildir/syncer.js';

describe('directory group commit', () => {
  it('covers every caller with a sync that started after its call, in fewer syncs', async () => {
    const started: number[] = [];
    let clock = 0;
    const syncer = new DirectorySyncer(async () => {
      started.push((clock += 1));
      await new Promise((resolve) => setTimeout(resolve, 20));
    });

    // Ten callers while the first sync runs: they share the next round.
    const calls = Array.from({ length: 10 }, (_, i) => {
      const calledAt = i === 0 ? 0 : clock;
      return syncer.sync('/maildir/new').then(() => ({ calledAt, resolvedAfter: started.length }));
    });
    const results = await Promise.all(calls);
    expect(started).toHaveLength(2);
    for (const r of results) expect(r.resolvedAfter).toBeGreaterThan(r.calledAt);
  });

  it('keeps directories apart and syncs a real one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mailway-syncer-'));
    const seen: string[] = [];
    const syncer = new DirectorySyncer(async (d) => void seen.push(d));
    await Promise.all([syncer.sync('/a'), syncer.sync('/b')]);
    expect(seen.sort()).toEqual(['/a', '/b']);
    await new DirectorySyncer().sync(dir);
    await rm(dir, { recursive: true });
  });
});
