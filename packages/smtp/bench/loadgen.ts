/**
 * SMTP load generator for the bench: raw `net` sockets, no SMTP library.
 *
 * Reads one JSON job from argv[2]; emits one JSON result line on stdout. Runs in its own
 * process so that it never competes with the server under test for an event loop.
 *
 * `throughput` job: `clients` connections each read the greeting, send EHLO, then loop: write
 * MAIL FROM, RCPT TO and DATA in one segment (PIPELINING, as Postfix's smtp-source does), wait
 * for 250 250 354, write the dot-terminated message, wait for the 250. Messages whose 250 lands
 * inside the measuring window (after the warm-up) are counted; latency runs from writing MAIL
 * FROM to reading that 250.
 *
 * `idle` job: opens `count` connections (greeting + EHLO each), prints `{"established":…}`,
 * holds them until stdin says `close` (or ends), then closes them all and prints `{"closed":…}`.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { buildMessage } from '@mailway/bench-tools/loadgen';
import { type LoadFigures, rateFigures } from '@mailway/bench-tools/stats';

/** Measure messages per second and latency. */
export interface ThroughputJob {
  readonly mode: 'throughput';
  readonly port: number;
  readonly clients: number;
  /** Message size in bytes, header and body, without the terminating dot line. */
  readonly size: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** The server's pid, to read its CPU time over the measuring window (Linux /proc). */
  readonly serverPid?: number;
  /** Clock ticks per second of /proc/PID/stat times. */
  readonly clockTicks?: number;
}

/** Hold idle connections open. */
export interface IdleJob {
  readonly mode: 'idle';
  readonly port: number;
  readonly count: number;
  /** Connections being set up at once. */
  readonly parallel: number;
}

export type LoadJob = ThroughputJob | IdleJob;

export interface ThroughputResult extends LoadFigures {
  /** CPU used by this load generator over the window, in percent of one core. */
  readonly loadgenCpu: number;
  /** CPU used by the server over the window, in percent of one core; NaN when unknown. */
  readonly serverCpu: number;
}

export interface IdleResult {
  readonly established: number;
  readonly failed: number;
  readonly firstError: string | null;
}

const host = '127.0.0.1';
const envelope = Buffer.from('MAIL FROM:<sender@bench.local>\r\nRCPT TO:<rcpt@bench.local>\r\nDATA\r\n', 'latin1');
const ehlo = Buffer.from('EHLO loadgen.bench.local\r\n', 'latin1');
const quit = Buffer.from('QUIT\r\n', 'latin1');
const LF = 0x0a;
const HYPHEN = 0x2d;
// Every client reads into this buffer; each read is parsed before the next one lands.
const readBuffer = Buffer.allocUnsafe(64 * 1024);

/** The reply code at the start of the line input[start, end), or 0 when it does not start with one. */
function replyCode(input: Buffer, start: number, end: number): number {
  if (end - start < 3) return 0;
  const a = input[start]! - 0x30;
  const b = input[start + 1]! - 0x30;
  const c = input[start + 2]! - 0x30;
  if (!(a >= 2 && a <= 5 && b >= 0 && b <= 9 && c >= 0 && c <= 9)) return 0;
  return a * 100 + b * 10 + c;
}

/** A reply line's text, to report a failure. */
function lineText(input: Buffer, start: number, end: number): string {
  return input.toString('latin1', start, end).trimEnd();
}

/** Where a connection is in its conversation; each value names the reply awaited. */
const Phase = { Greeting: 0, Ehlo: 1, Mail: 2, Rcpt: 3, Data: 4, EndOfData: 5, Quit: 6, Done: 7 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

/** What a connection reports to its job. */
interface ClientEvents {
  ready(client: BenchClient): void;
  delivered(client: BenchClient, latencyMs: number, at: number): void;
  failed(client: BenchClient, reason: string): void;
}

/** One SMTP connection driven by replies: a small state machine, no promise per message. */
class BenchClient {
  phase: Phase = Phase.Greeting;
  /** Set once EHLO was answered. */
  isReady = false;
  private readonly socket: net.Socket;
  // A reply line split across reads: its first part, copied out of the shared read buffer.
  private partial: Buffer | null = null;
  private started = 0;

  constructor(port: number, private readonly message: Buffer | null, private readonly events: ClientEvents) {
    // Reads land in one shared buffer and go straight to onRead (Node's `onread`): the load
    // generator's own costs stay low, so that it is not what limits a fast server.
    this.socket = net.connect({
      port,
      host,
      noDelay: true,
      onread: {
        buffer: readBuffer,
        callback: (length) => {
          this.onRead(readBuffer.subarray(0, length));
          return true;
        },
      },
    });
    this.socket.on('error', (error) => this.fail(error.message));
    this.socket.on('close', () => {
      if (this.phase !== Phase.Done && this.phase !== Phase.Quit) this.fail('connection closed by server');
      this.phase = Phase.Done;
    });
  }

  /** Start the next transaction. */
  send(): void {
    if (this.message === null) return;
    this.phase = Phase.Mail;
    this.started = performance.now();
    this.socket.write(envelope);
  }

  /** Say QUIT and let the server close. */
  quit(): void {
    if (this.phase === Phase.Done) return;
    this.phase = Phase.Quit;
    this.socket.end(quit);
  }

  /** Drop the connection at once. */
  destroy(): void {
    this.phase = Phase.Done;
    this.socket.destroy();
  }

  /** Split replies off the byte stream: a reply ends at a line whose fourth octet is not `-`. */
  private onRead(read: Buffer): void {
    const input = this.partial === null ? read : Buffer.concat([this.partial, read]);
    this.partial = null;
    let start = 0;
    let lf = input.indexOf(LF);
    while (lf >= 0) {
      // A reply's last line: `250 text` or a bare `250`, never `250-text`.
      if (start + 3 >= lf || input[start + 3] !== HYPHEN) {
        this.onReply(replyCode(input, start, lf), input, start, lf);
        if (this.phase === Phase.Done) return;
      }
      start = lf + 1;
      lf = input.indexOf(LF, start);
    }
    if (start < input.length) {
      if (input.length - start > 4096) return this.fail('reply line too long');
      this.partial = Buffer.from(input.subarray(start));
    }
  }

  private onReply(code: number, input: Buffer, start: number, end: number): void {
    switch (this.phase) {
      case Phase.Greeting:
        if (code !== 220) return this.fail(`greeting: ${lineText(input, start, end)}`);
        this.phase = Phase.Ehlo;
        this.socket.write(ehlo);
        return;
      case Phase.Ehlo:
        if (code !== 250) return this.fail(`EHLO: ${lineText(input, start, end)}`);
        this.isReady = true;
        this.events.ready(this);
        return;
      case Phase.Mail:
        if (code !== 250) return this.fail(`MAIL: ${lineText(input, start, end)}`);
        this.phase = Phase.Rcpt;
        return;
      case Phase.Rcpt:
        if (code !== 250) return this.fail(`RCPT: ${lineText(input, start, end)}`);
        this.phase = Phase.Data;
        return;
      case Phase.Data:
        if (code !== 354) return this.fail(`DATA: ${lineText(input, start, end)}`);
        this.phase = Phase.EndOfData;
        if (this.message !== null) this.socket.write(this.message);
        return;
      case Phase.EndOfData: {
        if (code !== 250) return this.fail(`end of data: ${lineText(input, start, end)}`);
        const now = performance.now();
        this.events.delivered(this, now - this.started, now);
        return;
      }
      case Phase.Quit:
      case Phase.Done:
        return;
    }
  }

  private fail(reason: string): void {
    if (this.phase === Phase.Done) return;
    // After QUIT the job has already counted this connection as finished.
    const quitting = this.phase === Phase.Quit;
    this.phase = Phase.Done;
    this.socket.destroy();
    if (!quitting) this.events.failed(this, reason);
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc/PID/stat; NaN when unreadable. */
function processCpuSeconds(pid: number | undefined, clockTicks: number): number {
  if (pid === undefined) return Number.NaN;
  try {
    // The command name (field 2) may hold spaces; fields count from the closing parenthesis.
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return Number.NaN;
  }
}

/** CPU use of this process and of the server between `start()` and `stop()`, in percent of one core. */
function cpuMeter(serverPid: number | undefined, clockTicks: number): { start(): void; stop(): { loadgen: number; server: number } } {
  let wall = 0;
  let own = process.cpuUsage();
  let server = Number.NaN;
  return {
    start() {
      wall = performance.now();
      own = process.cpuUsage();
      server = processCpuSeconds(serverPid, clockTicks);
    },
    stop() {
      const seconds = (performance.now() - wall) / 1000;
      const used = process.cpuUsage(own);
      return {
        loadgen: ((used.user + used.system) / 1e6 / seconds) * 100,
        server: ((processCpuSeconds(serverPid, clockTicks) - server) / seconds) * 100,
      };
    },
  };
}

/** Run a throughput job to completion. */
function runThroughput(job: ThroughputJob): Promise<ThroughputResult> {
  const message = buildMessage(job.size, 'sender@bench.local', 'rcpt@bench.local');
  const latencies: number[] = [];
  const clients: BenchClient[] = [];
  let errors = 0;
  let firstError: string | null = null;
  let windowStart = Number.POSITIVE_INFINITY;
  let windowEnd = Number.POSITIVE_INFINITY;
  let ready = 0;
  let running = true;
  let open = job.clients;
  const cpu = cpuMeter(job.serverPid, job.clockTicks ?? 100);
  let cpuFigures = { loadgen: Number.NaN, server: Number.NaN };

  return new Promise((resolve) => {
    const finish = (): void => {
      clearTimeout(hardStop);
      resolve({
        messages: latencies.length,
        ...rateFigures(latencies, job.durationMs / 1000),
        errors,
        firstError,
        loadgenCpu: cpuFigures.loadgen,
        serverCpu: cpuFigures.server,
      });
    };
    // The window closes on its timer or on the first reply past its end, whichever comes first.
    const endWindow = (): void => {
      if (!running) return;
      running = false;
      cpuFigures = cpu.stop();
    };
    const closed = (): void => {
      open -= 1;
      if (open === 0) finish();
    };

    const events: ClientEvents = {
      ready(client) {
        // The clock starts once every connection is up, so all cells measure the same thing.
        ready += 1;
        if (ready === job.clients) {
          windowStart = performance.now() + job.warmupMs;
          windowEnd = windowStart + job.durationMs;
          setTimeout(() => cpu.start(), job.warmupMs);
          setTimeout(endWindow, job.warmupMs + job.durationMs);
          for (const each of clients) each.send();
        }
        void client;
      },
      delivered(client, latencyMs, at) {
        if (at >= windowStart && at <= windowEnd) latencies.push(latencyMs);
        if (at > windowEnd) endWindow();
        if (running) return client.send();
        client.quit();
        closed();
      },
      failed(_client, reason) {
        errors += 1;
        firstError ??= reason;
        closed();
      },
    };

    // Whatever happens, the job ends: a server that stops answering cannot hang the bench.
    const hardStop = setTimeout(() => {
      errors += 1;
      firstError ??= 'timed out';
      for (const client of clients) client.destroy();
      finish();
    }, job.warmupMs + job.durationMs + 20_000);

    for (let i = 0; i < job.clients; i += 1) clients.push(new BenchClient(job.port, message, events));
  });
}

/** Open the idle connections, report, hold them until told to close. */
async function runIdle(job: IdleJob): Promise<void> {
  const clients: BenchClient[] = [];
  let established = 0;
  let failed = 0;
  let firstError: string | null = null;

  // Set up at most `parallel` connections at a time, so the listen backlog never overflows.
  await new Promise<void>((resolve) => {
    let started = 0;
    let settled = 0;
    const next = (): void => {
      if (settled === job.count) return resolve();
      if (started < job.count) {
        started += 1;
        clients.push(new BenchClient(job.port, null, events));
      }
    };
    const events: ClientEvents = {
      ready() {
        established += 1;
        settled += 1;
        next();
      },
      delivered() {},
      failed(client, reason) {
        // A connection that dies after it was counted stays counted; only setup failures count here.
        if (!client.isReady) {
          failed += 1;
          settled += 1;
          firstError ??= reason;
          next();
        }
      },
    };
    for (let i = 0; i < Math.min(job.parallel, job.count); i += 1) next();
    setTimeout(resolve, 120_000).unref();
  });
  report({ established, failed, firstError } satisfies IdleResult);

  // Hold until run.ts says so, then close every socket.
  await new Promise<void>((resolve) => {
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (text: string) => {
      if (text.includes('close')) resolve();
    });
    process.stdin.on('end', resolve);
    process.stdin.on('error', () => resolve());
  });
  for (const client of clients) client.destroy();
  report({ closed: clients.length });
}

function report(value: object): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Entry point: run the job in argv[2] and exit. */
async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '{}') as LoadJob;
  if (job.mode === 'throughput') report(await runThroughput(job));
  else if (job.mode === 'idle') await runIdle(job);
  else throw new Error(`unknown job: ${process.argv[2] ?? ''}`);
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`loadgen: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
