/**
 * The Maildir writer. Reads a message (bytes or a stream); emits one file in `new/` of the
 * mailbox or of a Maildir++ folder, durably: write `tmp/NAME` (exclusive create), fsync it,
 * link it to `new/NAME,S=size`, fsync `new/`, unlink the tmp name.
 *
 * Exactly once per delivery key, under SIGKILL at any moment: every file name carries a hash of
 * the key, and a retried delivery (`record.retry`, which the queue knows: the job was started
 * before) first looks in `new/` and `cur/` (a reader may have moved it there and added flags)
 * for a name carrying the hash. Found: nothing is written. Not found: the earlier attempt died
 * before its link into new/ became durable, and the message is written now; a tmp file it left
 * is swept after 36 hours. A first attempt cannot have a copy, so it pays for no listing.
 *
 * The link (not rename) never replaces an existing name. Attempts with the same key are
 * serialized within a process. Across processes BullMQ runs one attempt of a job at a time,
 * unless a worker that lost its job lock (stalled for longer than the lock duration) is still
 * writing when another takes the job over: the one window this does not close.
 *
 * Deliveries into the same directory at the same moment share one fsync of `new/` (a group
 * commit): each waits for a sync that started after its own link, so each is as durable as with
 * a sync of its own, for a fraction of the journal commits.
 */
import { hostname as osHostname } from 'node:os';
import { closeSync, linkSync, openSync, unlinkSync } from 'node:fs';
import { readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncFd } from '@mailway/files/durable';
import { chunksOf, isCode, keyHash, writeAllSync } from '../files.js';
import { DirectorySyncer } from './syncer.js';
import { KeyedLock } from '@mailway/files/keyed-lock';
import type { DeliveryRecord, DeliveryResult, MailboxStore } from '../store.js';
import { folderDir, prepare, sweepTmp } from './layout.js';
import { carriesKey, safeHost, sizeFromName, uniqueName, withSize } from './names.js';

export interface MaildirOptions {
  /** The host name in file names; the system's by default. */
  readonly hostname?: string;
  /** fsync files and directories (default true); off only for tests and throwaway mail. */
  readonly fsync?: boolean;
}

/** How often one process sweeps one tmp/ directory. */
const sweepEveryMs = 60 * 60 * 1000;

/** A Maildir store. */
export function createMaildir(options: MaildirOptions = {}): MailboxStore {
  const host = safeHost(options.hostname ?? osHostname());
  const fsync = options.fsync ?? true;
  const lock = new KeyedLock();
  const syncer = new DirectorySyncer();
  const prepared = new Set<string>();
  const swept = new Map<string, number>();

  async function deliver(path: string, message: Buffer | AsyncIterable<Uint8Array>, record: DeliveryRecord): Promise<DeliveryResult> {
    const dir = folderDir(path, record.folder);
    const hash = keyHash(record.key);
    return lock.run(`${dir}\0${hash}`, async () => {
      // The directories, once per process (again if someone removed them).
      if (!prepared.has(dir)) {
        await prepare(path, dir, fsync);
        prepared.add(dir);
      }
      await sweepIfDue(join(dir, 'tmp'));

      // Has an attempt with this key run before? Then look for its copy.
      if (record.retry !== false) {
        const found = await findCopy(dir, hash);
        if (found !== null) return { stored: false, ...found };
      }
      await record.beforeWrite?.();
      try {
        return { stored: true, ...(await write(dir, message, hash)) };
      } catch (error) {
        if (isCode(error, 'ENOENT')) prepared.delete(dir);
        throw error;
      }
    });
  }

  /** Writes the message to tmp/, then links it into new/; returns the new/ file and size. */
  async function write(dir: string, message: Buffer | AsyncIterable<Uint8Array>, hash: string): Promise<{ file: string; size: number }> {
    // tmp/NAME, written and synced; a failed write leaves nothing.
    const { name, tmpFile, fd } = await createTmp(dir, hash);
    let size = 0;
    try {
      try {
        for await (const chunk of chunksOf(message)) {
          writeAllSync(fd, chunk);
          size += chunk.byteLength;
        }
        if (fsync) await fsyncFd(fd);
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      await unlink(tmpFile).catch(() => {});
      throw error;
    }

    // Into new/: link never replaces an existing name.
    let newFile = join(dir, 'new', withSize(name, size));
    for (;;) {
      try {
        linkSync(tmpFile, newFile);
        break;
      } catch (error) {
        if (!isCode(error, 'EEXIST')) throw error;
        await pause();
        newFile = join(dir, 'new', withSize(uniqueName(hash, host), size));
      }
    }
    if (fsync) await syncer.sync(join(dir, 'new'));
    try {
      unlinkSync(tmpFile);
    } catch {
      // Swept later with the other stale tmp files.
    }
    return { file: newFile, size };
  }

  /** A new file in tmp/, created exclusively: a clash picks another name. */
  async function createTmp(dir: string, hash: string): Promise<{ name: string; tmpFile: string; fd: number }> {
    for (;;) {
      const name = uniqueName(hash, host);
      const tmpFile = join(dir, 'tmp', name);
      try {
        return { name, tmpFile, fd: openSync(tmpFile, 'wx', 0o600) };
      } catch (error) {
        if (!isCode(error, 'EEXIST')) throw error;
        await pause();
      }
    }
  }

  /** Sweeps a tmp/ directory at most once an hour per process. */
  async function sweepIfDue(tmpDir: string): Promise<void> {
    const now = Date.now();
    if (now - (swept.get(tmpDir) ?? 0) < sweepEveryMs) return;
    swept.set(tmpDir, now);
    await sweepTmp(tmpDir, now);
  }

  return { deliver };
}

/** The copy an earlier attempt stored in new/ or cur/, or null. */
async function findCopy(dir: string, hash: string): Promise<{ file: string; size: number } | null> {
  for (const sub of ['new', 'cur']) {
    const name = (await readdir(join(dir, sub))).find((n) => carriesKey(n, hash));
    if (name === undefined) continue;
    const file = join(dir, sub, name);
    return { file, size: sizeFromName(name) ?? (await stat(file)).size };
  }
  return null;
}

/** A microsecond or more, so the next name differs. */
function pause(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1));
}
