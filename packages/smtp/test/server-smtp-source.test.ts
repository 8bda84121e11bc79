/**
 * The Mailway server against Postfix's `smtp-source`, a C load generator, on 127.0.0.1.
 *
 * Proves: 200 messages from 5 parallel sessions arrive, every one complete and with
 * smtp-source's exact payload, whether each message gets its own connection or (-d) one
 * connection carries many; with several recipients per message (-r); over LMTP (-L), where each
 * message is answered once per recipient; and a pre-formatted file (-F) arrives byte for byte
 * after smtp-source's own dot-stuffing. smtp-source speaks HELO (no ESMTP), waits for each
 * reply, and resets the connection right after QUIT, so this also exercises those paths.
 *
 * Skipped when /usr/sbin/smtp-source is not installed (Debian package `postfix`).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { reject, type ServerOptions } from '../src/server/index.js';
import { textCorpus } from './corpus.js';
import { startServer, type TestServer } from './support/server.js';

const SMTP_SOURCE = '/usr/sbin/smtp-source';
const missing = !existsSync(SMTP_SOURCE);
if (missing) console.warn(`${SMTP_SOURCE} not found (install the Debian package "postfix"): smtp-source tests skipped`);

interface SourceRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs smtp-source with `args` against 127.0.0.1:port. */
function smtpSource(port: number, args: readonly string[], timeoutMs = 60_000): Promise<SourceRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(SMTP_SOURCE, [...args, `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('latin1')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('latin1')));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * The body smtp-source sends for `-l length`: `length` octets of X in which every 80-octet line
 * that ends strictly before `length` is turned into a digit (the line number mod 10), 77 X and
 * CRLF; the rest stays X (so `-l 80` is 80 X). Then one CRLF of its own, then the final dot.
 */
function payload(length: number): Buffer {
  const fullLines = Math.floor((length - 1) / 80);
  let text = '';
  for (let n = 1; n <= fullLines; n += 1) text += `${n % 10}${'X'.repeat(77)}\r\n`;
  text += 'X'.repeat(length - fullLines * 80);
  return Buffer.from(`${text}\r\n`);
}

/** Splits a received message at the end of its header. */
function split(body: Buffer): { header: string; body: Buffer } {
  const end = body.indexOf('\r\n\r\n');
  return { header: body.subarray(0, end + 2).toString('latin1'), body: body.subarray(end + 4) };
}

const headerPattern = /^From: <from@example\.org>\r\nTo: <to@mx\.test>\r\nDate: [^\r\n]+\r\nMessage-Id: <[^\r\n]+>\r\n$/;

let current: TestServer | null = null;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailway-smtp-source-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

afterEach(async () => {
  await current?.close();
  current = null;
});

async function start(options: ServerOptions = {}): Promise<TestServer> {
  current = await startServer(options);
  return current;
}

describe.skipIf(missing)('smtp-source against the Mailway server', () => {
  it.each([
    ['SMTP, one connection per message', [], false],
    ['SMTP, many messages per connection (-d)', ['-d'], false],
    ['SMTP with a running counter (-c)', ['-c'], false],
    ['SMTP, -d and -c', ['-d', '-c'], false],
    ['LMTP, one connection per message (-L)', ['-L'], true],
    ['LMTP, many messages per connection (-L -d)', ['-L', '-d'], true],
  ] as const)('%s: 200 messages from 5 sessions, all complete', async (_name, flags, lmtp) => {
    const server = await start({ lmtp });

    const run = await smtpSource(server.port, [...flags, '-s', '5', '-m', '200', '-l', '2048', '-f', 'from@example.org', '-t', 'to@mx.test']);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    if ((flags as readonly string[]).includes('-c')) expect(run.stdout.split(/[\r\n]+/).filter(Boolean).at(-1)).toBe('200');
    expect(server.received).toHaveLength(200);
    const expected = payload(2048);
    expect(expected.length).toBe(2050);
    for (const m of server.received) {
      expect(m.from).toBe('from@example.org');
      expect(m.to).toEqual(['to@mx.test']);
      const { header, body } = split(m.body);
      expect(header).toMatch(headerPattern);
      expect(body.equals(expected)).toBe(true);
    }
    // Every message is distinct (smtp-source numbers its Message-Ids).
    expect(new Set(server.received.map((m) => split(m.body).header)).size).toBe(200);
  });

  it.each([
    ['SMTP', false],
    ['LMTP', true],
  ] as const)('%s with 3 recipients per message (-r 3)', async (_name, lmtp) => {
    const server = await start({ lmtp });

    const run = await smtpSource(server.port, [...(lmtp ? ['-L'] : []), '-d', '-s', '2', '-m', '40', '-r', '3', '-l', '100', '-f', 'from@example.org', '-t', 'to@mx.test']);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(server.received).toHaveLength(40);
    for (const m of server.received) {
      expect(m.to).toHaveLength(3);
      expect(new Set(m.to).size).toBe(3);
      expect(m.to).toContain('to@mx.test');
      expect(split(m.body).body.equals(payload(100))).toBe(true);
    }
  });

  it.each([1, 78, 79, 80, 81, 160, 65_536])('-l %i: the payload arrives exactly, line boundaries included', async (length) => {
    const server = await start();

    const run = await smtpSource(server.port, ['-m', '2', '-l', String(length), '-f', 'from@example.org', '-t', 'to@mx.test']);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(server.received).toHaveLength(2);
    for (const m of server.received) expect(split(m.body).body.equals(payload(length))).toBe(true);
  });

  it.each(textCorpus.map((m) => [m.name, m] as const))('-F with the "%s" message arrives byte for byte', async (name, message) => {
    const server = await start();
    // smtp-source reads the file as lines (LF), stuffs leading dots and ends each line with CRLF.
    const file = join(dir, `${name.replace(/\W+/g, '-')}.txt`);
    const bytes = message.bytes ?? Buffer.alloc(0);
    await writeFile(file, Buffer.from(bytes.toString('latin1').replace(/\r\n/g, '\n'), 'latin1'));

    const run = await smtpSource(server.port, ['-F', file, '-m', '2', '-f', 'from@example.org', '-t', 'to@mx.test']);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(server.received).toHaveLength(2);
    // smtp-source ends its payload with one CRLF of its own, after the file's last line.
    const expected = Buffer.concat([bytes, Buffer.from('\r\n')]);
    for (const m of server.received) expect(m.body.equals(expected)).toBe(true);
  });

  it('a server refusing the recipient makes smtp-source fail, and with -A go on to the end', async () => {
    const server = await start({
      hooks: { onRcptTo: () => reject(550, '5.1.1', 'No such user here') },
    });

    const strict = await smtpSource(server.port, ['-m', '3', '-f', 'from@example.org', '-t', 'to@mx.test']);
    const lenient = await smtpSource(server.port, ['-A', '-m', '3', '-f', 'from@example.org', '-t', 'to@mx.test']);

    expect(strict.code).not.toBe(0);
    expect(strict.stderr).toContain('550 5.1.1 No such user here');
    expect(lenient.code).toBe(0);
    expect(server.received).toEqual([]);
  });
});
