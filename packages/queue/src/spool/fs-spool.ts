/**
 * The filesystem spool backend, for one host or a shared volume. Layout under `directory`:
 * `${id}/data` (the content) and `${id}/meta.json` (size, refs, times, the parked references, and
 * the tokens releaseOnce and retainOnce have counted). An entry past its `expiresAt` is absent
 * to every method at once; sweep() deletes its files, so a host using this backend sweeps
 * periodically (see openSpool).
 *
 * A write fills `.tmp-${id}-${nonce}/`, fsyncs file and directory, then renames it into place
 * and fsyncs `directory`: an entry is either complete or absent. Deletion renames the entry
 * back to a `.tmp-` name before removing it, and sweep() clears what a crash left behind.
 *
 * Reference changes are serialized per id: within this process by a promise chain, across the
 * processes (and hosts) sharing the directory by a lock directory `.lock-${id}` (see fs-lock.ts).
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat as statPath } from 'node:fs/promises';
import { join } from 'node:path';
import { asBuffer } from './chunks.js';
import { fsyncDirectory, writeAll } from '@mailway/files/durable';
import { type FsMeta, isCode, readMeta, replaceMeta, writeDurably } from './fs-files.js';
import { isStale, withDirLock } from './fs-lock.js';
import { KeyedLock } from '@mailway/files/keyed-lock';
import {
  type Spool,
  type SpoolEntryInfo,
  type SpoolWriteOptions,
  SpoolExistsError,
  SpoolNotFoundError,
  assertCount,
  assertSpoolId,
  isSpoolId,
  parkDeadline,
  writeOptions,
} from './spool.js';

/** A filesystem spool, plus the clean-up a host runs periodically. */
export interface FsSpool extends Spool {
  /** Removes expired entries and stale temporary directories; returns entries removed. */
  sweep(now?: Date): Promise<number>;
}

/** Temporary directories untouched this long belong to a crashed writer. */
const staleTmpMs = 60 * 60 * 1000;
const readChunkSize = 256 * 1024;

/** A spool in `directory` (created when missing). */
export function createFsSpool(options: { directory: string }): FsSpool {
  const { directory } = options;
  const lock = new KeyedLock();
  let ready: Promise<unknown> | undefined;
  const entryDir = (id: string): string => {
    assertSpoolId(id);
    return join(directory, id);
  };
  const tmpDir = (id: string): string => join(directory, `.tmp-${id}-${randomBytes(6).toString('hex')}`);
  /** Runs `task` alone for `id`: first in this process, then across every process using the directory. */
  const exclusive = <T>(id: string, task: () => Promise<T>): Promise<T> =>
    lock.run(id, async () => {
      ready ??= mkdir(directory, { recursive: true });
      await ready;
      return withDirLock(join(directory, `.lock-${id}`), task);
    });

  /** Meta of a live entry: null when absent or expired (an expired entry only waits for sweep). */
  async function liveMeta(id: string, now = Date.now()): Promise<FsMeta | null> {
    const meta = await readMeta(entryDir(id));
    return meta && !isExpired(meta, now) ? meta : null;
  }

  /** Deletes an entry: rename it out of sight (atomic), then remove the files. */
  async function deleteEntry(id: string): Promise<void> {
    const doomed = tmpDir(id);
    try {
      await rename(entryDir(id), doomed);
    } catch (error) {
      if (isCode(error, 'ENOENT')) return;
      throw error;
    }
    await fsyncDirectory(directory);
    await rm(doomed, { recursive: true, force: true });
  }

  /**
   * Changes a live entry's meta under the id's lock. `change` edits the meta and returns the
   * result, or 'delete'; `absent` is the result when there is no live entry.
   */
  function update<T>(id: string, absent: () => T, change: (meta: FsMeta) => { meta: FsMeta | 'delete'; result: T }): Promise<T> {
    assertSpoolId(id);
    return exclusive(id, async () => {
      const meta = await liveMeta(id);
      if (!meta) return absent();
      const next = change(meta);
      if (next.meta === 'delete') await deleteEntry(id);
      else await replaceMeta(entryDir(id), next.meta);
      return next.result;
    });
  }

  async function write(id: string, content: Uint8Array | AsyncIterable<Uint8Array>, options: SpoolWriteOptions): Promise<SpoolEntryInfo> {
    const final = entryDir(id);
    const { refs, ttlMs } = writeOptions(options);

    // Sanity checks: an existing live entry is refused before any byte is written.
    await exclusive(id, async () => {
      const meta = await readMeta(final);
      if (meta && !isExpired(meta, Date.now())) throw new SpoolExistsError(id);
      if (meta) await deleteEntry(id);
    });

    // Fill a temporary directory and make it durable.
    const temp = tmpDir(id);
    const createdAt = new Date();
    try {
      await mkdir(temp);
      const file = await open(join(temp, 'data'), 'wx');
      let size = 0;
      try {
        const chunks = content instanceof Uint8Array ? [content] : content;
        for await (const chunk of chunks) {
          await writeAll(file, asBuffer(chunk));
          size += chunk.byteLength;
        }
        await file.sync();
      } finally {
        await file.close();
      }
      const expiresAt = createdAt.getTime() + ttlMs;
      const meta: FsMeta = { size, refs, createdAt: createdAt.getTime(), claimed: false, expiresAt, parked: {}, released: [], retained: [] };
      await writeDurably(join(temp, 'meta.json'), JSON.stringify(meta));
      await fsyncDirectory(temp);

      // Publish: the rename fails when another writer got there first.
      try {
        await rename(temp, final);
      } catch (error) {
        if (isCode(error, 'ENOTEMPTY', 'EEXIST')) throw new SpoolExistsError(id);
        throw error;
      }
      await fsyncDirectory(directory);
      return { id, size, refs, createdAt, claimed: false, parked: 0, expiresAt: new Date(expiresAt) };
    } catch (error) {
      await rm(temp, { recursive: true, force: true });
      throw error;
    }
  }

  async function* read(id: string): AsyncGenerator<Buffer> {
    if (!(await liveMeta(id))) throw new SpoolNotFoundError(id);
    try {
      for await (const chunk of createReadStream(join(entryDir(id), 'data'), { highWaterMark: readChunkSize })) yield chunk as Buffer;
    } catch (error) {
      if (isCode(error, 'ENOENT')) throw new SpoolNotFoundError(id);
      throw error;
    }
  }

  async function readAll(id: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of read(id)) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  async function stat(id: string): Promise<SpoolEntryInfo | null> {
    const meta = await liveMeta(id);
    if (!meta) return null;
    const { size, refs, createdAt, claimed, expiresAt } = meta;
    return { id, size, refs, createdAt: new Date(createdAt), claimed, parked: parkedCount(meta), expiresAt: expiresAt === null ? null : new Date(expiresAt) };
  }

  async function claim(id: string): Promise<void> {
    await update(
      id,
      () => {
        throw new SpoolNotFoundError(id);
      },
      (meta) => ({ meta: settle({ ...meta, claimed: true }), result: undefined }),
    );
  }

  async function park(id: string, token: string, until: Date, count = 1): Promise<number> {
    const deadline = parkDeadline(token, until, count);
    return update(
      id,
      () => 0,
      (meta) => ({ meta: settle({ ...meta, claimed: true, parked: { ...meta.parked, [token]: { count, until: deadline } } }), result: meta.refs }),
    );
  }

  async function unpark(id: string, token: string): Promise<number> {
    if (token.length === 0) throw new TypeError('unpark needs a non-empty token');
    return update(
      id,
      () => 0,
      (meta) => {
        if (!Object.hasOwn(meta.parked, token)) return { meta, result: meta.refs };
        const { [token]: _unparked, ...parked } = meta.parked;
        return { meta: settle({ ...meta, parked }), result: meta.refs };
      },
    );
  }

  async function retain(id: string, count: number): Promise<number> {
    assertCount(count);
    return update(
      id,
      () => {
        throw new SpoolNotFoundError(id);
      },
      (meta) => ({ meta: settle({ ...meta, refs: meta.refs + count }), result: meta.refs + count }),
    );
  }

  async function retainOnce(id: string, token: string, count: number): Promise<number> {
    if (token.length === 0) throw new TypeError('retainOnce needs a non-empty token');
    assertCount(count);
    return update(
      id,
      () => {
        throw new SpoolNotFoundError(id);
      },
      (meta) =>
        meta.retained.includes(token)
          ? { meta, result: meta.refs }
          : { meta: settle({ ...meta, refs: meta.refs + count, retained: [...meta.retained, token] }), result: meta.refs + count },
    );
  }

  async function release(id: string, count = 1): Promise<number> {
    assertCount(count);
    return update(id, () => 0, (meta) => drop(meta, count));
  }

  async function releaseOnce(id: string, token: string, parkedAs = token): Promise<number> {
    if (token.length === 0) throw new TypeError('releaseOnce needs a non-empty token');
    return update(
      id,
      () => 0,
      (meta) => (meta.released.includes(token) ? { meta, result: meta.refs } : drop({ ...meta, parked: unparkOne(meta.parked, parkedAs), released: [...meta.released, token] }, 1)),
    );
  }

  async function remove(id: string): Promise<void> {
    assertSpoolId(id);
    await exclusive(id, () => deleteEntry(id));
  }

  async function sweep(now = new Date()): Promise<number> {
    let names: string[];
    try {
      names = await readdir(directory);
    } catch (error) {
      if (isCode(error, 'ENOENT')) return 0;
      throw error;
    }
    let removed = 0;
    for (const name of names) {
      if (name.startsWith('.tmp-')) {
        if (now.getTime() - (await lastTouched(join(directory, name))) > staleTmpMs) await rm(join(directory, name), { recursive: true, force: true });
        continue;
      }
      // A lock whose holder died long ago.
      if (name.startsWith('.lock-')) {
        if (await isStale(join(directory, name), now.getTime())) await rm(join(directory, name), { recursive: true, force: true });
        continue;
      }
      if (!isSpoolId(name)) continue;
      const gone = await exclusive(name, async () => {
        const meta = await readMeta(join(directory, name)).catch(() => null);
        if (!meta || !isExpired(meta, now.getTime())) return false;
        await deleteEntry(name);
        return true;
      });
      if (gone) removed += 1;
    }
    return removed;
  }

  return { write, read, readAll, stat, claim, park, unpark, retain, retainOnce, release, releaseOnce, remove, sweep };
}

/** An entry past its expiry. */
function isExpired(meta: FsMeta, now: number): boolean {
  return meta.expiresAt !== null && meta.expiresAt <= now;
}

/** References parked, over all tokens. */
function parkedCount(meta: FsMeta): number {
  return Object.values(meta.parked).reduce((sum, park) => sum + park.count, 0);
}

/**
 * The entry's expiry worked out again, as the Redis backend does: an unclaimed entry keeps its
 * write TTL; a claimed one expires at the latest parked deadline once every reference is
 * parked, and never while one is not.
 */
function settle(meta: FsMeta): FsMeta {
  if (!meta.claimed) return meta;
  const parked = parkedCount(meta);
  const expiresAt = parked > 0 && parked >= meta.refs ? Math.max(...Object.values(meta.parked).map((park) => park.until)) : null;
  return { ...meta, expiresAt };
}

/** One reference fewer parked under `token` (a job that releases its reference no longer parks it). */
function unparkOne(parked: FsMeta['parked'], token: string): FsMeta['parked'] {
  const park = parked[token];
  if (park === undefined) return parked;
  const { [token]: _released, ...rest } = parked;
  return park.count > 1 ? { ...rest, [token]: { ...park, count: park.count - 1 } } : rest;
}

/** `count` fewer references; at zero the entry goes. */
function drop(meta: FsMeta, count: number): { meta: FsMeta | 'delete'; result: number } {
  const refs = meta.refs - count;
  return refs <= 0 ? { meta: 'delete', result: 0 } : { meta: settle({ ...meta, refs }), result: refs };
}

/** Last change to a temporary directory or the data file being written in it (ms). */
async function lastTouched(path: string): Promise<number> {
  const [dir, data] = await Promise.all([statPath(path).catch(() => null), statPath(join(path, 'data')).catch(() => null)]);
  return Math.max(dir?.mtimeMs ?? 0, data?.mtimeMs ?? 0);
}
