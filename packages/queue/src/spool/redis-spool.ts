/**
 * The Redis spool backend: works when agents run on different hosts. Per entry, under one hash
 * tag: `${prefix}spool:{id}:meta` (hash), `…:data` (list of chunks), `…:released` (the tokens
 * of releaseOnce and retainOnce, namespaced), and while a large write streams in, `…:tmp:${nonce}`.
 * A prefix's own braces (a cluster hash tag) are left out of these keys, so the id is the tag.
 *
 * A message that fits in one chunk is stored in one round trip; a larger one streams chunk by
 * chunk into an expiring temporary key that one script then renames into place.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { chunked } from './chunks.js';
import { spoolScripts } from './redis-scripts.js';
import {
  type Spool,
  type SpoolEntryInfo,
  type SpoolWriteOptions,
  SpoolExistsError,
  SpoolNotFoundError,
  assertCount,
  assertSpoolId,
  parkDeadline,
  writeOptions,
} from './spool.js';

export interface RedisSpoolOptions {
  /** Key prefix, default 'mailway:'. */
  prefix?: string;
  /** Bytes per list element, default 256 KiB. */
  chunkSize?: number;
}

/** A temporary key lives this long after its last chunk: a crashed writer leaves nothing for good. */
const tmpTtlMs = 60 * 60 * 1000;

/** A spool in Redis, using `redis` (a 'command' role client suits the SMTP hot path). */
export function createRedisSpool(redis: Redis, options: RedisSpoolOptions = {}): Spool {
  const { prefix = 'mailway:', chunkSize = 256 * 1024 } = options;
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) throw new RangeError(`chunkSize must be a positive integer, not ${chunkSize}`);
  const scripts = spoolScripts(redis);
  // An entry's keys hash by its id alone, even under a prefix that is a cluster hash tag
  // ({mailway}:): entries spread over a cluster's slots, each one's keys in one slot.
  const entryPrefix = prefix.replace(/[{}]/g, '');

  /** The keys of one entry, checked id first. */
  const keysOf = (id: string) => {
    assertSpoolId(id);
    const base = `${entryPrefix}spool:{${id}}:`;
    return { meta: `${base}meta`, data: `${base}data`, released: `${base}released`, tmp: () => `${base}tmp:${randomBytes(8).toString('hex')}` };
  };

  async function write(id: string, content: Uint8Array | AsyncIterable<Uint8Array>, options: SpoolWriteOptions): Promise<SpoolEntryInfo> {
    const { meta, data, released, tmp } = keysOf(id);
    const { refs, ttlMs } = writeOptions(options);
    const chunks = chunked(content, chunkSize);
    const first = await chunks.next();
    const second = first.done ? first : await chunks.next();
    const createdAt = new Date();

    // Fast path: the whole message is one chunk (second is first when first is done).
    if (first.done || second.done) {
      const chunk = first.done ? Buffer.alloc(0) : first.value;
      const written = await scripts.write(meta, data, released, chunk, chunk.length, refs, createdAt.getTime(), ttlMs);
      if (written === 0) throw new SpoolExistsError(id);
      return { id, size: chunk.length, refs, createdAt, claimed: false, parked: 0, expiresAt: new Date(createdAt.getTime() + ttlMs) };
    }

    // Streamed: refuse an existing id before uploading anything.
    if ((await redis.exists(meta)) === 1) {
      await chunks.return(undefined);
      throw new SpoolExistsError(id);
    }
    const tmpKey = tmp();
    let size = 0;
    let committed: number;
    const append = async (chunk: Buffer): Promise<void> => {
      await scripts.append(tmpKey, chunk, tmpTtlMs);
      size += chunk.length;
    };
    try {
      // One chunk in flight at a time: memory stays at a chunk or two whatever the size.
      await append(first.value);
      await append(second.value);
      for await (const chunk of chunks) await append(chunk);
      committed = await scripts.commit(meta, data, released, tmpKey, size, refs, createdAt.getTime(), ttlMs);
    } catch (error) {
      // Best effort: the key expires anyway if Redis is what failed.
      await redis.del(tmpKey).catch(() => {});
      throw error;
    }
    if (committed === 0) throw new SpoolExistsError(id);
    if (committed === -1) throw new Error(`spool write of ${id} failed: its temporary data expired before the commit`);
    return { id, size, refs, createdAt, claimed: false, parked: 0, expiresAt: new Date(createdAt.getTime() + ttlMs) };
  }

  async function* read(id: string): AsyncGenerator<Buffer> {
    const { meta, data } = keysOf(id);
    // Size, chunk count and the first chunk in one step; a release racing with the later
    // chunks shows up as a missing chunk or a size mismatch.
    const head = await scripts.head(meta, data);
    if (head === null) throw new SpoolNotFoundError(id);
    const [sizeText, count, first] = head;
    const size = Number(sizeText.toString('latin1'));

    // Then one chunk per round trip: memory stays at one chunk whatever the message size.
    let total = first.length;
    if (first.length > 0) yield first;
    for (let index = 1; index < count; index += 1) {
      const chunk = await redis.lindexBuffer(data, index);
      if (chunk === null) throw new SpoolNotFoundError(id);
      total += chunk.length;
      if (chunk.length > 0) yield chunk;
    }
    if (total !== size) throw new SpoolNotFoundError(id);
  }

  async function readAll(id: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of read(id)) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  async function stat(id: string): Promise<SpoolEntryInfo | null> {
    const fields = await redis.hgetall(keysOf(id).meta);
    if (fields.size === undefined) return null;
    return {
      id,
      size: Number(fields.size),
      refs: Number(fields.refs),
      createdAt: new Date(Number(fields.createdAt)),
      claimed: fields.claimed === '1',
      parked: Number(fields.parked ?? 0),
      expiresAt: fields.expiresAt ? new Date(Number(fields.expiresAt)) : null,
    };
  }

  async function claim(id: string): Promise<void> {
    const { meta, data, released } = keysOf(id);
    if ((await scripts.claim(meta, data, released)) === 0) throw new SpoolNotFoundError(id);
  }

  async function retain(id: string, count: number): Promise<number> {
    const { meta, data, released } = keysOf(id);
    assertCount(count);
    const refs = await scripts.retain(meta, data, released, count);
    if (refs < 0) throw new SpoolNotFoundError(id);
    return refs;
  }

  async function release(id: string, count = 1): Promise<number> {
    const { meta, data, released } = keysOf(id);
    assertCount(count);
    return scripts.release(meta, data, released, count);
  }

  async function releaseOnce(id: string, token: string, parkedAs = token): Promise<number> {
    const { meta, data, released } = keysOf(id);
    if (token.length === 0) throw new TypeError('releaseOnce needs a non-empty token');
    return scripts.releaseOnce(meta, data, released, `r:${token}`, `p:${parkedAs}`);
  }

  async function park(id: string, token: string, until: Date, count = 1): Promise<number> {
    const { meta, data, released } = keysOf(id);
    const deadline = parkDeadline(token, until, count);
    return scripts.park(meta, data, released, `p:${token}`, count, deadline);
  }

  async function unpark(id: string, token: string): Promise<number> {
    const { meta, data, released } = keysOf(id);
    if (token.length === 0) throw new TypeError('unpark needs a non-empty token');
    return scripts.unpark(meta, data, released, `p:${token}`);
  }

  async function retainOnce(id: string, token: string, count: number): Promise<number> {
    const { meta, data, released } = keysOf(id);
    if (token.length === 0) throw new TypeError('retainOnce needs a non-empty token');
    assertCount(count);
    const refs = await scripts.retainOnce(meta, data, released, `a:${token}`, count);
    if (refs < 0) throw new SpoolNotFoundError(id);
    return refs;
  }

  async function remove(id: string): Promise<void> {
    const { meta, data, released } = keysOf(id);
    await redis.del(meta, data, released);
  }

  return { write, read, readAll, stat, claim, park, unpark, retain, retainOnce, release, releaseOnce, remove };
}
