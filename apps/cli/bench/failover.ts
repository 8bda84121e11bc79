/**
 * `pnpm bench:failover`: what a Redis failover behind Sentinel costs in acknowledged mail, with
 * the replica wait and without it.
 *
 * Eight runs (two per --kind), each on a fresh set of real processes: a primary, two replicas
 * and three sentinels (`@mailway/testing/sentinel`), and `mailway start` finding the primary through them. Python's
 * smtplib sends to the relay port for `--seconds` s (three senders, one message per session to
 * bob@example.org), and `--failover-after` s in the primary fails over, in one of four ways:
 * - kill: the primary is SIGKILLed; the sentinels promote a replica once it is taken for down.
 * - manual: `SENTINEL FAILOVER` to a sentinel; the old primary stays up, takes writes until the
 *   sentinels make it a replica of the new one, and then drops its data for the new primary's:
 *   whatever it acknowledged that had not reached the promoted replica is gone.
 * - paused: the planned switch of the README. `CLIENT PAUSE <--pause> WRITE` to the primary, a
 *   wait until both replicas have its replication offset, `SENTINEL FAILOVER`, a wait until the
 *   sentinels name the new primary, `REPLICAOF <new primary>` to the old one and, once it is a
 *   replica, `CLIENT UNPAUSE`: the old primary takes no write that the promoted replica lacks,
 *   and the agents' writes held by the pause fail or go to the new primary.
 * - pause-only: the same without the REPLICAOF, the sentinels left to demote the old primary;
 *   their commands to it wait behind the pause, so they do so only once it has ended.
 * Each kind runs with REDIS_WAIT_REPLICAS at its default behind Sentinel (1: a 250 waits until a
 * replica holds the message; --wait sets another) and at 0 (a 250 as soon as the primary has it).
 *
 * With --backlog the delivery queue is paused (BullMQ's pause) from before the traffic
 * until after it, so that every message answered 250 is still only in Redis (its spool entry and
 * job) when the failover comes, as in a stack that has fallen behind; it is resumed once the
 * traffic ends.
 *
 * After the traffic the bench waits until every message answered 250 is in the Maildir, or until
 * none is left in the queues for bob and the Maildir has been still for a while (at most
 * `--drain` s), then counts each 250 against the Maildir by Message-ID.
 *
 * Reads flags (see `usage`); emits one table row per run on stdout, progress on stderr. Exits 1
 * when a run failed, or when a run that claims to keep every 250 lost one: a SIGKILL with the
 * replica wait, a paused switch with the wait or without it (and one whose old primary was made a
 * replica only after its pause ended), a plain `SENTINEL FAILOVER` whose wait covers every
 * replica. What the other runs lose is reported, not judged: a SIGKILL without the wait is what
 * the wait is for, a plain `SENTINEL FAILOVER` with a smaller wait is known to lose 250s under a
 * backlog (see the README), a pause-only switch shows what the pause is worth without the
 * REPLICAOF. Duplicates are reported, not judged either: a 451 or a failover may bring a second
 * copy, never a loss.
 */
import { Queue } from 'bullmq';
import { benchFlags } from '@mailway/bench-tools/args';
import { runBench, verdict } from '@mailway/bench-tools/run';
import { table } from '@mailway/bench-tools/table';
import { queueNames } from '@mailway/queue/jobs';
import { bullPrefix } from '@mailway/queue/queues';
import { createRedis } from '@mailway/queue/redis';
import { type SentinelSetup, type Switchover, startSentinels } from '@mailway/testing/sentinel';
import { type Stack, startStack } from '../test/support/stack.js';
import { type Sent, copiesInMaildir, failoverStackEnv, sendFor } from '../test/support/traffic.js';

const usage = `usage: pnpm bench:failover [-- options]
  --seconds <s>          traffic per run (default 20)
  --failover-after <s>   when the failover starts, into the traffic (default 5)
  --senders <n>          smtplib senders at once, one message per session (default 3)
  --drain <s>            longest wait for the 250s to be delivered after the traffic (default 120)
  --wait <n>             REDIS_WAIT_REPLICAS for the runs with the wait (default: unset, so 1)
  --kind <kinds>         the runs of these kinds of failover only, comma-separated: kill, manual,
                         paused, pause-only (default all four)
  --pause <s>            the CLIENT PAUSE of a paused switch (default 10)
  --backlog              hold every accepted message in the queue until the traffic ends (the
                         delivery queue paused), so that the failover finds them all in Redis
  --help`;

interface Options {
  readonly seconds: number;
  readonly failoverAfter: number;
  readonly senders: number;
  readonly drain: number;
  readonly backlog: boolean;
  readonly kinds: readonly Kind[];
  readonly pauseMs: number;
  /** REDIS_WAIT_REPLICAS of the runs with the wait; null leaves it unset. */
  readonly wait: string | null;
}

const kinds = ['kill', 'manual', 'paused', 'pause-only'] as const;
type Kind = (typeof kinds)[number];
const isKind = (text: string): text is Kind => (kinds as readonly string[]).includes(text);

/** The replicas of every run's primary. */
const replicas = 2;

interface Scenario {
  readonly kind: Kind;
  /** REDIS_WAIT_REPLICAS: null leaves the default (1 behind Sentinel). */
  readonly waitReplicas: string | null;
}

/** Each kind of failover with the replica wait (at its default, or --wait) and without it. */
function scenarios(options: Options): Scenario[] {
  return options.kinds.flatMap((kind) => [
    { kind, waitReplicas: options.wait },
    { kind, waitReplicas: '0' },
  ]);
}

/** Whether a loss in this scenario fails the bench: see the head of this file. */
function judged(scenario: Scenario): boolean {
  const wait = scenario.waitReplicas === null ? 1 : Number(scenario.waitReplicas);
  if (scenario.kind === 'paused') return true;
  if (scenario.kind === 'kill') return wait > 0;
  if (scenario.kind === 'pause-only') return false;
  return wait >= replicas;
}

/** One run's figures. */
interface Row {
  readonly name: string;
  readonly judged: boolean;
  readonly sent: number;
  readonly accepted: number;
  readonly deferred: number;
  readonly noReply: number;
  /** Replies that are neither 250, 4xx nor none: never expected. */
  readonly other: number;
  readonly deliveredOnce: number;
  /** Answered 250, never delivered. */
  readonly lost: number;
  /** Answered 250, delivered more than once. */
  readonly duplicated: number;
  /** From the start of the failover until the sentinels named a new primary that takes writes. */
  readonly primaryMs: number;
  /** From the start of the failover to the first 250 to a session opened after it; NaN if none came. */
  readonly acceptedAgainMs: number;
  /** The longest stretch without a 250 from the start of the failover to the end of the traffic. */
  readonly longestGapMs: number;
  /** A paused switch: what it saw; null for the other kinds. */
  readonly switchover: Switchover | null;
}

const progress = (text: string): void => void process.stderr.write(`bench:failover: ${text}\n`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const recipient = 'bob@example.org';

function readOptions(): Options {
  const values = benchFlags(usage, {
    seconds: { type: 'string', default: '20' },
    'failover-after': { type: 'string', default: '5' },
    senders: { type: 'string', default: '3' },
    drain: { type: 'string', default: '120' },
    backlog: { type: 'boolean', default: false },
    kind: { type: 'string' },
    pause: { type: 'string', default: '10' },
    wait: { type: 'string' },
  });
  if (values.wait !== undefined && !/^[1-9]\d*$/.test(values.wait)) throw new Error('--wait must be a positive integer');
  const chosen = values.kind === undefined ? [...kinds] : values.kind.split(',');
  if (chosen.length === 0 || !chosen.every(isKind)) throw new Error('--kind must be kill, manual, paused or pause-only, or several of them comma-separated');
  const options = { seconds: Number(values.seconds), failoverAfter: Number(values['failover-after']), senders: Number(values.senders), drain: Number(values.drain), backlog: values.backlog, kinds: chosen, wait: values.wait ?? null, pauseMs: Number(values.pause) * 1000 };
  const flags = { seconds: 'seconds', failoverAfter: 'failover-after', drain: 'drain', pauseMs: 'pause' } as const;
  for (const key of Object.keys(flags) as (keyof typeof flags)[]) {
    if (!(options[key] > 0)) throw new Error(`--${flags[key]} must be a positive number`);
  }
  if (!Number.isInteger(options.senders) || options.senders < 1) throw new Error('--senders must be a positive integer');
  if (options.failoverAfter >= options.seconds) throw new Error('--failover-after must be less than --seconds');
  return options;
}

const kindNames = { kill: 'SIGKILL', manual: 'SENTINEL FAILOVER', paused: 'CLIENT PAUSE WRITE + SENTINEL FAILOVER + REPLICAOF', 'pause-only': 'CLIENT PAUSE WRITE + SENTINEL FAILOVER' } satisfies Record<Kind, string>;
const runName = (scenario: Scenario): string => `${kindNames[scenario.kind]}, ${scenario.waitReplicas === null ? 'REDIS_WAIT_REPLICAS default (1)' : `REDIS_WAIT_REPLICAS=${scenario.waitReplicas}`}`;

// A stack runs in a process group of its own: an interrupted bench takes it down with it.
const stacks = new Set<Stack>();
process.on('exit', () => {
  for (const stack of stacks) {
    try {
      if (stack.process.pid !== undefined) process.kill(-stack.process.pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
});

/** One scenario on a fresh primary, replicas, sentinels and stack. */
async function measure(scenario: Scenario, options: Options): Promise<Row> {
  const name = runName(scenario);
  progress(`${name}: starting a primary, two replicas, three sentinels and \`mailway start\``);
  let sentinels: SentinelSetup | undefined;
  let stack: Stack | undefined;
  let held: PausedQueue | null = null;
  try {
    sentinels = await startSentinels({ replicas });
    stack = await startStack({
      ...failoverStackEnv(sentinels),
      // A held queue is a backlog by design here: the intake must not slow down for it.
      ...(options.backlog ? { MAILWAY_IN_FLOW_DELAY: '0' } : {}),
      ...(scenario.waitReplicas === null ? {} : { REDIS_WAIT_REPLICAS: scenario.waitReplicas }),
    });
    stacks.add(stack);
    await stack.mailway('domain', 'add', 'example.org');
    await stack.mailway('user', 'add', recipient, 'bob-secret');
    held = options.backlog ? await pausedDeliveryQueue(sentinels, stack) : null;

    // Traffic, and the failover into it.
    progress(`${name}: ${options.seconds} s of traffic, the failover ${options.failoverAfter} s in`);
    const label = `failover-${scenario.kind}-${scenario.waitReplicas ?? 'default'}-${Date.now()}`;
    const traffic = sendFor({ port: Number(stack.env.RELAY_PORT), seconds: options.seconds, threads: options.senders, label, to: recipient });
    await sleep(options.failoverAfter * 1000);
    const before = await sentinels.primaryPort();
    const startedAt = Date.now();
    let switchover: Switchover | null = null;
    if (scenario.kind === 'kill') await sentinels.kill(before);
    else if (scenario.kind === 'manual') await sentinels.failover();
    else switchover = await sentinels.pausedFailover(options.pauseMs, { demote: scenario.kind === 'paused' ? 'replicaof' : 'sentinels' });
    const after = await sentinels.failedOverFrom(before);
    const primaryMs = switchover?.promotedMs ?? Date.now() - startedAt;
    progress(`${name}: primary :${before} → :${after} in ${primaryMs} ms`);
    if (switchover) progress(`${name}: writes paused for at most ${switchover.pauseMs} ms; replicas at offset ${switchover.offset} after ${switchover.caughtUpMs} ms, :${before} a replica after ${switchover.demotedMs} ms`);
    const sent = await traffic;
    await held?.resume();

    // Delivery: every 250, or as much of them as will ever come.
    const accepted = sent.filter((m) => m.code === 250);
    progress(`${name}: ${sent.length} sent, ${accepted.length} answered 250; waiting for them in the Maildir`);
    await drain(stack, accepted, options.drain * 1000);
    // Late copies (a job run twice) would come within seconds.
    await sleep(3_000);
    const copies = await copiesInMaildir(stack.home, recipient);

    const count = (m: Sent): number => copies.get(m.id) ?? 0;
    return {
      name,
      judged: judged(scenario),
      sent: sent.length,
      accepted: accepted.length,
      deferred: sent.filter((m) => m.code >= 400 && m.code < 500).length,
      noReply: sent.filter((m) => m.code === 0).length,
      other: sent.filter((m) => m.code !== 0 && m.code !== 250 && !(m.code >= 400 && m.code < 500)).length,
      deliveredOnce: accepted.filter((m) => count(m) === 1).length,
      lost: accepted.filter((m) => count(m) === 0).length,
      duplicated: accepted.filter((m) => count(m) > 1).length,
      primaryMs,
      acceptedAgainMs: Math.min(...accepted.filter((m) => m.started >= startedAt).map((m) => m.at - startedAt)),
      longestGapMs: longestGap(accepted.map((m) => m.at), startedAt, Math.max(...sent.map((m) => m.at))),
      switchover,
    };
  } finally {
    progress(`${name}: stopping`);
    await held?.close().catch(() => {});
    if (stack) {
      await stack.close();
      stacks.delete(stack);
    }
    await sentinels?.close();
  }
}

interface PausedQueue {
  resume(): Promise<void>;
  close(): Promise<void>;
}

/** The delivery queue, paused: the relay takes mail and queues it (its delivery job, for one local recipient), nothing is delivered. */
async function pausedDeliveryQueue(sentinels: SentinelSetup, stack: Stack): Promise<PausedQueue> {
  const redis = createRedis({ url: 'redis://127.0.0.1', sentinels: sentinels.sentinelPorts.map((port) => ({ host: '127.0.0.1', port })), sentinelName: sentinels.name }, { role: 'worker' });
  const queue = new Queue(queueNames.delivery, { connection: redis, prefix: bullPrefix(stack.env.MAILWAY_REDIS_PREFIX ?? '') });
  // It loses its connection in the failover and finds the new primary, as the agents do: quietly.
  redis.on('error', () => {});
  queue.on('error', () => {});
  await queue.pause();
  return {
    resume: () => queue.resume(),
    async close() {
      await queue.close();
      redis.disconnect();
    },
  };
}

/**
 * Waits until every message in `accepted` is in bob's Maildir, or until the Maildir has not
 * changed for 5 s and none of bob's mail is left in the queues (failed jobs aside) twice in a
 * row, 5 s apart (a job between two queues can be missed once), or `limitMs`.
 */
async function drain(stack: Stack, accepted: readonly Sent[], limitMs: number): Promise<void> {
  const deadline = Date.now() + limitMs;
  let lastSize = -1;
  let stillSince = Date.now();
  let emptyQueues = 0;
  for (;;) {
    const copies = await copiesInMaildir(stack.home, recipient);
    const missing = accepted.filter((m) => !copies.has(m.id)).length;
    if (missing === 0) return;
    if (copies.size !== lastSize) {
      lastSize = copies.size;
      stillSince = Date.now();
      emptyQueues = 0;
    } else if (Date.now() - stillSince >= 5_000) {
      const queued = JSON.parse(await stack.mailway('queue', 'list', '--recipient', recipient, '--json')) as { recipients: { state: string }[] }[];
      const pending = queued.filter((q) => q.recipients.some((r) => r.state !== 'failed')).length;
      emptyQueues = pending === 0 ? emptyQueues + 1 : 0;
      if (emptyQueues >= 2) {
        progress(`${missing} answered 250 not in the Maildir, and nothing left in the queues for them`);
        return;
      }
      progress(`${missing} answered 250 not in the Maildir yet, ${pending} still queued`);
      stillSince = Date.now();
    }
    if (Date.now() > deadline) {
      progress(`${missing} answered 250 not in the Maildir after ${limitMs / 1000} s: counted as lost`);
      return;
    }
    await sleep(1_000);
  }
}

/** The longest interval in [from, to] with no time of `times` inside it. */
function longestGap(times: readonly number[], from: number, to: number): number {
  const inside = [from, ...times.filter((t) => t > from && t < to).sort((a, b) => a - b), to];
  let longest = 0;
  for (let i = 1; i < inside.length; i += 1) longest = Math.max(longest, (inside[i] ?? 0) - (inside[i - 1] ?? 0));
  return longest;
}

const seconds = (ms: number): string => (Number.isFinite(ms) ? (ms / 1000).toFixed(1) : '-');

/** The table. */
function report(options: Options, rows: readonly Row[]): void {
  const out = (text = ''): void => void process.stdout.write(`${text}\n`);
  out();
  out(`Failover behind Sentinel: a primary, two replicas, three sentinels (down-after-milliseconds 1000), all on loopback; ${options.senders} smtplib senders to the relay port for ${options.seconds} s, one message per session; the failover ${options.failoverAfter} s in${options.backlog ? '; every accepted message held in the queue (delivery paused) until the traffic ends' : ''}`);
  out('LOST: answered 250, never delivered (*: a loss fails the bench). new primary: until the sentinels named one that takes writes (a paused switch: from the pause). old primary demoted: a paused switch, from the pause until the old primary was a replica. accepted again: until the first 250 to a session opened after the failover started. longest gap: without any 250, from the failover to the end of the traffic.');
  out();
  const header = ['run', 'sent', '250', '4xx', 'no reply', '250 delivered once', '250 LOST', 'duplicates', 'new primary s', 'old primary demoted s', 'accepted again s', 'longest gap s'];
  out(table([header, ...rows.map((r) => [r.name, String(r.sent), String(r.accepted), String(r.deferred), String(r.noReply), String(r.deliveredOnce), `${r.lost}${r.judged ? ' *' : ''}`, String(r.duplicated), seconds(r.primaryMs), seconds(r.switchover?.demotedMs ?? Number.NaN), seconds(r.acceptedAgainMs), seconds(r.longestGapMs)])]));
}

async function main(): Promise<void> {
  const options = readOptions();
  const problems: string[] = [];
  const rows: Row[] = [];
  // One run failing does not stop the others.
  for (const scenario of scenarios(options)) {
    const row = await measure(scenario, options).catch((error: unknown) => (problems.push(`${runName(scenario)}: ${error instanceof Error ? error.message : String(error)}`), null));
    if (!row) continue;
    rows.push(row);
    if (row.accepted === 0) problems.push(`${row.name}: no message answered 250`);
    if (row.other > 0) problems.push(`${row.name}: ${row.other} messages answered neither 250 nor 4xx`);
    if (row.judged && row.lost > 0) problems.push(`${row.name}: ${row.lost} messages answered 250 never delivered`);
    const switchover = row.switchover;
    if (row.judged && switchover && switchover.demotedMs >= switchover.pauseMs) problems.push(`${row.name}: the old primary became a replica ${switchover.demotedMs} ms after the pause, which lasted ${switchover.pauseMs} ms`);
  }
  report(options, rows);
  verdict(problems, 'every run that claims to keep the 250s (marked *) delivered every message answered 250');
}

runBench('bench:failover', main);
