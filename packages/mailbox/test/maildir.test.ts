import { link, mkdir, readdir, readFile, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMaildir, mailboxUsage } from '../src/index.js';
import { keyHash } from '../src/files.js';
import { uniqueName, withSize } from '../src/maildir/names.js';
import { pieces, plain, samples, tempDir } from './support/messages.js';

let dir: { path: string; remove(): Promise<void> };
let maildir: string;
beforeEach(async () => {
  dir = await tempDir();
  maildir = join(dir.path, 'example.org', 'bob', 'Maildir');
});
afterEach(() => dir.remove());

const store = createMaildir({ hostname: 'mda.test' });
const record = (key: string, folder: string | null = null) => ({ key, folder });
const list = async (sub: string): Promise<string[]> => (await readdir(join(maildir, sub))).sort();

describe('Maildir delivery', () => {
  it.each(samples())('stores $name byte-exact, whole or streamed', async ({ bytes }) => {
    const whole = await store.deliver(maildir, bytes, record('job-whole'));
    const streamed = await store.deliver(maildir, pieces(bytes), record('job-streamed'));
    for (const result of [whole, streamed]) {
      expect(result).toMatchObject({ stored: true, size: bytes.length });
      expect((await readFile(result.file)).equals(bytes)).toBe(true);
      expect(result.file.startsWith(join(maildir, 'new'))).toBe(true);
    }
  });

  it('creates cur/new/tmp with mode 0700 and names files time.MmicroPpidQhash.host,S=size', async () => {
    const result = await store.deliver(maildir, plain, record('job-1'));
    for (const sub of ['cur', 'new', 'tmp']) expect((await stat(join(maildir, sub))).mode & 0o777).toBe(0o700);
    const [name] = await list('new');
    expect(name).toMatch(new RegExp(`^\\d{10}\\.M\\d{1,6}P${process.pid}Q${keyHash('job-1')}\\.mda\\.test,S=${plain.length}$`));
    expect(result.file).toBe(join(maildir, 'new', name!));
    expect(await list('tmp')).toEqual([]);
    expect(await list('cur')).toEqual([]);
  });

  it('puts a folder delivery into a Maildir++ folder with maildirfolder', async () => {
    const result = await store.deliver(maildir, plain, record('job-1', 'lists'));
    const folder = join(maildir, '.lists');
    expect((await readdir(folder)).sort()).toEqual(['cur', 'maildirfolder', 'new', 'tmp']);
    expect(result.file.startsWith(join(folder, 'new'))).toBe(true);
    // The inbox exists too, empty.
    expect(await list('new')).toEqual([]);
    await expect(store.deliver(maildir, plain, record('job-2', '../escape'))).rejects.toBeInstanceOf(TypeError);
    await expect(store.deliver(maildir, plain, record('job-2', 'a/b'))).rejects.toBeInstanceOf(TypeError);
  });

  it('gives 1,000 parallel deliveries 1,000 different files', async () => {
    const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => store.deliver(maildir, Buffer.from(`message ${i}\r\n`), record(`job-${i}`))));
    expect(new Set(results.map((r) => r.file)).size).toBe(1000);
    const names = await list('new');
    expect(names).toHaveLength(1000);
    const bodies = await Promise.all(names.map((name) => readFile(join(maildir, 'new', name), 'utf8')));
    expect(new Set(bodies).size).toBe(1000);
  });

  it('stores a key once, even when retried in parallel', async () => {
    const results = await Promise.all([1, 2, 3].map(() => store.deliver(maildir, plain, record('job-1'))));
    expect(results.filter((r) => r.stored)).toHaveLength(1);
    expect(new Set(results.map((r) => r.file)).size).toBe(1);
    expect(await list('new')).toHaveLength(1);
    expect(await store.deliver(maildir, plain, record('job-1'))).toMatchObject({ stored: false, size: plain.length });
  });

  it('writes nothing when the fsync option is off, but still stores', async () => {
    const fast = createMaildir({ hostname: 'mda.test', fsync: false });
    expect(await fast.deliver(maildir, plain, record('job-1'))).toMatchObject({ stored: true });
    expect(await list('new')).toHaveLength(1);
  });

  it('sweeps tmp files untouched for 36 hours', async () => {
    await mkdir(join(maildir, 'tmp'), { recursive: true });
    const old = new Date(Date.now() - 37 * 60 * 60 * 1000);
    await writeFile(join(maildir, 'tmp', 'dead-writer'), 'partial');
    await utimes(join(maildir, 'tmp', 'dead-writer'), old, old);
    await writeFile(join(maildir, 'tmp', 'live-writer'), 'partial');
    await createMaildir({ hostname: 'mda.test' }).deliver(maildir, plain, record('job-1'));
    expect(await list('tmp')).toEqual(['live-writer']);
  });
});

describe('Maildir exactly once after a crash', () => {
  // The states a SIGKILL can leave, written by hand, then the retry.
  const key = 'queue-id.0123456789abcdef';
  const hash = keyHash(key);
  const name = uniqueName(hash, 'mda.test');
  const setUp = async (state: { tmp?: Buffer; newFile?: boolean; linkedTmp?: boolean; cur?: boolean }) => {
    for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(maildir, sub), { recursive: true });
    if (state.tmp) await writeFile(join(maildir, 'tmp', name), state.tmp);
    if (state.newFile || state.cur) {
      await writeFile(join(maildir, 'tmp', name), plain);
      await link(join(maildir, 'tmp', name), join(maildir, 'new', withSize(name, plain.length)));
      if (!state.linkedTmp) await unlink(join(maildir, 'tmp', name));
    }
    if (state.cur) await rename(join(maildir, 'new', withSize(name, plain.length)), join(maildir, 'cur', `${withSize(name, plain.length)}:2,S`));
  };
  const copies = async (): Promise<string[]> => [...(await list('new')), ...(await list('cur'))].filter((n) => n.includes(`Q${hash}.`));

  it.each([
    { state: 'died before writing', setup: {}, stored: true },
    { state: 'died while writing tmp/', setup: { tmp: plain.subarray(0, 10) }, stored: true },
    { state: 'died after tmp/ was complete', setup: { tmp: plain }, stored: true },
    { state: 'died after the link into new/', setup: { newFile: true, linkedTmp: true }, stored: false },
    { state: 'died before the job was acknowledged', setup: { newFile: true }, stored: false },
    { state: 'died, and a reader moved the message to cur/', setup: { cur: true }, stored: false },
  ])('$state: the retry leaves exactly one copy', async ({ setup, stored }) => {
    await setUp(setup);
    const result = await store.deliver(maildir, plain, record(key));
    expect(result.stored).toBe(stored);
    expect(result.size).toBe(plain.length);
    expect(await copies()).toHaveLength(1);
    expect((await readFile(result.file)).equals(plain)).toBe(true);
    // And a further retry changes nothing.
    expect(await store.deliver(maildir, plain, record(key))).toMatchObject({ stored: false, file: result.file });
    expect(await copies()).toHaveLength(1);
  });
});

describe('Maildir first attempts', () => {
  it('skip the search only when the caller says no attempt ran before', async () => {
    // A copy with this key's hash already in new/: a retry finds it, a first attempt does not look.
    const key = 'queue-id.fedcba9876543210';
    const first = await store.deliver(maildir, plain, { ...record(key), retry: false });
    expect(first.stored).toBe(true);
    expect(await store.deliver(maildir, plain, record(key))).toMatchObject({ stored: false, file: first.file });
    expect(await store.deliver(maildir, plain, { ...record(key), retry: false })).toMatchObject({ stored: true });
    expect((await list('new')).filter((n) => n.includes(`Q${keyHash(key)}.`))).toHaveLength(2);
  });
});

describe('Maildir checks before writing', () => {
  it('run beforeWrite only when the key has no copy, and a refusal writes nothing', async () => {
    let calls = 0;
    const check = async (): Promise<void> => {
      calls += 1;
    };
    await store.deliver(maildir, plain, { ...record('checked'), beforeWrite: check });
    await store.deliver(maildir, plain, { ...record('checked'), beforeWrite: check });
    expect(calls).toBe(1);
    const refuse = async (): Promise<void> => {
      throw new Error('no room');
    };
    await expect(store.deliver(maildir, plain, { ...record('refused'), beforeWrite: refuse })).rejects.toThrow('no room');
    expect(await list('new')).toHaveLength(1);
    expect(await list('tmp')).toEqual([]);
  });
});

describe('Maildir usage', () => {
  it('adds up S= sizes in new/ and cur/ of the inbox and its folders', async () => {
    expect(await mailboxUsage(maildir, 'maildir')).toBe(0);
    await store.deliver(maildir, Buffer.alloc(100, 'a'), record('a'));
    await store.deliver(maildir, Buffer.alloc(250, 'b'), record('b', 'lists'));
    const moved = await store.deliver(maildir, Buffer.alloc(40, 'c'), record('c'));
    await rename(moved.file, join(maildir, 'cur', `${moved.file.split('/').pop()!}:2,S`));
    // A file without S= (another writer) is stat'ed.
    await writeFile(join(maildir, 'cur', '1.foreign:2,'), Buffer.alloc(7));
    expect(await mailboxUsage(maildir, 'maildir')).toBe(397);
  });
});
