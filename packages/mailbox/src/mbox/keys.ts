/**
 * The key index beside an mbox (`path.keys`): the exactly-once record of its deliveries, read
 * and written only under the mbox's dot-lock. One line per step:
 *
 *     P <hash> <offset>   about to append at <offset> (the mbox size before)
 *     D <hash> <size>     appended and fsynced
 *
 * A `P` line as the last line means its writer died mid-delivery: whatever it appended after
 * <offset> is cut off again (the job was not acknowledged and will be retried), so a message
 * is either in the mbox with its `D` line or not at all. The index keeps its last lines only:
 * retries come within hours, not after thousands of deliveries.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, stat, truncate } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fsyncDirectory, writeAll } from '@mailway/files/durable';
import { isCode } from '../files.js';

const keepLines = 1000;

export interface KeyIndex {
  /** The size recorded for a delivered key hash, or undefined. */
  delivered(hash: string): number | undefined;
  /** Records a step, fsynced. */
  record(line: string): Promise<void>;
}

/** Reads the index of `mbox` and undoes a delivery its writer did not finish. */
export async function openKeyIndex(mbox: string, fsync: boolean): Promise<KeyIndex> {
  const path = `${mbox}.keys`;
  let lines = (await readText(path)).split('\n').filter((line) => line !== '');

  // Recovery: a trailing P line is a delivery that never finished.
  const last = lines[lines.length - 1]?.split(' ');
  if (last?.[0] === 'P' && last[2] !== undefined) {
    const offset = Number(last[2]);
    const size = (await stat(mbox).catch(() => null))?.size ?? 0;
    if (size > offset) await truncate(mbox, offset);
    lines = lines.slice(0, -1);
    await rewrite(path, lines, fsync);
  } else if (lines.length > 2 * keepLines) {
    lines = lines.slice(-keepLines);
    await rewrite(path, lines, fsync);
  }

  const done = new Map<string, number>();
  for (const line of lines) {
    const [step, hash, size] = line.split(' ');
    if (step === 'D' && hash !== undefined) done.set(hash, Number(size));
  }
  return {
    delivered: (hash) => done.get(hash),
    async record(line) {
      const file = await open(path, 'a', 0o600);
      try {
        await writeAll(file, Buffer.from(`${line}\n`));
        if (fsync) await file.sync();
      } finally {
        await file.close();
      }
    },
  };
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (isCode(error, 'ENOENT')) return '';
    throw error;
  }
}

/** Replaces the index atomically. */
async function rewrite(path: string, lines: string[], fsync: boolean): Promise<void> {
  const temp = `${path}.${randomBytes(6).toString('hex')}`;
  const file = await open(temp, 'wx', 0o600);
  try {
    await writeAll(file, Buffer.from(lines.map((line) => `${line}\n`).join('')));
    if (fsync) await file.sync();
  } finally {
    await file.close();
  }
  await rename(temp, path);
  if (fsync) await fsyncDirectory(dirname(path));
}
