/**
 * Postfix's `smtp-sink` as a test peer: start it on a free loopback port, read what it dumped,
 * always stop it.
 *
 * Reads: options mapped to smtp-sink flags (LMTP, hidden extensions).
 * Emits: a running `SmtpSink` with its port, its dump directory, `takeMessages()` returning the
 * message bytes of new dump files with smtp-sink's own additions removed, and `stop()`, which
 * kills the process (SIGTERM, then SIGKILL) and removes the directory. Register `stop` in
 * `afterAll`; a process is also killed if the test process exits.
 *
 * Dump format (man smtp-sink): smtp-sink writes text lines ending in LF, not CRLF; it first
 * writes `X-Client-Addr`, `X-Client-Proto`, `X-Helo-Args`, `X-Mail-Args`, `X-Rcpt-Args` records
 * and a three-line `Received:` header, then the message as received (dot-unstuffed, each CRLF
 * turned into LF), then one empty line. `takeMessages` strips exactly those additions and turns
 * LF back into CRLF, so a message with CRLF line endings compares byte for byte.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type SinkProcess, smtpSinkPath, spawnSmtpSink } from '@mailway/testing/smtp-sink';
import { freePort } from './free-port.js';

/** Whether smtp-sink is installed here (tests skip otherwise). */
export const hasSmtpSink = smtpSinkPath !== null;

export interface SmtpSinkOptions {
  /** Speak LMTP (-L). */
  readonly lmtp?: boolean;
  /** Do not announce 8BITMIME (-8). */
  readonly no8BitMime?: boolean;
  /** Do not announce PIPELINING (-p). */
  readonly noPipelining?: boolean;
  /** Commands to reject with 4xx (-r), e.g. ['RCPT']. */
  readonly softReject?: readonly string[];
  /** Commands to reject with 5xx (-f). */
  readonly hardReject?: readonly string[];
  /** More raw flags. */
  readonly extraArgs?: readonly string[];
}

export interface DumpedMessage {
  /** The file name in the dump directory. */
  readonly file: string;
  /** smtp-sink's envelope records (`X-Mail-Args`, `X-Rcpt-Args`, …), in order. */
  readonly records: ReadonlyArray<readonly [string, string]>;
  /** The message, with smtp-sink's additions removed and CRLF line endings restored. */
  readonly body: Buffer;
}

export interface SmtpSink {
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  /** Dump files not returned before, oldest first, waiting up to `timeoutMs` for `count` of them. */
  takeMessages(count?: number, timeoutMs?: number): Promise<DumpedMessage[]>;
  stop(): Promise<void>;
}

/** Spawn smtp-sink on 127.0.0.1 and wait until it accepts connections. */
export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  // Flags.
  const flags: string[] = [];
  if (options.lmtp) flags.push('-L');
  if (options.no8BitMime) flags.push('-8');
  if (options.noPipelining) flags.push('-p');
  if (options.softReject?.length) flags.push('-r', options.softReject.join(','));
  if (options.hardReject?.length) flags.push('-f', options.hardReject.join(','));
  flags.push(...(options.extraArgs ?? []));

  // Start, retrying when the port was taken in between.
  for (let attempt = 0; ; attempt += 1) {
    const port = await freePort();
    try {
      return makeSink(await spawnSmtpSink('127.0.0.1', port, flags), port);
    } catch (error) {
      if (attempt < 3) continue;
      throw error;
    }
  }
}

function makeSink({ dir, stop }: SinkProcess, port: number): SmtpSink {
  const seen = new Set<string>();
  return {
    host: '127.0.0.1',
    port,
    dir,
    async takeMessages(count = 1, timeoutMs = 5_000) {
      // Wait for the files, and for the last one to stop growing.
      const deadline = Date.now() + timeoutMs;
      let fresh: string[] = [];
      for (;;) {
        fresh = (await readdir(dir)).filter((f) => !seen.has(f)).sort();
        if (fresh.length >= count || Date.now() > deadline) break;
        await sleep(20);
      }
      const out: DumpedMessage[] = [];
      for (const file of fresh) {
        await settled(join(dir, file));
        seen.add(file);
        out.push(parseDump(file, await readFile(join(dir, file))));
      }
      return out;
    },
    stop,
  };
}

/** Split a dump file into smtp-sink's records and the message, undoing LF line endings. */
export function parseDump(file: string, dump: Buffer): DumpedMessage {
  // Records: `Name: value` lines up to the three-line Received header.
  const records: [string, string][] = [];
  let at = 0;
  for (;;) {
    const lf = dump.indexOf(0x0a, at);
    if (lf === -1) throw new Error(`${file}: no Received header`);
    const line = dump.toString('utf8', at, lf);
    at = lf + 1;
    const colon = line.indexOf(':');
    const name = line.slice(0, colon);
    records.push([name, line.slice(colon + 2)]);
    if (name === 'Received') break;
  }
  for (let i = 0; i < 2; i += 1) {
    if (dump[at] !== 0x09) throw new Error(`${file}: Received header is not three lines`);
    at = dump.indexOf(0x0a, at) + 1;
  }

  // Message: drop the final empty line, LF back to CRLF.
  if (dump[dump.length - 1] !== 0x0a) throw new Error(`${file}: dump does not end with LF`);
  const message = dump.subarray(at, dump.length - 1);
  return { file, records, body: lfToCrlf(message) };
}

/** Replace every LF with CRLF (the dump holds no CR of its own for CRLF-ended input). */
export function lfToCrlf(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  for (let lf = data.indexOf(0x0a); lf !== -1; lf = data.indexOf(0x0a, lf + 1)) {
    parts.push(data.subarray(start, lf), CRLF);
    start = lf + 1;
  }
  parts.push(data.subarray(start));
  return Buffer.concat(parts);
}
const CRLF = Buffer.from('\r\n');

/** Wait until a file's size is the same twice in a row. */
async function settled(path: string): Promise<void> {
  let last = -1;
  for (let i = 0; i < 100; i += 1) {
    const { size } = await stat(path);
    if (size === last) return;
    last = size;
    await sleep(10);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
