/**
 * `pnpm bench` for the submission agent: accepted-and-queued messages per second and p50/p99
 * latency at 20 concurrent authenticated clients sending 2 KB messages, against a Redis with AOF
 * `appendfsync always`; and, in the same run on the same machine, Postfix's submission path
 * (a private Debian Postfix, mail queued and fsynced, not delivered), driven by Postfix's own
 * smtp-source and by the same load generator. Prints the figures and the ratios, and checks
 * that every accepted message was queued (no message lost) on both sides.
 *
 * Reads flags (see `usage`); emits tables on stdout, progress on stderr. Exits 1 if a message
 * was lost or a run failed.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { benchFlags } from '@mailway/bench-tools/args';
import type { LoadOptions, LoadResult } from '@mailway/bench-tools/loadgen';
import { benchUser, startMailway } from './mailway.js';
import { freePort } from '@mailway/bench-tools/port';
import { startPostfix } from '@mailway/bench-tools/postfix';
import { runSmtpSource, type SourceResult } from '@mailway/bench-tools/smtp-source';

const usage = `usage: pnpm bench [-- options]
  --clients <n>      concurrent clients (default 20)
  --size <bytes>     message size (default 2048)
  --duration <ms>    measuring window per load generator run (default 10000)
  --warmup <ms>      warm-up before each window (default 2000)
  --messages <n>     messages smtp-source sends to Postfix (default 20000)
  --quick            short runs (3 s windows, 5000 smtp-source messages)
  --no-postfix       measure Mailway only`;

const run = promisify(execFile);
const appDir = fileURLToPath(new URL('..', import.meta.url));

interface Options {
  readonly clients: number;
  readonly size: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly messages: number;
  readonly postfix: boolean;
}

function readOptions(): Options {
  const values = benchFlags(usage, {
    clients: { type: 'string', default: '20' },
    size: { type: 'string', default: '2048' },
    duration: { type: 'string' },
    warmup: { type: 'string', default: '2000' },
    messages: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'no-postfix': { type: 'boolean', default: false },
  });
  return {
    clients: Number(values.clients),
    size: Number(values.size),
    durationMs: Number(values.duration ?? (values.quick ? 3000 : 10_000)),
    warmupMs: Number(values.warmup),
    messages: Number(values.messages ?? (values.quick ? 5000 : 20_000)),
    postfix: !values['no-postfix'],
  };
}

/** Run the load generator in a process of its own, so it never shares an event loop with a server. */
async function loadgen(options: LoadOptions): Promise<LoadResult> {
  const script = fileURLToPath(import.meta.resolve('@mailway/bench-tools/loadgen'));
  const { stdout } = await run(process.execPath, ['--import', 'tsx', script, JSON.stringify(options)], { cwd: appDir, maxBuffer: 1 << 20 });
  return JSON.parse(stdout) as LoadResult;
}

interface Row {
  readonly name: string;
  readonly rate: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly errors: number;
}

const progress = (text: string): void => void process.stderr.write(`bench: ${text}\n`);
const fixed = (value: number | null, digits: number): string => (value === null || !Number.isFinite(value) ? '-' : value.toFixed(digits));

function table(rows: readonly Row[]): string {
  const lines = [['target', 'msg/s', 'p50 ms', 'p99 ms', 'errors'], ...rows.map((r) => [r.name, fixed(r.rate, 0), fixed(r.p50Ms, 2), fixed(r.p99Ms, 2), String(r.errors)])];
  const widths = lines[0]?.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? '').length))) ?? [];
  return lines.map((l) => l.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ')).join('\n');
}

async function main(): Promise<void> {
  const options = readOptions();
  const rows: Row[] = [];
  const problems: string[] = [];
  const common = { clients: options.clients, size: options.size, durationMs: options.durationMs, warmupMs: options.warmupMs };

  // Mailway: Redis with AOF fsync always, the agent as its own process.
  progress('starting redis-server (appendfsync always) and the submission agent');
  const mailway = await startMailway();
  let plain: LoadResult;
  let tls: LoadResult;
  let peakRss: number;
  try {
    const client = { auth: benchUser, from: benchUser.user, to: 'rcpt@remote.example' };
    progress(`Mailway: ${options.clients} clients, AUTH PLAIN, ${options.size} B messages`);
    plain = await loadgen({ ...common, port: mailway.port, ...client });
    progress(`Mailway: ${options.clients} clients, STARTTLS + AUTH PLAIN`);
    tls = await loadgen({ ...common, port: mailway.port, tls: true, ...client });
    const counts = await mailway.counts();
    const accepted = plain.accepted + tls.accepted;
    if (counts.jobs !== accepted || counts.spooled !== accepted) problems.push(`Mailway accepted ${accepted} messages but queued ${counts.jobs} jobs and ${counts.spooled} spool entries`);
    peakRss = await mailway.peakRss();
    rows.push({ name: 'Mailway submission, AUTH', ...plain }, { name: 'Mailway submission, STARTTLS+AUTH', ...tls });
    progress(`Mailway: ${accepted} accepted, ${counts.jobs} jobs, ${counts.spooled} spool entries`);
  } finally {
    await mailway.stop();
  }

  // Postfix: the same machine, its queue fsynced, nothing delivered.
  let source: SourceResult | null = null;
  let postfixLoad: LoadResult | null = null;
  if (options.postfix) {
    progress('starting a private Postfix');
    const postfix = await startPostfix({ port: await freePort() });
    try {
      const warm = await runSmtpSource({ port: postfix.port, sessions: options.clients, size: options.size, messages: 500 });
      progress(`Postfix: smtp-source -s ${options.clients} -l ${options.size} -m ${options.messages}`);
      source = await runSmtpSource({ port: postfix.port, sessions: options.clients, size: options.size, messages: options.messages });
      if (source.exitCode !== 0) problems.push(`smtp-source exited ${source.exitCode}: ${source.stderr.trim()}`);
      progress(`Postfix: load generator, ${options.clients} clients`);
      postfixLoad = await loadgen({ ...common, port: postfix.port });
      const queued = await postfix.queuedCount();
      const accepted = warm.messages + source.messages + postfixLoad.accepted;
      if (queued !== accepted) problems.push(`Postfix accepted ${accepted} messages but queued ${queued}`);
      rows.push({ name: 'Postfix smtpd, smtp-source', rate: source.rate, p50Ms: null, p99Ms: null, errors: source.exitCode === 0 ? 0 : 1 });
      rows.push({ name: 'Postfix smtpd, load generator', ...postfixLoad });
    } finally {
      await postfix.stop();
    }
  }

  // Report.
  process.stdout.write(`\nSubmission: accepted and queued, ${options.clients} concurrent clients, ${options.size} B messages, ${options.durationMs / 1000} s windows\n`);
  process.stdout.write(`Mailway: Redis AOF appendfsync always; Postfix: private instance, queue files fsynced, no delivery\n\n`);
  process.stdout.write(`${table(rows)}\n\n`);
  process.stdout.write(`Mailway agent peak RSS: ${(peakRss / 1048576).toFixed(1)} MiB\n`);
  if (source !== null && postfixLoad !== null) {
    process.stdout.write(`ratio, Mailway AUTH / Postfix smtp-source: ${(plain.rate / source.rate).toFixed(2)}x (target 1.5x)\n`);
    process.stdout.write(`ratio, Mailway AUTH / Postfix, same load generator: ${(plain.rate / postfixLoad.rate).toFixed(2)}x\n`);
    process.stdout.write(`ratio, Mailway STARTTLS+AUTH / Postfix smtp-source (no TLS): ${(tls.rate / source.rate).toFixed(2)}x\n`);
  }
  if (problems.length > 0) {
    for (const problem of problems) process.stdout.write(`LOST OR FAILED: ${problem}\n`);
    process.exitCode = 1;
  } else {
    process.stdout.write('no message lost: every accepted message is queued\n');
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
