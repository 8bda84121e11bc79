/**
 * Pipelining-free SMTP load generator for any server on a loopback port: raw sockets, no SMTP library.
 *
 * Reads LoadOptions (run as a script: one JSON object in argv[2]); emits a LoadResult (the script
 * prints it as one JSON line, NaN as null). `clients` sessions each read the greeting, send EHLO,
 * optionally STARTTLS (certificate not checked) and EHLO again, optionally AUTH PLAIN, then loop
 * MAIL FROM, RCPT TO, DATA, message, each command waiting for its reply. The clock starts when
 * every session is ready. Timed runs count a message once its final 250 lands inside the
 * measuring window after the warm-up; counted runs send exactly `messages` messages and measure
 * them all. A message's latency runs from writing MAIL FROM to reading that 250.
 *
 * With `stamp`, each message's first header line carries a sequence number unique in the run and
 * the wall-clock time its MAIL FROM was written (see readStamp), so that an end-to-end bench can
 * match the delivered copy to its submission. The message keeps its size.
 *
 * A session that meets an unexpected reply, an error or 30 s of silence is dropped and counted
 * in `errors`; the others carry on.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import { pathToFileURL } from 'node:url';
import { type LoadFigures, rateFigures } from './stats.js';

interface CommonOptions {
  readonly port: number;
  readonly host?: string;
  readonly clients: number;
  /** Message size in bytes, header and body, without the terminating dot line. */
  readonly size: number;
  /** AUTH PLAIN after EHLO (after STARTTLS when `tls` is set, else on the plaintext connection). */
  readonly auth?: { readonly user: string; readonly pass: string };
  /** STARTTLS before anything else; the server's certificate is not verified. */
  readonly tls?: boolean;
  readonly from?: string;
  readonly to?: string;
  /** Put a stamp header (sequence number, time sent) first in every message. */
  readonly stamp?: boolean;
}

/** Send until `durationMs` after a `warmupMs` warm-up. */
export interface TimedLoad extends CommonOptions {
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly messages?: undefined;
}

/** Send exactly `messages` messages in all, measuring from the first to the last. */
export interface CountedLoad extends CommonOptions {
  readonly messages: number;
  readonly durationMs?: undefined;
  readonly warmupMs?: undefined;
}

export type LoadOptions = TimedLoad | CountedLoad;

/** `messages`: accepted inside the measuring window (counted runs: all accepted). */
export interface LoadResult extends LoadFigures {
  /** Every message the server accepted, warm-up and overrun included: what it should have queued. */
  readonly accepted: number;
}

const replyTimeoutMs = 30_000;
const maxReplyBytes = 4096;

/** A complete SMTP reply: its code and its last line. */
interface Reply {
  readonly code: number;
  readonly line: string;
}

/** One SMTP connection that hands out whole replies, one `next()` at a time. */
class ReplyStream {
  private socket: net.Socket;
  private pending = '';
  private readonly replies: Reply[] = [];
  private waiter: { resolve(reply: Reply): void; reject(error: Error): void } | null = null;
  private failure: Error | null = null;

  constructor(port: number, host: string) {
    this.socket = net.connect({ port, host });
    this.attach(this.socket);
  }

  /** Write a command line. */
  write(text: string | Buffer): void {
    this.socket.write(text);
  }

  /** The next reply, as soon as it is complete. */
  next(): Promise<Reply> {
    const reply = this.replies.shift();
    if (reply) return Promise.resolve(reply);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /** Hand the connection to TLS; anything buffered from before is discarded (RFC 3207). */
  async startTls(): Promise<void> {
    const plain = this.socket;
    this.detach(plain);
    this.pending = '';
    this.replies.length = 0;
    const secure = tls.connect({ socket: plain, rejectUnauthorized: false });
    this.socket = secure;
    this.attach(secure);
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
  }

  /** Close politely. */
  end(): void {
    this.failure ??= new Error('closed');
    this.socket.end();
  }

  /** Drop the connection. */
  destroy(): void {
    this.failure ??= new Error('closed');
    this.socket.destroy();
  }

  private attach(socket: net.Socket): void {
    socket.setNoDelay(true);
    socket.setTimeout(replyTimeoutMs);
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('timeout', this.onTimeout);
    socket.on('close', this.onClose);
  }

  private detach(socket: net.Socket): void {
    socket.setTimeout(0);
    socket.off('data', this.onData);
    socket.off('error', this.onError);
    socket.off('timeout', this.onTimeout);
    socket.off('close', this.onClose);
  }

  /** Split replies off the byte stream: a reply ends at a line whose fourth character is not `-`. */
  private readonly onData = (chunk: Buffer): void => {
    this.pending += chunk.toString('latin1');
    let start = 0;
    for (let eol = this.pending.indexOf('\r\n'); eol >= 0; eol = this.pending.indexOf('\r\n', start)) {
      const line = this.pending.slice(start, eol);
      start = eol + 2;
      if (line.charAt(3) === '-') continue;
      const code = /^[2-5]\d\d$/.test(line.slice(0, 3)) ? Number(line.slice(0, 3)) : 0;
      this.deliver({ code, line });
    }
    this.pending = this.pending.slice(start);
    if (this.pending.length > maxReplyBytes) this.fail(new Error('reply line too long'));
  };

  private readonly onError = (error: Error): void => this.fail(error);
  private readonly onTimeout = (): void => this.fail(new Error(`no reply within ${replyTimeoutMs / 1000} s`));
  private readonly onClose = (): void => this.fail(new Error('connection closed by server'));

  private deliver(reply: Reply): void {
    const waiter = this.waiter;
    this.waiter = null;
    if (waiter) waiter.resolve(reply);
    else this.replies.push(reply);
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    this.socket.destroy();
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.reject(error);
  }
}

/** Send a command (or message) and require a reply code. */
async function exchange(stream: ReplyStream, text: string | Buffer, expect: number, what: string): Promise<void> {
  stream.write(text);
  const reply = await stream.next();
  if (reply.code !== expect) throw new Error(`${what}: ${reply.line}`);
}

/** Greeting, EHLO, and the optional STARTTLS and AUTH PLAIN. */
async function open(stream: ReplyStream, options: LoadOptions): Promise<void> {
  const greeting = await stream.next();
  if (greeting.code !== 220) throw new Error(`greeting: ${greeting.line}`);
  const ehlo = 'EHLO loadgen.bench.invalid\r\n';
  await exchange(stream, ehlo, 250, 'EHLO');
  if (options.tls) {
    await exchange(stream, 'STARTTLS\r\n', 220, 'STARTTLS');
    await stream.startTls();
    await exchange(stream, ehlo, 250, 'EHLO after STARTTLS');
  }
  if (options.auth) {
    const token = Buffer.from(`\0${options.auth.user}\0${options.auth.pass}`, 'utf8').toString('base64');
    await exchange(stream, `AUTH PLAIN ${token}\r\n`, 235, 'AUTH PLAIN');
  }
}

/** Name of the stamp header; its value is fixed-width so that stamping keeps the message size. */
export const stampHeader = 'X-Mailway-Bench';
const stampWidth = `${stampHeader}: `.length + 10 + 1 + 17 + 2;

/** A stamp header line: the sequence number and the wall-clock send time in ms since the epoch. */
function stampLine(seq: number, sentAtMs: number): string {
  return `${stampHeader}: ${String(seq).padStart(10, '0')} ${sentAtMs.toFixed(3).padStart(17, '0')}\r\n`;
}

/** The stamp in a delivered message's text (its header block), or null when it has none. */
export function readStamp(text: string): { readonly seq: number; readonly sentAtMs: number } | null {
  const match = new RegExp(`^${stampHeader}: (\\d{10}) ([\\d.]{17})\\r?$`, 'm').exec(text);
  return match ? { seq: Number(match[1]), sentAtMs: Number(match[2]) } : null;
}

/**
 * A plain-text message of exactly `size` bytes, then the end-of-data line. No line starts with a dot.
 * With `stamped`, the message opens with a placeholder stamp line for stamp() to overwrite.
 */
export function buildMessage(size: number, from: string, to: string, stamped = false): Buffer {
  const first = stamped ? stampLine(0, 0) : '';
  const header = `${first}From: <${from}>\r\nTo: <${to}>\r\nSubject: bench\r\nDate: Thu, 1 Jan 2026 00:00:00 +0000\r\nMessage-ID: <bench@loadgen.bench.invalid>\r\n\r\n`;
  const line = 'The quick brown fox jumps over the lazy dog. 0123456789 abcdefghijklmnopqrst\r\n';
  let text = header;
  while (text.length + line.length <= size) text += line;
  text += `${'x'.repeat(Math.max(0, size - text.length - 2))}\r\n`;
  return Buffer.from(`${text}.\r\n`, 'latin1');
}

/** A copy of a stamped message (see buildMessage) with its stamp line filled in. */
export function stamp(message: Buffer, seq: number, sentAtMs: number): Buffer {
  const copy = Buffer.from(message);
  copy.write(stampLine(seq, sentAtMs), 0, stampWidth, 'latin1');
  return copy;
}

/** Drive `clients` sessions through warm-up and the measuring window; resolves when all have ended. */
export async function runLoadgen(options: LoadOptions): Promise<LoadResult> {
  if (!Number.isInteger(options.clients) || options.clients < 1) throw new Error('clients must be a positive integer');
  const counted = options.messages !== undefined;
  if (counted && (!Number.isInteger(options.messages) || options.messages < 1)) throw new Error('messages must be a positive integer');
  const host = options.host ?? '127.0.0.1';
  const from = options.from ?? 'sender@bench.invalid';
  const to = options.to ?? 'rcpt@bench.invalid';
  const commands = { mail: `MAIL FROM:<${from}>\r\n`, rcpt: `RCPT TO:<${to}>\r\n`, data: 'DATA\r\n' };
  const message = buildMessage(options.size, from, to, options.stamp);
  const latencies: number[] = [];
  let accepted = 0;
  let claimed = 0;
  let lastAccepted = 0;
  let errors = 0;
  let firstError: string | null = null;

  // The window opens once every session is ready or has failed, so it measures full load.
  let windowStart = Number.POSITIVE_INFINITY;
  let windowEnd = Number.POSITIVE_INFINITY;
  let settled = 0;
  let release = (): void => {};
  const allReady = new Promise<void>((resolve) => (release = resolve));
  const settle = (): void => {
    settled += 1;
    if (settled < options.clients) return;
    windowStart = performance.now() + (options.warmupMs ?? 0);
    windowEnd = options.durationMs === undefined ? Number.POSITIVE_INFINITY : windowStart + options.durationMs;
    release();
  };
  // A counted run stops once every message is claimed; a timed one when its window closes.
  const more = (): boolean => (counted ? claimed < (options.messages ?? 0) : performance.now() < windowEnd);

  const session = async (): Promise<void> => {
    const stream = new ReplyStream(options.port, host);
    let ready = false;
    try {
      await open(stream, options);
      ready = true;
      settle();
      await allReady;

      // Transactions until the window has closed or every message is sent.
      while (more()) {
        claimed += 1;
        const started = performance.now();
        const body = options.stamp ? stamp(message, claimed, performance.timeOrigin + started) : message;
        await exchange(stream, commands.mail, 250, 'MAIL');
        await exchange(stream, commands.rcpt, 250, 'RCPT');
        await exchange(stream, commands.data, 354, 'DATA');
        await exchange(stream, body, 250, 'end of data');
        const now = performance.now();
        accepted += 1;
        lastAccepted = now;
        if (now >= windowStart && now <= windowEnd) latencies.push(now - started);
      }
      await exchange(stream, 'QUIT\r\n', 221, 'QUIT');
      stream.end();
    } catch (error) {
      errors += 1;
      firstError ??= error instanceof Error ? error.message : String(error);
      stream.destroy();
      if (!ready) settle();
    }
  };
  await Promise.all(Array.from({ length: options.clients }, session));

  const seconds = options.durationMs === undefined ? Math.max(0, lastAccepted - windowStart) / 1000 : options.durationMs / 1000;
  return { messages: latencies.length, ...rateFigures(latencies, seconds), errors, firstError, accepted };
}

// Run as a script, so that the load runs in a process of its own: options in, one JSON line out.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runLoadgen(JSON.parse(process.argv[2] ?? '{}') as LoadOptions).then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`loadgen: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
