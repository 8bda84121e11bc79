/**
 * The spool conformance suite: every backend passes the same cases. A backend's test file calls
 * describeSpool() with a factory for a fresh, empty spool, then adds its own cases.
 */
import { createHash, randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, it, expect } from 'vitest';
import { type Spool, SpoolExistsError, SpoolNotFoundError, defaultSpoolTtlMs } from './spool.js';

/** A fresh spool and what the suite needs to know about its backend. */
export interface SpoolHarness {
  readonly spool: Spool;
  /** Bytes the backend stores per chunk: the cases probe both sides of it. */
  readonly chunkSize: number;
  /** Temporary artifacts of writes (keys, directories) that are still there and not expiring. */
  leftovers(): Promise<string[]>;
  /**
   * The ids that still have anything stored (keys, files), after the backend's own clean-up of
   * what expired has run (the Redis server's expiry; the filesystem spool's sweep).
   */
  stored(): Promise<string[]>;
  /** Removes everything the spool stored and closes connections. */
  close(): Promise<void>;
}

/** Yields `bytes` in pieces of the given sizes (cycled), as a network stream would. */
export async function* pieces(bytes: Buffer, sizes: number[] = [1, 7, 1000, 4096]): AsyncGenerator<Uint8Array> {
  let offset = 0;
  for (let i = 0; offset < bytes.length; i += 1) {
    const size = sizes[i % sizes.length]!;
    // Plain Uint8Array copies: the spool must not rely on Buffer-only methods.
    yield new Uint8Array(bytes.subarray(offset, offset + size));
    offset += size;
  }
}

/** Yields `good` bytes, then throws, as a client dropping mid-DATA does. */
export async function* failingAfter(good: Buffer, error: Error): AsyncGenerator<Uint8Array> {
  yield* pieces(good, [good.length > 0 ? Math.ceil(good.length / 3) : 1]);
  throw error;
}

/** `size` bytes of a repeating, position-dependent pattern (so misplaced chunks show). */
export function patterned(size: number, seed = 0): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i += 1) bytes[i] = (i * 31 + (i >> 8) + seed) & 0xff;
  return bytes;
}

export function describeSpool(name: string, factory: () => Promise<SpoolHarness>): void {
  describe(`spool conformance: ${name}`, () => {
    let harness: SpoolHarness;
    let spool: Spool;
    beforeEach(async () => {
      harness = await factory();
      spool = harness.spool;
    });
    afterEach(async () => {
      await harness.close();
    });
    const newId = (): string => randomUUID();

    const contents = (): { name: string; bytes: Buffer }[] => [
      { name: 'empty', bytes: Buffer.alloc(0) },
      { name: '1 byte', bytes: Buffer.from('x') },
      { name: 'binary 0-255', bytes: Buffer.from(Array.from({ length: 512 }, (_, i) => i & 0xff)) },
      { name: 'CRLF and dot lines', bytes: Buffer.from('Subject: hi\r\n\r\n.\r\n..\r\n.x\r\nbare\nLF and bare\rCR\r\n\r\n') },
      { name: 'exactly chunkSize', bytes: patterned(harness.chunkSize) },
      { name: 'chunkSize + 1', bytes: patterned(harness.chunkSize + 1) },
      { name: '3 chunks and a bit', bytes: patterned(harness.chunkSize * 3 + 17) },
    ];

    describe('round trip, byte-exact', () => {
      for (const form of ['bytes', 'stream'] as const) {
        it(`every content kind as ${form}`, async () => {
          for (const { name: kind, bytes } of contents()) {
            const id = newId();
            const info = await spool.write(id, form === 'bytes' ? bytes : pieces(bytes), { refs: 2 });
            expect(info, kind).toMatchObject({ id, size: bytes.length, refs: 2, claimed: false });
            expect((await spool.readAll(id)).equals(bytes), kind).toBe(true);
            const streamed: Buffer[] = [];
            for await (const chunk of spool.read(id)) streamed.push(chunk);
            expect(Buffer.concat(streamed).equals(bytes), kind).toBe(true);
            const stat = await spool.stat(id);
            expect(stat, kind).toEqual({ id, size: bytes.length, refs: 2, createdAt: info.createdAt, claimed: false, parked: 0, expiresAt: info.expiresAt });
            expect(info.expiresAt?.getTime(), kind).toBe(info.createdAt.getTime() + defaultSpoolTtlMs);
          }
        });
      }

      it('a 50 MB stream, read back in chunks', async () => {
        const id = newId();
        const piece = patterned(64 * 1024 + 3);
        const total = 50 * 1024 * 1024;
        const written = createHash('sha256');
        async function* source(): AsyncGenerator<Uint8Array> {
          for (let sent = 0, n = 0; sent < total; n += 1) {
            const part = piece.subarray(0, Math.min(piece.length - (n % 5), total - sent));
            // One buffer reused for every piece, as some streams do: the spool must be done with a
            // piece when it asks for the next.
            part[0] = n & 0xff;
            written.update(part);
            sent += part.length;
            yield part;
          }
        }
        const info = await spool.write(id, source(), { refs: 1 });
        expect(info.size).toBe(total);
        const read = createHash('sha256');
        let chunks = 0;
        let size = 0;
        for await (const chunk of spool.read(id)) {
          read.update(chunk);
          size += chunk.length;
          chunks += 1;
        }
        expect(size).toBe(total);
        expect(chunks).toBeGreaterThan(1);
        expect(read.digest('hex')).toBe(written.digest('hex'));
      });
    });

    describe('ids', () => {
      it('refuses a second write under an id, leaving the first intact', async () => {
        const id = newId();
        const original = patterned(100);
        await spool.write(id, original, { refs: 1 });
        await expect(spool.write(id, Buffer.from('other'), { refs: 1 })).rejects.toBeInstanceOf(SpoolExistsError);
        await expect(spool.write(id, pieces(patterned(harness.chunkSize * 2 + 1, 9)), { refs: 1 })).rejects.toBeInstanceOf(SpoolExistsError);
        expect((await spool.readAll(id)).equals(original)).toBe(true);
        expect(await spool.stat(id)).toMatchObject({ size: 100, refs: 1 });
        expect(await harness.leftovers()).toEqual([]);
      });

      it('reports a missing entry: read rejects, stat is null', async () => {
        const id = newId();
        await expect(spool.readAll(id)).rejects.toBeInstanceOf(SpoolNotFoundError);
        const reader = spool.read(id)[Symbol.asyncIterator]();
        await expect(reader.next()).rejects.toBeInstanceOf(SpoolNotFoundError);
        expect(await spool.stat(id)).toBeNull();
        await expect(spool.claim(id)).rejects.toBeInstanceOf(SpoolNotFoundError);
        await expect(spool.retain(id, 1)).rejects.toBeInstanceOf(SpoolNotFoundError);
      });

      it.each(['', '../etc', 'a/b', '.hidden', 'a{b}', 'a:b', 'x'.repeat(129)])('refuses the id %j', async (id) => {
        await expect(spool.write(id, Buffer.from('x'), { refs: 1 })).rejects.toBeInstanceOf(TypeError);
        await expect(spool.stat(id)).rejects.toBeInstanceOf(TypeError);
      });

      it.each([0, -1, 1.5])('refuses refs %d', async (refs) => {
        await expect(spool.write(newId(), Buffer.from('x'), { refs })).rejects.toBeInstanceOf(RangeError);
      });
    });

    describe('references', () => {
      it('counts down to zero, then the content is gone', async () => {
        const id = newId();
        await spool.write(id, Buffer.from('hello'), { refs: 3 });
        expect(await spool.release(id)).toBe(2);
        expect(await spool.stat(id)).toMatchObject({ refs: 2 });
        expect(await spool.release(id, 2)).toBe(0);
        expect(await spool.stat(id)).toBeNull();
        await expect(spool.readAll(id)).rejects.toBeInstanceOf(SpoolNotFoundError);
        expect(await spool.release(id)).toBe(0);
      });

      it('releaseOnce counts each token once, however often it is retried', async () => {
        const id = newId();
        await spool.write(id, pieces(patterned(harness.chunkSize + 5)), { refs: 2 });
        expect(await spool.releaseOnce(id, 'job-1')).toBe(1);
        expect(await spool.releaseOnce(id, 'job-1')).toBe(1);
        expect(await spool.releaseOnce(id, 'job-1')).toBe(1);
        expect(await spool.readAll(id)).toHaveLength(harness.chunkSize + 5);
        expect(await spool.releaseOnce(id, 'job-2')).toBe(0);
        expect(await spool.stat(id)).toBeNull();
        expect(await spool.releaseOnce(id, 'job-2')).toBe(0);
      });

      it('retain adds references', async () => {
        const id = newId();
        await spool.write(id, Buffer.from('fan-out'), { refs: 1 });
        expect(await spool.retain(id, 2)).toBe(3);
        expect(await spool.release(id)).toBe(2);
        expect(await spool.releaseOnce(id, 'a')).toBe(1);
        expect(await spool.readAll(id)).toEqual(Buffer.from('fan-out'));
        await expect(spool.retain(id, 0)).rejects.toBeInstanceOf(RangeError);
      });

      it('retainOnce adds references once per token, however often it is retried', async () => {
        const id = newId();
        await spool.write(id, Buffer.from('alias'), { refs: 1 });
        expect(await spool.retainOnce(id, 'expand:job-1', 3)).toBe(4);
        expect(await spool.retainOnce(id, 'expand:job-1', 3)).toBe(4);
        expect(await Promise.all([spool.retainOnce(id, 'expand:job-1', 3), spool.retainOnce(id, 'expand:job-1', 3)])).toEqual([4, 4]);
        expect(await spool.stat(id)).toMatchObject({ refs: 4 });
        // A release token of the same text is a different token.
        expect(await spool.releaseOnce(id, 'expand:job-1')).toBe(3);
        expect(await spool.retainOnce(id, 'expand:job-1', 3)).toBe(3);
        await expect(spool.retainOnce(id, 'expand:job-2', 0)).rejects.toBeInstanceOf(RangeError);
        await expect(spool.retainOnce(id, '', 1)).rejects.toBeInstanceOf(TypeError);
        await expect(spool.retainOnce(newId(), 'expand:job-1', 1)).rejects.toBeInstanceOf(SpoolNotFoundError);
      });

      it('retainOnce interleaved with releaseOnce retries reaches 0 exactly once', async () => {
        // An alias recipient fans out to 3 targets: retain for them, then release its own
        // reference; every step is retried, some at the same moment, as crashed jobs would be.
        const id = newId();
        await spool.write(id, Buffer.from('fan-out'), { refs: 2 });
        for (let attempt = 0; attempt < 2; attempt += 1) {
          expect(await spool.retainOnce(id, 'expand:alias', 3)).toBe(5 - attempt);
          expect(await spool.releaseOnce(id, 'alias')).toBe(4);
        }
        const twice = (token: string) => Promise.all([spool.releaseOnce(id, token), spool.releaseOnce(id, token)]);
        expect(await twice('other')).toEqual([3, 3]);
        expect(await twice('target-1')).toEqual([2, 2]);
        expect(await spool.retainOnce(id, 'expand:alias', 3)).toBe(2);
        expect(await twice('target-2')).toEqual([1, 1]);
        expect(await spool.readAll(id)).toEqual(Buffer.from('fan-out'));
        expect(await twice('target-3')).toEqual([0, 0]);
        expect(await spool.stat(id)).toBeNull();
        await expect(spool.retainOnce(id, 'expand:alias', 3)).rejects.toBeInstanceOf(SpoolNotFoundError);
      });

      it('50 concurrent releaseOnce with distinct tokens end at exactly 0', async () => {
        const id = newId();
        await spool.write(id, Buffer.from('popular'), { refs: 50 });
        const left = await Promise.all(Array.from({ length: 50 }, (_, i) => spool.releaseOnce(id, `token-${i}`)));
        expect([...left].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
        expect(await spool.stat(id)).toBeNull();
      });

      it('remove deletes whatever the references', async () => {
        const id = newId();
        await spool.write(id, pieces(patterned(harness.chunkSize * 2)), { refs: 5 });
        await spool.remove(id);
        expect(await spool.stat(id)).toBeNull();
        await expect(spool.readAll(id)).rejects.toBeInstanceOf(SpoolNotFoundError);
        await spool.remove(id);
        // The id is free again.
        await spool.write(id, Buffer.from('again'), { refs: 1 });
        expect(await spool.readAll(id)).toEqual(Buffer.from('again'));
      });

      it('claim marks the entry, idempotently', async () => {
        const id = newId();
        await spool.write(id, Buffer.from('mine'), { refs: 1 });
        await spool.claim(id);
        await spool.claim(id);
        expect(await spool.stat(id)).toMatchObject({ claimed: true, refs: 1, expiresAt: null });
        expect(await spool.release(id)).toBe(0);
      });
    });

    describe('parked references: every entry has an owner', () => {
      const hour = 60 * 60 * 1000;
      // Deadlines hours ahead, from one fixed instant so that every call names the same one.
      const base = Date.now();
      const at = (ms: number): Date => new Date(base + ms);

      it('expires only once every reference is parked, at the latest deadline', async () => {
        const id = newId();
        await spool.write(id, Buffer.from('two recipients'), { refs: 2 });
        await spool.claim(id);
        const [first, second] = [at(14 * 24 * hour), at(15 * 24 * hour)];
        // One recipient failed for good: the other's live job still holds the content.
        expect(await spool.park(id, 'job-1', second)).toBe(2);
        expect(await spool.stat(id)).toMatchObject({ refs: 2, parked: 1, claimed: true, expiresAt: null });
        // Both failed: the content stays as long as the failed job kept longest.
        expect(await spool.park(id, 'job-2', first)).toBe(2);
        expect(await spool.stat(id)).toMatchObject({ refs: 2, parked: 2, expiresAt: second });
        // Parking a token again moves its deadline.
        await spool.park(id, 'job-1', at(hour));
        expect(await spool.stat(id)).toMatchObject({ parked: 2, expiresAt: first });
        expect(await spool.readAll(id)).toEqual(Buffer.from('two recipients'));
      });

      it('releaseOnce drops a parked reference and its park; a retried job unparks', async () => {
        const id = newId();
        await spool.write(id, pieces(patterned(harness.chunkSize + 3)), { refs: 3 });
        await spool.claim(id);
        for (const token of ['job-1', 'job-2', 'job-3']) await spool.park(id, token, at(token === 'job-3' ? 2 * hour : hour));
        expect(await spool.stat(id)).toMatchObject({ parked: 3, expiresAt: at(2 * hour) });
        // An operator retries job-3 and it is delivered: the rest stays parked, with its own deadline.
        expect(await spool.unpark(id, 'job-3')).toBe(3);
        expect(await spool.unpark(id, 'job-3')).toBe(3);
        expect(await spool.stat(id)).toMatchObject({ parked: 2, expiresAt: null });
        expect(await spool.releaseOnce(id, 'job-3')).toBe(2);
        expect(await spool.stat(id)).toMatchObject({ refs: 2, parked: 2, expiresAt: at(hour) });
        // job-2 is retried after a crash that left its park behind, then delivered.
        expect(await spool.releaseOnce(id, 'job-2')).toBe(1);
        expect(await spool.releaseOnce(id, 'job-2')).toBe(1);
        expect(await spool.stat(id)).toMatchObject({ refs: 1, parked: 1, expiresAt: at(hour) });
        expect(await spool.releaseOnce(id, 'job-1')).toBe(0);
        expect(await spool.stat(id)).toBeNull();
        expect(await harness.stored()).toEqual([]);
      });

      it('a live reference added later holds the entry again (an alias fanned out)', async () => {
        const id = newId();
        await spool.write(id, Buffer.from('fan-out'), { refs: 1 });
        await spool.claim(id);
        await spool.park(id, 'failed-job', at(hour));
        expect(await spool.stat(id)).toMatchObject({ expiresAt: at(hour) });
        expect(await spool.retainOnce(id, 'expand:alias', 2)).toBe(3);
        expect(await spool.stat(id)).toMatchObject({ refs: 3, parked: 1, expiresAt: null });
        expect(await spool.release(id, 2)).toBe(1);
        expect(await spool.stat(id)).toMatchObject({ refs: 1, expiresAt: at(hour) });
        expect(await spool.retain(id, 1)).toBe(2);
        expect(await spool.stat(id)).toMatchObject({ expiresAt: null });
        // claim() of an entry whose every reference is parked keeps the deadline.
        await spool.release(id);
        await spool.claim(id);
        expect(await spool.stat(id)).toMatchObject({ refs: 1, claimed: true, expiresAt: at(hour) });
      });

      it('parks several references under one token (a job for several recipients)', async () => {
        const id = newId();
        await spool.write(id, Buffer.from('outbound'), { refs: 3 });
        // Parking claims an unclaimed entry: its write TTL gives way to the deadline.
        expect(await spool.park(id, 'outbound-1', at(5 * 24 * hour), 3)).toBe(3);
        expect(await spool.stat(id)).toMatchObject({ claimed: true, parked: 3, expiresAt: at(5 * 24 * hour) });
        expect(await spool.releaseOnce(id, 'outbound-1')).toBe(2);
        expect(await spool.stat(id)).toMatchObject({ refs: 2, parked: 2, expiresAt: at(5 * 24 * hour) });
        expect(await spool.unpark(id, 'outbound-1')).toBe(2);
        expect(await spool.stat(id)).toMatchObject({ parked: 0, expiresAt: null });
      });

      it('releases each recipient of a parked job under its own token, unparking one each time', async () => {
        const id = newId();
        // Two recipients parked by their outbound job; a local delivery job holds the third.
        await spool.write(id, Buffer.from('mixed'), { refs: 3 });
        await spool.park(id, 'outbound-1', at(hour), 2);
        expect(await spool.releaseOnce(id, 'outbound-1|a@example.net', 'outbound-1')).toBe(2);
        expect(await spool.releaseOnce(id, 'outbound-1|a@example.net', 'outbound-1')).toBe(2);
        expect(await spool.stat(id)).toMatchObject({ refs: 2, parked: 1, expiresAt: null });
        expect(await spool.releaseOnce(id, 'outbound-1|b@example.net', 'outbound-1')).toBe(1);
        // Only the live delivery's reference is left, and it holds the content with no deadline.
        expect(await spool.stat(id)).toMatchObject({ refs: 1, parked: 0, expiresAt: null });
      });

      it('an entry whose every reference is parked is gone after the deadline, files and keys too', async () => {
        const [kept, parked] = [newId(), newId()];
        for (const id of [kept, parked]) {
          await spool.write(id, pieces(patterned(harness.chunkSize * 2 + 1)), { refs: 2 });
          await spool.claim(id);
          await spool.releaseOnce(id, 'delivered');
          await spool.park(id, 'failed', new Date(Date.now() + 300));
        }
        // One was retried by an operator: live again, it stays.
        await spool.unpark(kept, 'failed');
        const deadline = Date.now() + 10_000;
        while ((await spool.stat(parked)) !== null && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
        expect(await spool.stat(parked)).toBeNull();
        await expect(spool.readAll(parked)).rejects.toBeInstanceOf(SpoolNotFoundError);
        expect(await spool.releaseOnce(parked, 'failed')).toBe(0);
        expect(await spool.park(parked, 'failed', at(hour))).toBe(0);
        expect(await spool.unpark(parked, 'failed')).toBe(0);
        expect(await harness.stored()).toEqual([kept]);
        expect(await spool.stat(kept)).toMatchObject({ refs: 1, expiresAt: null });
      });

      it('a deadline already past removes the entry at once', async () => {
        const id = newId();
        await spool.write(id, Buffer.from('late'), { refs: 1 });
        expect(await spool.park(id, 'failed', new Date(Date.now() - 1000))).toBeLessThanOrEqual(1);
        expect(await spool.stat(id)).toBeNull();
        expect(await harness.stored()).toEqual([]);
      });

      it('refuses bad arguments', async () => {
        const id = newId();
        await spool.write(id, Buffer.from('x'), { refs: 1 });
        await expect(spool.park(id, '', at(hour))).rejects.toBeInstanceOf(TypeError);
        await expect(spool.park(id, 'job', at(hour), 0)).rejects.toBeInstanceOf(RangeError);
        await expect(spool.park(id, 'job', new Date(Number.NaN))).rejects.toBeInstanceOf(RangeError);
        await expect(spool.unpark(id, '')).rejects.toBeInstanceOf(TypeError);
        expect(await spool.stat(id)).toMatchObject({ parked: 0, claimed: false });
      });
    });

    describe('failed writes', () => {
      it.each([
        { name: 'before the first chunk fills', size: 10 },
        { name: 'after several chunks', size: 3 },
      ])('a source that throws $name leaves nothing behind', async ({ size }) => {
        const id = newId();
        const good = size === 10 ? patterned(10) : patterned(harness.chunkSize * size + 1);
        const boom = new Error('client went away');
        await expect(spool.write(id, failingAfter(good, boom), { refs: 1 })).rejects.toBe(boom);
        expect(await spool.stat(id)).toBeNull();
        await expect(spool.readAll(id)).rejects.toBeInstanceOf(SpoolNotFoundError);
        expect(await harness.leftovers()).toEqual([]);
        // And the id can be written properly afterwards.
        await spool.write(id, good, { refs: 1 });
        expect((await spool.readAll(id)).equals(good)).toBe(true);
      });
    });
  });
}
