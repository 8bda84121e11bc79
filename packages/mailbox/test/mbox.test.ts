import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MailboxLockedError, createMbox, mailboxUsage } from '../src/index.js';
import { keyHash } from '../src/files.js';
import { FromQuoter, asctime } from '../src/mbox/quote.js';
import { readMbox } from './support/mbox-reader.js';
import { pieces, plain, samples, tempDir } from './support/messages.js';

let dir: { path: string; remove(): Promise<void> };
let mbox: string;
beforeEach(async () => {
  dir = await tempDir();
  mbox = join(dir.path, 'example.org', 'bob', 'mbox');
});
afterEach(() => dir.remove());

const store = createMbox({ lockTimeoutMs: 2_000 });
const record = (key: string, folder: string | null = null) => ({ key, folder });

describe('mbox delivery', () => {
  it('round-trips every sample through mboxrd quoting, whole and streamed', async () => {
    const cases = samples();
    for (const { name, bytes } of cases) {
      await store.deliver(mbox, bytes, record(`${name}-whole`));
      await store.deliver(mbox, pieces(bytes), record(`${name}-streamed`));
    }
    const messages = readMbox(await readFile(mbox));
    expect(messages).toHaveLength(cases.length * 2);
    cases.forEach(({ bytes }, i) => {
      expect(messages[2 * i]!.body.equals(bytes)).toBe(true);
      expect(messages[2 * i + 1]!.body.equals(bytes)).toBe(true);
    });
  });

  it('quotes >*From lines by one more >, however the chunks fall', () => {
    const text = Buffer.from('From a\n>From b\n>>From c\nFrom\nFro\nx From d\n>>>From e');
    const expected = '>From a\n>>From b\n>>>From c\nFrom\nFro\nx From d\n>>>>From e';
    for (const size of [1, 2, 3, 5, 100]) {
      const quoter = new FromQuoter();
      const out: Buffer[] = [];
      for (let i = 0; i < text.length; i += size) out.push(...quoter.push(text.subarray(i, i + size)));
      out.push(...quoter.end());
      expect(Buffer.concat(out).toString()).toBe(expected);
    }
  });

  it('writes the From_ line from the sender or the Return-Path field, and a blank line after', async () => {
    await store.deliver(mbox, plain, record('a'));
    await store.deliver(mbox, Buffer.from('Subject: bounce\r\n\r\nx\r\n'), { ...record('b'), sender: '' });
    await store.deliver(mbox, Buffer.from('Subject: no newline'), { ...record('c'), sender: 'carol@example.org' });
    const text = (await readFile(mbox)).toString('latin1');
    const lines = text.split('\n').filter((line) => line.startsWith('From '));
    expect(lines[0]).toMatch(/^From alice@example\.org (Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/);
    expect(lines[1]).toMatch(/^From MAILER-DAEMON /);
    expect(lines[2]).toMatch(/^From carol@example\.org /);
    expect(text.endsWith('Subject: no newline\n\n')).toBe(true);
    expect(text).toContain('Hello.\r\n\nFrom MAILER-DAEMON');
    expect(asctime(new Date(Date.UTC(1993, 5, 3, 21, 49, 8)))).toBe('Thu Jun  3 21:49:08 1993');
  });

  it('puts a folder delivery into mail/<folder> beside the mbox', async () => {
    await store.deliver(mbox, plain, record('a', 'lists'));
    expect(readMbox(await readFile(join(dirname(mbox), 'mail', 'lists')))).toHaveLength(1);
    await expect(store.deliver(mbox, plain, record('b', '..'))).rejects.toBeInstanceOf(TypeError);
  });

  it('counts usage as the size of the mbox and its folders', async () => {
    expect(await mailboxUsage(mbox, 'mbox')).toBe(0);
    await store.deliver(mbox, plain, record('a'));
    await store.deliver(mbox, plain, record('b', 'lists'));
    const sizes = await Promise.all([readFile(mbox), readFile(join(dirname(mbox), 'mail', 'lists'))]);
    expect(await mailboxUsage(mbox, 'mbox')).toBe(sizes[0].length + sizes[1].length);
  });
});

describe('mbox checks before writing', () => {
  it('run beforeWrite only when the key has no copy, and a refusal appends nothing', async () => {
    let calls = 0;
    const check = async (): Promise<void> => {
      calls += 1;
    };
    await store.deliver(mbox, plain, { ...record('checked'), beforeWrite: check });
    await store.deliver(mbox, plain, { ...record('checked'), beforeWrite: check });
    expect(calls).toBe(1);
    const size = (await readFile(mbox)).length;
    const refuse = async (): Promise<void> => {
      throw new Error('no room');
    };
    await expect(store.deliver(mbox, plain, { ...record('refused'), beforeWrite: refuse })).rejects.toThrow('no room');
    expect((await readFile(mbox)).length).toBe(size);
  });
});

describe('mbox exactly once', () => {
  it('does not append a key twice', async () => {
    expect(await store.deliver(mbox, plain, record('job-1'))).toMatchObject({ stored: true, size: plain.length, file: mbox });
    expect(await store.deliver(mbox, plain, record('job-1'))).toMatchObject({ stored: false, size: plain.length, file: mbox });
    expect(readMbox(await readFile(mbox))).toHaveLength(1);
  });

  it.each([
    { state: 'died after announcing, before appending', partial: 0 },
    { state: 'died half way through the message', partial: 30 },
    { state: 'died after appending, before recording it', partial: -1 },
  ])('$state: the next delivery cuts it off and the retry stores it once', async ({ partial }) => {
    // One finished delivery, then the crashed one, written by hand (its lock is stale: no such pid).
    await store.deliver(mbox, plain, record('before'));
    const before = await readFile(mbox);
    const crashed = Buffer.concat([Buffer.from('From alice@example.org Thu Jun  3 21:49:08 1993\n'), plain, Buffer.from('\n')]);
    await writeFile(mbox, Buffer.concat([before, partial < 0 ? crashed : crashed.subarray(0, partial)]));
    await writeFile(`${mbox}.keys`, `${await readFile(`${mbox}.keys`, 'utf8')}P ${keyHash('job-1')} ${before.length}\n`);
    await writeFile(`${mbox}.lock`, `999999999 ${(await import('node:os')).hostname()}\n`);

    // Another message first, then the retry.
    expect(await store.deliver(mbox, plain, record('other'))).toMatchObject({ stored: true });
    expect(await store.deliver(mbox, plain, record('job-1'))).toMatchObject({ stored: true });
    expect(await store.deliver(mbox, plain, record('job-1'))).toMatchObject({ stored: false });
    const messages = readMbox(await readFile(mbox));
    expect(messages).toHaveLength(3);
    for (const message of messages) expect(message.body.equals(plain)).toBe(true);
    expect(await readdir(dirname(mbox))).not.toContain('mbox.lock');
  });

  it('waits for a live lock, then gives up with MailboxLockedError', async () => {
    await mkdir(dirname(mbox), { recursive: true });
    await writeFile(`${mbox}.lock`, `${process.pid} ${(await import('node:os')).hostname()}\n`);
    await expect(createMbox({ lockTimeoutMs: 100 }).deliver(mbox, plain, record('a'))).rejects.toBeInstanceOf(MailboxLockedError);
  });

  it('two writer processes at once: every message intact, none interleaved', async () => {
    const packageDir = dirname(dirname(fileURLToPath(import.meta.url)));
    const child = join(packageDir, 'test', 'support', 'mbox-writer.ts');
    const run = (tag: string) => {
      const proc = spawn(process.execPath, ['--import', 'tsx', '--conditions=@mailway/source', child, mbox, tag, '40'], {
        cwd: packageDir,
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      return once(proc, 'exit');
    };
    const [[a], [b]] = await Promise.all([run('one'), run('two')]);
    expect([a, b]).toEqual([0, 0]);
    const messages = readMbox(await readFile(mbox));
    expect(messages).toHaveLength(80);
    for (const tag of ['one', 'two']) {
      for (let i = 0; i < 40; i += 1) {
        const body = Buffer.from(`Subject: ${tag} ${i}\r\n\r\n${`From ${tag} line ${i}\r\n`.repeat(200)}`);
        expect(messages.filter((m) => m.body.equals(body))).toHaveLength(1);
      }
    }
  });
});
