/**
 * `pnpm bench:outbound`: the relay's outbound worker against Postfix's smtp(8) client, sending
 * mail that is already queued for a remote domain to the same kind of peer, in one run.
 *
 * Each side gets `--messages` messages of `--size` bytes (the load generator's message, each
 * stamped with a sequence number), one recipient each, queued before anything is sent, and a
 * fresh smtp-sink (the same command for both) as the remote domain's server:
 * - Mailway (mailway.ts): spool entries and outbound jobs as the transfer worker leaves them,
 *   Redis AOF `appendfsync always`; then the relay agent with RELAY_ROLES=outbound, a transport
 *   map entry to the sink and RELAY_OUTBOUND_DESTINATION_CONCURRENCY = `--concurrency`, every
 *   other outbound setting at its default (sessions reused, 100 jobs in flight). The clock starts at
 *   its log line saying the worker runs.
 * - Postfix: a private instance takes the messages over SMTP with no qmgr (they stay in
 *   incoming/, fsynced); then qmgr and smtp(8) are added and the instance reloaded, with relayhost
 *   = the sink and default_destination_concurrency_limit = `--concurrency`, every other SMTP
 *   client setting at its default. The clock starts at the reload.
 * A side's clock stops when the sink counts its last message (at its final dot). Every message
 * must arrive exactly once (its stamp seen once, none missing), the side's queue must end empty,
 * and for Mailway every job must be completed and every spool entry released.
 *
 * Reads flags (see `usage`); emits a table and the ratio on stdout, progress on stderr. Exits 1
 * when a message was lost or duplicated or a side failed.
 */
import { benchFlags } from '@mailway/bench-tools/args';
import { cpuSeconds } from '@mailway/bench-tools/cpu';
import { runLoadgen } from '@mailway/bench-tools/loadgen';
import { type MemoryPeak, processGroup, sampleMemory } from '@mailway/bench-tools/memory';
import { freePort } from '@mailway/bench-tools/port';
import { startPostfix } from '@mailway/bench-tools/postfix';
import { runBench, verdict } from '@mailway/bench-tools/run';
import { type SmtpSink, startSmtpSink } from '@mailway/bench-tools/smtp-sink';
import { table } from '@mailway/bench-tools/table';
import { startMailway } from './mailway.js';

const usage = `usage: pnpm bench:outbound [-- options]
  --messages <n>     messages queued on each side (default 10000)
  --size <bytes>     message size (default 2048)
  --concurrency <n>  parallel deliveries to the sink on each side (default 20: both sides' default)
  --quick            2000 messages
  --no-postfix       measure Mailway only
  --no-mailway       measure Postfix only
  --no-reuse         a new connection per message on both sides (RELAY_OUTBOUND_SESSION_IDLE=0;
                     Postfix smtp_connection_cache_on_demand = no), to see what reuse is worth
  --profile <dir>    write a V8 CPU profile of the relay agent into <dir>
  --help`;

interface Options {
  readonly messages: number;
  readonly size: number;
  readonly concurrency: number;
  readonly postfix: boolean;
  readonly mailway: boolean;
  readonly reuse: boolean;
  readonly profileDir: string | undefined;
}

/** One side's run, as the sink saw it. */
interface Side {
  readonly name: string;
  /** Distinct messages received, of those queued. */
  readonly received: number;
  /** From the side's start to the sink's last message. */
  readonly seconds: number;
  /** From the sink's first message to its last. */
  readonly steadySeconds: number;
  /** SMTP sessions the sink served (counted as they end: read once the side has stopped). */
  readonly sessions: number;
  /** User + system CPU seconds of the side's processes during the run. */
  readonly cpuSeconds: number;
  /** The same for smtp-sink, which serves each side alike but pays for every new session. */
  readonly sinkCpuSeconds: number;
  readonly memory: MemoryPeak;
  readonly how: string;
}

const from = 'sender@bench.example';
const to = 'rcpt@remote.example';
/** How long the sink may receive nothing before a side counts as stuck. */
const stallMs = 60_000;
const progress = (text: string): void => void process.stderr.write(`bench:outbound: ${text}\n`);

function readOptions(): Options {
  const values = benchFlags(usage, {
    messages: { type: 'string' },
    size: { type: 'string', default: '2048' },
    concurrency: { type: 'string', default: '20' },
    quick: { type: 'boolean', default: false },
    'no-postfix': { type: 'boolean', default: false },
    'no-mailway': { type: 'boolean', default: false },
    'no-reuse': { type: 'boolean', default: false },
    profile: { type: 'string' },
  });
  const options = {
    messages: Number(values.messages ?? (values.quick ? 2000 : 10_000)),
    size: Number(values.size),
    concurrency: Number(values.concurrency),
    postfix: !values['no-postfix'],
    mailway: !values['no-mailway'],
    reuse: !values['no-reuse'],
    profileDir: values.profile,
  };
  for (const key of ['messages', 'size', 'concurrency'] as const) {
    if (!Number.isInteger(options[key]) || options[key] < 1) throw new Error(`--${key} must be a positive integer`);
  }
  return options;
}

/** Wait for `messages` messages at the sink, then check each stamp arrived once; timings from `startedAtMs`. */
async function collect(sink: SmtpSink, messages: number, startedAtMs: number, name: string, problems: string[]): Promise<{ received: number; seconds: number; steadySeconds: number }> {
  const timing = await sink.messagesIn(messages, stallMs).catch((error: unknown) => {
    problems.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    return { firstAtMs: Number.NaN, lastAtMs: Number.NaN };
  });
  const { all } = await sink.received.arrivals();
  const seen = new Map<number, number>();
  for (const arrival of all) if (arrival.stamp !== null) seen.set(arrival.stamp.seq, (seen.get(arrival.stamp.seq) ?? 0) + 1);
  const unstamped = all.filter((a) => a.stamp === null).length;
  const duplicated = [...seen.values()].filter((n) => n > 1).length;
  const missing = Array.from({ length: messages }, (_, i) => i + 1).filter((seq) => !seen.has(seq)).length;
  if (missing > 0) problems.push(`${name}: ${missing} of ${messages} messages never reached the sink`);
  if (duplicated > 0) problems.push(`${name}: ${duplicated} messages reached the sink more than once`);
  if (unstamped > 0) problems.push(`${name}: ${unstamped} files at the sink without a stamp`);
  return { received: seen.size, seconds: (timing.lastAtMs - startedAtMs) / 1000, steadySeconds: (timing.lastAtMs - timing.firstAtMs) / 1000 };
}

/** Start a side sending (`start` resolves with the wall-clock ms it started at) and collect what the sink receives, with the CPU seconds the side's processes and the sink spent meanwhile. */
async function measureSending(sink: SmtpSink, messages: number, name: string, problems: string[], pids: () => Promise<readonly number[]>, start: () => Promise<number>): Promise<Pick<Side, 'received' | 'seconds' | 'steadySeconds' | 'cpuSeconds' | 'sinkCpuSeconds'>> {
  const cpu = async (): Promise<[number, number]> => {
    const [side, own] = [await cpuSeconds(await pids()), await cpuSeconds([sink.pid])];
    return [side.user + side.system, own.user + own.system];
  };
  const before = await cpu();
  const figures = await collect(sink, messages, await start(), name, problems);
  const after = await cpu();
  return { ...figures, cpuSeconds: after[0] - before[0], sinkCpuSeconds: after[1] - before[1] };
}

/** Mailway: queue, start the relay's outbound worker, wait for the sink. */
async function measureMailway(options: Options, problems: string[]): Promise<Side> {
  const sink = await startSmtpSink();
  try {
    progress(`Mailway: queueing ${options.messages} messages (spool entry + outbound job, one recipient each)`);
    const run = await startMailway({ ...options, from, to, sinkPort: sink.port });
    const memory = sampleMemory(async () => [...run.pids]);
    try {
      progress(`Mailway: relay agent, RELAY_ROLES=outbound, RELAY_OUTBOUND_DESTINATION_CONCURRENCY=${options.concurrency}, sending`);
      // The agent is already sending: its clock started at its log line.
      const figures = await measureSending(sink, options.messages, 'Mailway', problems, async () => run.pids, async () => run.startedAtMs);
      const counts = await run.settled(stallMs);
      if (counts.completed !== options.messages) problems.push(`Mailway: outbound jobs ${JSON.stringify(counts)}, not ${options.messages} completed`);
      const left = await run.spoolLeft();
      if (left > 0) problems.push(`Mailway: ${left} spool entries left after delivery`);
      const fsyncs = await run.slowFsyncs();
      const peak = await memory.stop();
      await run.stop();
      return {
        name: 'Mailway outbound worker',
        ...figures,
        sessions: await sessionsEnded(sink),
        memory: peak,
        how: `relay agent (node dist/main.js) + redis-server (AOF always; an fsync over 1 ms in ${fsyncs.seconds} s of the run, worst ${fsyncs.worstMs} ms); destination concurrency ${options.concurrency}`,
      };
    } finally {
      await memory.stop();
      await run.stop();
    }
  } finally {
    await sink.stop();
  }
}

/** The sink's session count once the sessions of a stopped side have ended. */
async function sessionsEnded(sink: SmtpSink): Promise<number> {
  let count = sink.counters().sessions;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const now = sink.counters().sessions;
    if (now === count) return now;
    count = now;
  }
}

/** The SMTP client settings Postfix used, as `name = value`. */
const postfixSettings = ['default_destination_concurrency_limit', 'initial_destination_concurrency', 'smtp_connection_cache_on_demand', 'smtp_connection_cache_time_limit', 'smtp_connection_reuse_time_limit', 'smtp_connection_reuse_count_limit', 'smtp_tls_security_level', 'default_process_limit'];

/** Postfix: queue with no qmgr, then release qmgr and smtp(8), wait for the sink. */
async function measurePostfix(options: Options, problems: string[]): Promise<{ side: Side; settings: Record<string, string> }> {
  const sink = await startSmtpSink();
  try {
    const postfix = await startPostfix({ port: await freePort(), relay: { nexthop: `[127.0.0.1]:${sink.port}`, concurrency: options.concurrency, reuse: options.reuse } });
    try {
      progress(`Postfix: queueing ${options.messages} messages (TS load generator, 20 clients, into smtpd; no qmgr yet)`);
      const load = await runLoadgen({ port: postfix.port, clients: 20, size: options.size, messages: options.messages, stamp: true, from, to });
      const queued = await postfix.queuedCount();
      if (load.accepted !== options.messages || queued !== options.messages) throw new Error(`${load.accepted} messages accepted and ${queued} queued of ${options.messages} (${load.firstError ?? 'no error'})`);
      const settings = await postfix.postconf(postfixSettings);

      progress('Postfix: qmgr and smtp(8) added, postfix reload, sending');
      const group = (): Promise<number[]> => processGroup(postfix.masterPid);
      // Only what sends: smtpd and cleanup took the messages in before the clock started.
      const memory = sampleMemory(group, ['smtpd', 'cleanup', 'anvil']);
      const release = async (): Promise<number> => {
        const startedAtMs = Date.now();
        await postfix.release();
        return startedAtMs;
      };
      const figures = await measureSending(sink, options.messages, 'Postfix', problems, group, release);
      const peak = await memory.stop();
      // qmgr removes each queue file once smtp(8) reports the delivery.
      const deadline = Date.now() + stallMs;
      while ((await postfix.queuedCount()) > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      const left = await postfix.queuedCount();
      if (left > 0) problems.push(`Postfix: ${left} messages still queued after delivery`);
      // Cached connections end when Postfix stops.
      await postfix.stop();
      const side = {
        name: 'Postfix smtp(8)',
        ...figures,
        sessions: await sessionsEnded(sink),
        memory: peak,
        how: `master's process group but smtpd and cleanup (qmgr, smtp×n, scache, …); destination concurrency ${settings.default_destination_concurrency_limit}`,
      };
      return { side, settings };
    } finally {
      await postfix.stop();
    }
  } finally {
    await sink.stop();
  }
}

const fixed = (value: number, digits: number): string => (Number.isFinite(value) ? value.toFixed(digits) : '-');

function report(options: Options, sides: readonly Side[], settings: Record<string, string> | null): void {
  const out = (text = ''): void => void process.stdout.write(`${text}\n`);
  out();
  out(`Outbound: ${options.messages} queued messages of ${options.size} B, one recipient each, to smtp-sink on 127.0.0.1; clock from the start of sending to the sink's last message; ${options.reuse ? 'connections reused' : 'a new connection per message'}`);
  out();
  const header = ['side', 'received', 'seconds', 'msg/s', 'msg/s first→last', 'sessions', 'CPU s', 'CPU ms/msg', 'sink CPU s', 'peak RSS MiB'];
  const rows = sides.map((s) => [s.name, String(s.received), fixed(s.seconds, 2), fixed(s.received / s.seconds, 0), fixed(s.received / s.steadySeconds, 0), String(s.sessions), fixed(s.cpuSeconds, 2), fixed((s.cpuSeconds / s.received) * 1000, 2), fixed(s.sinkCpuSeconds, 2), fixed(s.memory.peakRss / 1048576, 1)]);
  out(table([header, ...rows]));
  out();
  for (const side of sides) out(`${side.name}: ${side.how}`);
  if (settings !== null) out(`Postfix SMTP client: ${Object.entries(settings).map(([name, value]) => `${name} = ${value || '(empty)'}`).join(', ')}`);
  const [mailway, postfix] = [sides.find((s) => s.name.startsWith('Mailway')), sides.find((s) => s.name.startsWith('Postfix'))];
  if (mailway && postfix) {
    out();
    out(`ratio, Mailway / Postfix, msg/s: ${(mailway.received / mailway.seconds / (postfix.received / postfix.seconds)).toFixed(2)}x (target 1.5x)`);
  }
}

async function main(): Promise<void> {
  const options = readOptions();
  const problems: string[] = [];
  const sides: Side[] = [];
  let settings: Record<string, string> | null = null;

  // One side failing does not stop the other from being measured.
  const failed = (name: string) => (error: unknown): null => (problems.push(`${name}: ${error instanceof Error ? error.message : String(error)}`), null);
  if (options.mailway) {
    const side = await measureMailway(options, problems).catch(failed('Mailway'));
    if (side) sides.push(side);
  }
  if (options.postfix) {
    const result = await measurePostfix(options, problems).catch(failed('Postfix'));
    if (result) {
      sides.push(result.side);
      settings = result.settings;
    }
  }

  report(options, sides, settings);
  verdict(problems, 'no message lost or duplicated: each side delivered every queued message to the sink exactly once');
}

runBench('bench:outbound', main);
