/**
 * The mbox writer (mboxrd). Reads a message; appends to the mbox file, under its dot-lock, a
 * From_ line (`From <sender> <asctime date>`), the message with `>*From ` lines quoted, and a
 * blank line; fsyncs. Folders live beside the mbox, in `mail/<folder>`.
 *
 * Exactly once per delivery key through the key index (see keys.ts): under the lock, a key
 * already recorded as delivered is not appended again, and a delivery whose writer died
 * between "about to append" and "appended" is cut off before the next one starts.
 *
 * A message that does not end with a newline gets one: mboxrd cannot keep that difference.
 */
import { mkdir, open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeAll } from '@mailway/files/durable';
import { assertFolder, chunksOf, keyHash } from '../files.js';
import type { DeliveryRecord, DeliveryResult, MailboxStore } from '../store.js';
import { openKeyIndex } from './keys.js';
import { acquireLock } from './lock.js';
import { FromQuoter, fromLine } from './quote.js';

export interface MboxOptions {
  /** How long to wait for another writer's lock, default 30 s. */
  readonly lockTimeoutMs?: number;
  /** fsync the mbox and its index (default true). */
  readonly fsync?: boolean;
}

/** An mbox store. */
export function createMbox(options: MboxOptions = {}): MailboxStore {
  const { lockTimeoutMs = 30_000, fsync = true } = options;

  async function deliver(path: string, message: Buffer | AsyncIterable<Uint8Array>, record: DeliveryRecord): Promise<DeliveryResult> {
    const target = mboxFile(path, record.folder);
    const hash = keyHash(record.key);
    await mkdir(dirname(target), { recursive: true, mode: 0o700 });

    const lock = await acquireLock(target, lockTimeoutMs);
    try {
      // Delivered before? (The index also undoes a delivery that died half way.)
      const index = await openKeyIndex(target, fsync);
      const earlier = index.delivered(hash);
      if (earlier !== undefined) return { stored: false, file: target, size: earlier };
      await record.beforeWrite?.();

      // Append, announced in the index first.
      const file = await open(target, 'a', 0o600);
      let size = 0;
      try {
        await index.record(`P ${hash} ${(await file.stat()).size}`);
        const quoter = new FromQuoter();
        let first = true;
        for await (const chunk of chunksOf(message)) {
          if (first) await writeAll(file, fromLine(record.sender ?? returnPath(chunk), new Date()));
          first = false;
          await writeAll(file, Buffer.concat(quoter.push(chunk)));
          size += chunk.byteLength;
        }
        if (first) await writeAll(file, fromLine(record.sender ?? '', new Date()));
        await writeAll(file, Buffer.concat(quoter.end()));
        await writeAll(file, Buffer.from(quoter.last === 0x0a ? '\n' : '\n\n'));
        if (fsync) await file.sync();
      } finally {
        await file.close();
      }
      await index.record(`D ${hash} ${size}`);
      return { stored: true, file: target, size };
    } finally {
      await lock.release();
    }
  }

  return { deliver };
}

/** The mbox file of a folder. */
function mboxFile(path: string, folder: string | null): string {
  if (folder === null) return path;
  assertFolder(folder);
  return join(dirname(path), 'mail', folder);
}

/** The sender in a Return-Path field at the start of the message, or '' for none. */
function returnPath(head: Uint8Array): string {
  const text = Buffer.from(head.buffer, head.byteOffset, Math.min(head.byteLength, 1024)).toString('latin1');
  return /^Return-Path:[ \t]*<([^>\r\n]*)>/i.exec(text)?.[1] ?? '';
}
