/** Message bytes the tests deliver: plain, dotted, 8-bit, binary, and From-heavy. */
import { tmpdir } from 'node:os';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';

export const plain = Buffer.from('Return-Path: <alice@example.org>\r\nSubject: hi\r\n\r\nHello.\r\n');

/** Cases for byte-exact round trips. */
export function samples(): { name: string; bytes: Buffer }[] {
  const binary = Buffer.alloc(70_000);
  for (let i = 0; i < binary.length; i += 1) binary[i] = (i * 131 + (i >> 7)) & 0xff;
  // Every message ends with a line break (mboxrd cannot keep a missing one).
  binary.write('\r\n', binary.length - 2, 'latin1');
  return [
    { name: 'plain', bytes: plain },
    { name: 'dots', bytes: Buffer.from('Subject: dots\r\n\r\n.\r\n..\r\n.hidden\r\n...\r\nend\r\n') },
    { name: '8-bit', bytes: Buffer.from('Subject: =?utf-8?q?caf=C3=A9?=\r\n\r\nCafé, naïve, 日本語, \xff\xfe raw\r\n', 'utf8') },
    { name: 'binary', bytes: binary },
    { name: 'From lines', bytes: Buffer.from('Subject: f\r\n\r\nFrom here\r\n>From there\r\n>>From afar\r\nFrom\r\n>From\r\n From x\r\nFrom the end\r\n') },
  ];
}

/** Yields `bytes` in pieces of the given sizes (cycled), as a network stream would. */
export async function* pieces(bytes: Buffer, sizes: number[] = [1, 3, 7, 1000]): AsyncGenerator<Uint8Array> {
  let offset = 0;
  for (let i = 0; offset < bytes.length; i += 1) {
    const size = sizes[i % sizes.length]!;
    yield new Uint8Array(bytes.subarray(offset, offset + size));
    offset += size;
  }
}

/** A fresh temporary directory and its removal. */
export async function tempDir(): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'mailway-mailbox-'));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}
