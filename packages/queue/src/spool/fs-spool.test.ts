import { mkdir, mkdtemp, readdir, readFile, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it, expect } from 'vitest';
import { type FsSpool, createFsSpool } from './fs-spool.js';
import { describeSpool, patterned } from './spool.case.js';

describeSpool('filesystem', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'mailway-spool-'));
  const spool = createFsSpool({ directory });
  return {
    spool,
    chunkSize: 256 * 1024,
    async leftovers() {
      return (await readdir(directory)).filter((name) => name.startsWith('.'));
    },
    async stored() {
      await spool.sweep();
      return (await readdir(directory)).sort();
    },
    async close() {
      await rm(directory, { recursive: true, force: true });
    },
  };
});

describe('filesystem spool', () => {
  let directory: string;
  let spool: FsSpool;
  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'mailway-spool-'));
    spool = createFsSpool({ directory: join(directory, 'spool') });
  });
  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('lays an entry out as id/data and id/meta.json, creating the directory', async () => {
    const bytes = patterned(1000);
    await spool.write('01KMZ3Q5V0ABCDEFGHJK', bytes, { refs: 2 });
    await spool.releaseOnce('01KMZ3Q5V0ABCDEFGHJK', 'job-1');
    const entry = join(directory, 'spool', '01KMZ3Q5V0ABCDEFGHJK');
    expect((await readdir(entry)).sort()).toEqual(['data', 'meta.json']);
    expect((await readFile(join(entry, 'data'))).equals(bytes)).toBe(true);
    expect(JSON.parse(await readFile(join(entry, 'meta.json'), 'utf8'))).toMatchObject({ size: 1000, refs: 1, claimed: false, released: ['job-1'] });
  });

  it('hides an expired unclaimed entry at once, and sweep() removes it', async () => {
    await spool.write('orphan', Buffer.from('x'), { refs: 1, ttlMs: 60_000 });
    await spool.write('owned', Buffer.from('y'), { refs: 1, ttlMs: 60_000 });
    await spool.write('young', Buffer.from('z'), { refs: 1, ttlMs: 3_600_000 });
    await spool.claim('owned');
    const later = new Date(Date.now() + 120_000);
    expect(await spool.sweep(later)).toBe(1);
    expect(await spool.stat('orphan')).toBeNull();
    expect(await spool.stat('owned')).toMatchObject({ claimed: true });
    expect(await spool.stat('young')).not.toBeNull();
    expect((await readdir(join(directory, 'spool'))).sort()).toEqual(['owned', 'young']);
  });

  it('treats an expired entry as absent before any sweep', async () => {
    await spool.write('brief', Buffer.from('x'), { refs: 1, ttlMs: 1 });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await spool.stat('brief')).toBeNull();
    expect(await spool.release('brief')).toBe(0);
    // Its id can be written again.
    await spool.write('brief', Buffer.from('again'), { refs: 1 });
    expect(await spool.readAll('brief')).toEqual(Buffer.from('again'));
  });

  it('sweep() clears temporary directories a crashed writer left, but not one in use', async () => {
    const root = join(directory, 'spool');
    const stale = join(root, '.tmp-crashed-0123456789ab');
    const fresh = join(root, '.tmp-writing-0123456789ab');
    await mkdir(stale, { recursive: true });
    await mkdir(fresh, { recursive: true });
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(stale, twoHoursAgo, twoHoursAgo);
    expect(await spool.stat('crashed')).toBeNull();
    expect(await spool.sweep()).toBe(0);
    expect(await readdir(root)).toEqual(['.tmp-writing-0123456789ab']);
  });

  it('a second spool on the same directory sees the same entries', async () => {
    await spool.write('shared', Buffer.from('hello'), { refs: 2 });
    const again = createFsSpool({ directory: join(directory, 'spool') });
    expect(await again.releaseOnce('shared', 'job-1')).toBe(1);
    expect(await spool.stat('shared')).toMatchObject({ refs: 1 });
  });
});
