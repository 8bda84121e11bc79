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

  it('spools of several processes on one directory lose none of each other\'s updates', async () => {
    // Two spool objects share nothing but the directory, as two agents' processes do.
    const other = createFsSpool({ directory: join(directory, 'spool') });
    await spool.write('shared', Buffer.from('hello'), { refs: 60 });
    const left = await Promise.all(
      Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? spool : other).releaseOnce('shared', `job-${i}`)),
    );
    expect([...left].sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(await spool.stat('shared')).toBeNull();

    // Parks from one, releases from the other: the entry ends with its deadline, not held forever.
    await spool.write('parked', Buffer.from('x'), { refs: 20 });
    const until = new Date(Date.now() + 3_600_000);
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i < 10 ? spool.park('parked', `failed-${i}`, until) : other.releaseOnce('parked', `done-${i}`))));
    expect(await other.stat('parked')).toMatchObject({ refs: 10, parked: 10, expiresAt: until });
    expect((await readdir(join(directory, 'spool'))).filter((name) => name.startsWith('.'))).toEqual([]);
  });

  it('breaks a lock its holder left behind long ago, and sweep() clears one', async () => {
    await spool.write('locked', Buffer.from('x'), { refs: 2 });
    const root = join(directory, 'spool');
    for (const name of ['.lock-locked', '.lock-gone']) await mkdir(join(root, name));
    const longAgo = new Date(Date.now() - 2 * 60_000);
    for (const name of ['.lock-locked', '.lock-gone']) await utimes(join(root, name), longAgo, longAgo);
    expect(await spool.release('locked')).toBe(1);
    expect(await spool.sweep()).toBe(0);
    expect((await readdir(root)).sort()).toEqual(['locked']);
  });

  it('a second spool on the same directory sees the same entries', async () => {
    await spool.write('shared', Buffer.from('hello'), { refs: 2 });
    const again = createFsSpool({ directory: join(directory, 'spool') });
    expect(await again.releaseOnce('shared', 'job-1')).toBe(1);
    expect(await spool.stat('shared')).toMatchObject({ refs: 1 });
  });
});
