/**
 * `pnpm bench:e2e`: Mailway end to end against Postfix delivering to Maildir, in one run.
 *
 * For `--clients` concurrent submitting clients and `--size` byte messages, each side first
 * receives a warm-up (delivered to a mailbox of its own, not measured), then two measured runs of
 * `--messages` messages each, and the bench reports messages per second from the first submission
 * to the last file in the recipient's Maildir new/, and peak RSS of the server's processes:
 * - The TS load generator to rcpt@bench.example, which also gives p50/p99 end-to-end latency (each
 *   message stamped with a sequence number and its send time, matched against its arrival in
 *   new/). Mailway takes it on the submission port with AUTH PLAIN (or STARTTLS + AUTH with
 *   --starttls), as from a mail client; Postfix on smtpd without AUTH.
 * - Postfix's smtp-source to source@bench.example, into each side's inbound port for its local
 *   domains (Postfix's smtpd; Mailway's relay, port 25 in production): the same C load generator
 *   and the same kind of session on both sides (no AUTH).
 * The headline ratio is Mailway's submission run against Postfix's smtp-source run; the other two
 * use one load generator on both sides.
 *
 * Mailway: `mailway start` (submission, relay, delivery and its own redis-server with AOF
 * `appendfsync always`; the delivery agent fsyncs every Maildir file). Postfix: a private Debian
 * Postfix with qmgr and virtual(8) (which fsyncs every Maildir file). Every run must deliver
 * exactly the messages that were accepted, once each.
 *
 * Reads flags (see `usage`); emits a table and ratios on stdout, progress on stderr. Exits 1 when
 * a message was lost or duplicated or a run failed.
 */
import { type ChildProcess, execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchFlags } from '@mailway/bench-tools/args';
import type { CountedLoad, LoadResult } from '@mailway/bench-tools/loadgen';
import { watchMaildir } from '@mailway/bench-tools/maildir';
import { descendants, type MemoryPeak, processGroup, sampleMemory } from '@mailway/bench-tools/memory';
import { freePort } from '@mailway/bench-tools/port';
import { startPostfix } from '@mailway/bench-tools/postfix';
import { runSmtpSource, type SourceOptions as SmtpSourceOptions } from '@mailway/bench-tools/smtp-source';
import { runBench, verdict } from '@mailway/bench-tools/run';
import { table } from '@mailway/bench-tools/table';
import { benchDomain, benchPassword, removeNow, startMailway } from './mailway.js';
import { type EndToEnd, stampedRun, unstampedRun } from './measure.js';

const usage = `usage: pnpm bench:e2e [-- options]
  --messages <n>     messages per measured run (default 10000)
  --clients <n>      concurrent submitting clients / smtp-source sessions (default 20)
  --size <bytes>     message size (default 2048)
  --warmup <n>       warm-up messages per side, not measured (default messages / 10, at most 1000)
  --starttls         Mailway's clients use STARTTLS before AUTH (default: AUTH on plaintext)
  --quick            2000 messages per run
  --no-postfix       measure Mailway only
  --no-mailway       measure Postfix only
  --keep             leave both sides' mailboxes, queues and logs in the temp dir (and so need no
                     wait before the next run: see afterPreviousCleanup)
  --help`;

interface Options {
  readonly messages: number;
  readonly clients: number;
  readonly size: number;
  readonly warmup: number;
  readonly starttls: boolean;
  readonly postfix: boolean;
  readonly mailway: boolean;
  readonly keep: boolean;
}

/** One measured run: what the load generator saw and what arrived. */
interface Run {
  readonly name: string;
  readonly sent: number;
  /** The load generator's own acceptance rate and errors. */
  readonly acceptRate: number;
  readonly errors: number;
  readonly e2e: EndToEnd;
}

interface Side {
  readonly runs: Run[];
  readonly memory: MemoryPeak | null;
}

/**
 * Removes one side's files, or (--keep) leaves them and says where. Both sides' files stay until
 * both are measured: on ext4 without a journal (as on the bench machines) an inode freed less than
 * a minute or so ago is skipped when a new one is allocated, so deleting one side's ten thousand
 * files just before the other side runs would slow every file that side creates.
 */
interface Cleanup {
  remove(): Promise<void>;
  /** Leaves the files; resolves with the folder that holds them. */
  keep(): Promise<string>;
}

/**
 * When the last run removed its files, so that a run started right after an earlier one waits
 * until freed inodes no longer slow file creation (the kernel keeps them aside for 60 s, 360 s
 * while their inode table block is not yet written back).
 */
const lastCleanupFile = join(tmpdir(), 'mailway-e2e-last-cleanup');
const inodeQuietMs = 6 * 60_000;

/** Waits out the rest of the quiet period after the previous run's removal, saying so. */
async function afterPreviousCleanup(): Promise<void> {
  const last = Number(await readFile(lastCleanupFile, 'utf8').catch(() => '0'));
  const waitMs = last + inodeQuietMs - Date.now();
  if (!(waitMs > 0)) return;
  progress(`the previous run removed its files ${Math.round((Date.now() - last) / 1000)} s ago: waiting ${Math.ceil(waitMs / 1000)} s so that freed inodes do not slow this run`);
  await new Promise((resolve) => setTimeout(resolve, waitMs));
}

const appDir = fileURLToPath(new URL('..', import.meta.url));
/** How long new/ may stay unchanged before the bench gives up waiting for the rest. */
const stallMs = 60_000;
const sender = `sender@${benchDomain}`;
const recipient = (user: string): string => `${user}@${benchDomain}`;
const progress = (text: string): void => void process.stderr.write(`bench:e2e: ${text}\n`);

function readOptions(): Options {
  const values = benchFlags(usage, {
    messages: { type: 'string' },
    clients: { type: 'string', default: '20' },
    size: { type: 'string', default: '2048' },
    warmup: { type: 'string' },
    starttls: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    'no-postfix': { type: 'boolean', default: false },
    'no-mailway': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  });
  const messages = Number(values.messages ?? (values.quick ? 2000 : 10_000));
  const options = {
    messages,
    clients: Number(values.clients),
    size: Number(values.size),
    warmup: Number(values.warmup ?? Math.min(1000, Math.floor(messages / 10))),
    starttls: values.starttls,
    postfix: !values['no-postfix'],
    mailway: !values['no-mailway'],
    keep: values.keep,
  };
  for (const key of ['messages', 'clients', 'size'] as const) {
    if (!Number.isInteger(options[key]) || options[key] < 1) throw new Error(`--${key} must be a positive integer`);
  }
  if (!Number.isInteger(options.warmup) || options.warmup < 0) throw new Error('--warmup must be a whole number');
  return options;
}

// The load generator runs in a process of its own, so it never shares an event loop with a server.
const loadgenChildren = new Set<ChildProcess>();
process.on('exit', () => loadgenChildren.forEach((child) => child.kill('SIGKILL')));

/** Run the TS load generator for a counted run; resolves with its result line. */
function loadgen(options: CountedLoad): Promise<LoadResult> {
  const script = fileURLToPath(import.meta.resolve('@mailway/bench-tools/loadgen'));
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, ['--import', 'tsx', script, JSON.stringify(options)], { cwd: appDir, maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      loadgenChildren.delete(child);
      if (error) reject(new Error(`load generator: ${stderr.trim() || error.message}`));
      else resolve(JSON.parse(stdout) as LoadResult);
    });
    loadgenChildren.add(child);
  });
}

/** Send `count` unmeasured messages to the warm-up mailbox and wait until they are all delivered. */
async function warmUp(count: number, maildirNew: string, send: (count: number) => Promise<number>): Promise<void> {
  if (count === 0) return;
  const watch = watchMaildir(maildirNew);
  try {
    const accepted = await send(count);
    await watch.waitFor(accepted, stallMs);
  } finally {
    watch.close();
  }
}

/** A stamped load generator run to rcpt@, waited for until all it had accepted is in new/. */
async function stampedLoad(name: string, maildirNew: string, load: CountedLoad, problems: string[]): Promise<Run> {
  const watch = watchMaildir(maildirNew);
  try {
    const result = await loadgen({ ...load, stamp: true });
    if (result.errors > 0) problems.push(`${name}: ${result.errors} sessions failed (${result.firstError ?? '?'})`);
    await watch.waitFor(result.accepted, stallMs).catch((error: unknown) => problems.push(`${name}: ${String(error)}`));
    const { all, fromMtime } = await watch.arrivals();
    const e2e = stampedRun(all);
    check(name, result.accepted, e2e, problems);
    if (fromMtime > 0) progress(`${name}: ${fromMtime} arrival times from file mtimes (the watcher missed them)`);
    return { name, sent: result.accepted, acceptRate: result.rate, errors: result.errors, e2e };
  } finally {
    watch.close();
  }
}

/** smtp-source with the run's clients and size, from the bench's sender, into `port`. */
function smtpSourceOptions(port: number, options: Options): Omit<SmtpSourceOptions, 'messages'> {
  return { port, sessions: options.clients, size: options.size, from: sender, timeoutMs: 30 * 60_000 };
}

/** An smtp-source run to source@: throughput from its start to the last file in new/ (no stamps, so no latency). */
async function sourceLoad(name: string, maildirNew: string, source: SmtpSourceOptions & { readonly messages: number }, problems: string[]): Promise<Run> {
  const watch = watchMaildir(maildirNew);
  try {
    const startedAt = Date.now();
    const result = await runSmtpSource(source);
    if (result.exitCode !== 0) problems.push(`${name}: smtp-source exited ${result.exitCode}: ${result.stderr}`);
    await watch.waitFor(source.messages, stallMs).catch((error: unknown) => problems.push(`${name}: ${String(error)}`));
    const e2e = unstampedRun((await watch.arrivals()).all, startedAt);
    check(name, source.messages, e2e, problems);
    return { name, sent: source.messages, acceptRate: result.rate, errors: result.exitCode === 0 ? 0 : 1, e2e };
  } finally {
    watch.close();
  }
}

/** Note a loss, a duplicate or a stray file. */
function check(name: string, accepted: number, e2e: EndToEnd, problems: string[]): void {
  if (e2e.delivered !== accepted) problems.push(`${name}: ${accepted} messages accepted, ${e2e.delivered} files in new/`);
  if (e2e.duplicates > 0) problems.push(`${name}: ${e2e.duplicates} messages delivered more than once`);
  if (e2e.unstamped > 0) problems.push(`${name}: ${e2e.unstamped} files without a stamp`);
}

/** Mailway: `mailway start`, warm-up, then the measured run. */
async function measureMailway(options: Options, problems: string[], cleanups: Cleanup[]): Promise<Side> {
  progress('starting `mailway start` (redis-server appendfsync always, submission, relay, delivery)');
  const stack = await startMailway(['rcpt', 'source', 'warmup', 'prime']);
  cleanups.push({ remove: stack.remove, keep: stack.keep });
  // tsx's esbuild service compiles the supervisor's TypeScript; a built install has none.
  const memory = sampleMemory(async () => descendants(stack.pid), ['esbuild']);
  try {
    const common = { port: stack.submissionPort, clients: options.clients, size: options.size, auth: { user: sender, pass: benchPassword }, tls: options.starttls, from: sender };
    progress(`Mailway: warm-up, ${options.warmup} messages`);
    // One login first, as a mail client that has logged in before: the login limits count the
    // first logins of a client not yet known for the user before their check, so that many at
    // once from a new client would be barred like guesses.
    await loadgen({ ...common, clients: 1, messages: 1, to: recipient('prime') });
    await warmUp(options.warmup, stack.maildirNew('warmup'), async (messages) => (await loadgen({ ...common, messages, to: recipient('warmup') })).accepted);
    // smtp-source into the relay's inbound port, as into Postfix's port 25: no AUTH, a local domain.
    progress(`Mailway: smtp-source -s ${options.clients} -l ${options.size} -m ${options.messages} into the relay's inbound port`);
    const source = { ...smtpSourceOptions(stack.relayPort, options), messages: options.messages, to: recipient('source') };
    const runs = [await sourceLoad('Mailway, smtp-source', stack.maildirNew('source'), source, problems)];
    progress(`Mailway: ${options.messages} messages, ${options.clients} clients, ${options.starttls ? 'STARTTLS + ' : ''}AUTH PLAIN on the submission port`);
    runs.push(await stampedLoad('Mailway, load generator', stack.maildirNew('rcpt'), { ...common, messages: options.messages, to: recipient('rcpt') }, problems));
    return { runs, memory: await memory.stop() };
  } finally {
    await memory.stop();
    progress('stopping Mailway');
    await stack.stop();
  }
}

/** Postfix: a private delivering instance, warm-up, smtp-source, then the TS load generator. */
async function measurePostfix(options: Options, problems: string[], cleanups: Cleanup[]): Promise<Side> {
  progress('starting a private Postfix (qmgr + virtual(8) into Maildir)');
  const base = await mkdtemp(join(tmpdir(), 'mailway-e2e-postfix-'));
  const onExit = (): void => removeNow(base);
  process.once('exit', onExit);
  cleanups.push({
    async remove() {
      await rm(base, { recursive: true, force: true });
      process.off('exit', onExit);
    },
    async keep() {
      process.off('exit', onExit);
      return base;
    },
  });
  const postfix = await startPostfix({ port: await freePort(), deliver: { maildirBase: base, domain: benchDomain, users: ['rcpt', 'source', 'warmup'] } });
  // Exit hooks run in order: Postfix's (which kills its daemons) must come before the removal of their Maildirs.
  process.off('exit', onExit);
  process.once('exit', onExit);
  const memory = sampleMemory(async () => processGroup(postfix.masterPid));
  const maildirNew = (user: string): string => join(base, benchDomain, user, 'Maildir', 'new');
  const source = smtpSourceOptions(postfix.port, options);
  try {
    progress(`Postfix: warm-up, ${options.warmup} messages`);
    await warmUp(options.warmup, maildirNew('warmup'), async (messages) => {
      const result = await runSmtpSource({ ...source, messages, to: recipient('warmup') });
      if (result.exitCode !== 0) throw new Error(`smtp-source (warm-up) exited ${result.exitCode}: ${result.stderr}`);
      return messages;
    });

    progress(`Postfix: smtp-source -s ${options.clients} -l ${options.size} -m ${options.messages}`);
    const runs: Run[] = [await sourceLoad('Postfix, smtp-source', maildirNew('source'), { ...source, messages: options.messages, to: recipient('source') }, problems)];

    progress(`Postfix: ${options.messages} messages, load generator, ${options.clients} clients`);
    runs.push(await stampedLoad('Postfix, load generator', maildirNew('rcpt'), { port: postfix.port, clients: options.clients, size: options.size, from: sender, messages: options.messages, to: recipient('rcpt') }, problems));
    return { runs, memory: await memory.stop() };
  } finally {
    await memory.stop();
    progress('stopping Postfix');
    await postfix.stop();
  }
}

const fixed = (value: number, digits: number): string => (Number.isFinite(value) ? value.toFixed(digits) : '-');
const mib = (bytes: number): string => (bytes / 1048576).toFixed(1);

/** The figures, the memory of each side and the ratios. */
function report(options: Options, mailway: Side | null, postfix: Side | null): void {
  const out = (text = ''): void => void process.stdout.write(`${text}\n`);
  out();
  out(`End to end: ${options.messages} messages of ${options.size} B, ${options.clients} concurrent clients, from the first submission to the last file in Maildir/new`);
  out(`Mailway: mailway start, Redis AOF appendfsync always, Maildir files fsynced; clients use ${options.starttls ? 'STARTTLS + ' : ''}AUTH PLAIN on the submission port`);
  out('Postfix: private Debian Postfix, qmgr + virtual(8), queue and Maildir files fsynced; no AUTH (mynetworks)');
  out();
  const runs = [...(mailway?.runs ?? []), ...(postfix?.runs ?? [])];
  const header = ['run', 'accepted', 'delivered', 'e2e msg/s', 'p50 ms', 'p99 ms', 'accept msg/s', 'seconds'];
  out(table([header, ...runs.map((r) => [r.name, String(r.sent), String(r.e2e.delivered), fixed(r.e2e.rate, 0), fixed(r.e2e.p50Ms, 1), fixed(r.e2e.p99Ms, 1), fixed(r.acceptRate, 0), fixed(r.e2e.seconds, 2)])]));
  out();
  // Postfix recycles its daemons (max_use 100), so a sum of their VmHWM would add processes that never ran together.
  const names = (memory: MemoryPeak): string => Object.entries(memory.names).map(([name, count]) => `${name}×${count}`).join(', ');
  if (mailway?.memory) {
    const { peakRss, peakPss, hwmSum } = mailway.memory;
    out(`Mailway peak RSS, agents + redis-server: ${mib(peakRss)} MiB highest sampled sum of VmRSS; ${mib(hwmSum)} MiB sum of VmHWM; ${mib(peakPss)} MiB highest sampled sum of PSS [${names(mailway.memory)}]`);
  }
  if (postfix?.memory) out(`Postfix peak RSS, master's process group: ${mib(postfix.memory.peakRss)} MiB highest sampled sum of VmRSS; ${mib(postfix.memory.peakPss)} MiB highest sampled sum of PSS [processes seen: ${names(postfix.memory)}]`);

  const [oursSource, ours] = mailway?.runs ?? [];
  const [source, theirs] = postfix?.runs ?? [];
  if (oursSource && ours && source && theirs) {
    out();
    out(`ratio, Mailway (submission with AUTH, TS load generator) / Postfix (smtp-source), end-to-end msg/s: ${(ours.e2e.rate / source.e2e.rate).toFixed(2)}x (target 1.5x)`);
    out(`ratio, smtp-source into each side's inbound port (Mailway's relay, Postfix's smtpd), end-to-end msg/s: ${(oursSource.e2e.rate / source.e2e.rate).toFixed(2)}x`);
    out(`ratio, TS load generator (Mailway: submission with AUTH; Postfix: smtpd, no AUTH), end-to-end msg/s: ${(ours.e2e.rate / theirs.e2e.rate).toFixed(2)}x`);
    out(`p50 / p99 end-to-end latency, Mailway: ${fixed(ours.e2e.p50Ms, 1)} / ${fixed(ours.e2e.p99Ms, 1)} ms; Postfix: ${fixed(theirs.e2e.p50Ms, 1)} / ${fixed(theirs.e2e.p99Ms, 1)} ms`);
  }
}

async function main(): Promise<void> {
  const options = readOptions();
  const problems: string[] = [];
  let mailway: Side | null = null;
  let postfix: Side | null = null;
  const cleanups: Cleanup[] = [];
  await afterPreviousCleanup();

  // One side failing does not stop the other from being measured.
  try {
    if (options.mailway) mailway = await measureMailway(options, problems, cleanups).catch((error: unknown) => (problems.push(`Mailway: ${error instanceof Error ? error.message : String(error)}`), null));
    if (options.postfix) postfix = await measurePostfix(options, problems, cleanups).catch((error: unknown) => (problems.push(`Postfix: ${error instanceof Error ? error.message : String(error)}`), null));
  } finally {
    if (options.keep) {
      for (const cleanup of cleanups) progress(`kept: ${await cleanup.keep()}`);
    } else {
      progress('removing both sides\' mailboxes and queues');
      for (const cleanup of cleanups) await cleanup.remove();
      await writeFile(lastCleanupFile, String(Date.now())).catch(() => {});
    }
  }

  report(options, mailway, postfix);
  verdict(problems, 'no message lost or duplicated: every accepted message is in new/ exactly once');
}

runBench('bench:e2e', main);
