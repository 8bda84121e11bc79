/**
 * Queue inspection for operators: what is still queued on `transfer`, `outbound` and
 * `delivery`, grouped by message (queue id), with each recipient's state and, for outbound
 * mail, its latest attempt. Also promotes deferred outbound jobs so they run now.
 *
 * Reads: the three BullMQ queues (live jobs, and a message's finished jobs by their
 * deterministic ids). Writes on `retry`, `hold`, `release` and `remove`; only `remove` touches
 * the spool, releasing the references of the jobs it deletes under the tokens their workers use.
 */
import { type Job, type JobType, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { z } from 'zod';
import { type AttemptRecord, DeliveryJob, type Envelope, type Origin, OutboundJob, type OutboundProgress, type QueueName, TransferJob, deliveryJobId, outboundJobId, queueIdPattern, queueIdTime, queueNames, transferJobId } from '../jobs/index.js';
import { bullPrefix } from '../queues/options.js';
import { isCarried } from '../spool/carried.js';
import type { Spool } from '../spool/spool.js';
import type { TraceLog } from '../trace/log.js';

/** Where a recipient stands: waiting for a worker, being worked on, waiting for its next attempt, or failed and kept. */
export const recipientStates = ['queued', 'active', 'deferred', 'held', 'failed'] as const;
export type RecipientState = (typeof recipientStates)[number];

/** Deferred outbound mail by age since arrival, as Postfix's qshape buckets it (upper bounds in minutes). */
export const ageBuckets = [
  { label: '0-5m', belowMinutes: 5 },
  { label: '5-10m', belowMinutes: 10 },
  { label: '10-20m', belowMinutes: 20 },
  { label: '20-40m', belowMinutes: 40 },
  { label: '40-80m', belowMinutes: 80 },
  { label: '80-160m', belowMinutes: 160 },
  { label: '160-320m', belowMinutes: 320 },
  { label: '320m+', belowMinutes: Infinity },
] as const;
export type AgeBucket = (typeof ageBuckets)[number]['label'];

/** One recipient of a queued message. */
export interface QueuedRecipient {
  readonly address: string;
  readonly state: RecipientState;
  readonly queue: QueueName;
  readonly jobId: string;
  /** When its job runs again (ISO time); deferred recipients only. */
  readonly nextAttemptAt: string | null;
  /** Its latest outbound attempt; null before the first or on other queues. */
  readonly lastAttempt: AttemptRecord | null;
  /** Why the job's last run failed (BullMQ's failedReason), null when none did. */
  readonly error: string | null;
}

/** A message with at least one recipient not yet finished. */
export interface QueuedMessage {
  readonly queueId: string;
  readonly arrivedAt: string;
  readonly ageMs: number;
  /** Reverse-path without <> ('' for the null sender). */
  readonly sender: string;
  readonly size: number;
  readonly messageId: string | null;
  readonly recipients: readonly QueuedRecipient[];
}

/** One job of a message, in any state (BullMQ's own state name). */
export interface MessageJob {
  readonly queue: QueueName;
  readonly jobId: string;
  readonly bullState: string;
  /** The recipients' state this job gives; null once the job completed. */
  readonly state: RecipientState | null;
  readonly attemptsMade: number;
  readonly nextAttemptAt: string | null;
  readonly error: string | null;
  /** The job's recipients (outbound: those still pending). */
  readonly recipients: readonly string[];
  /** Outbound only: the destination domain and where its attempts stand. */
  readonly domain: string | null;
  readonly progress: OutboundProgress | null;
}

/** Everything known about one message. */
export interface MessageDetail {
  readonly queueId: string;
  /** Where its content is spooled. */
  readonly spoolId: string;
  /** The message itself when its delivery job carries it instead of the spool (spool/carried.ts); else null. */
  readonly carried: string | null;
  readonly arrivedAt: string;
  readonly ageMs: number;
  readonly size: number;
  readonly messageId: string | null;
  /** The envelope as accepted (from its transfer job; rebuilt from later jobs when that one is gone). */
  readonly envelope: Envelope | null;
  readonly origin: Origin | null;
  readonly jobs: readonly MessageJob[];
  /** Recipients not yet finished. */
  readonly recipients: readonly QueuedRecipient[];
}

export interface QueueFilter {
  readonly state?: RecipientState;
  /** Recipient domain (case-insensitive). */
  readonly domain?: string;
  /** Reverse-path (case-insensitive); '' for the null sender. */
  readonly sender?: string;
  /** A recipient's address (case-insensitive): only that recipient of each message is listed. */
  readonly recipient?: string;
  /** Messages that arrived at least this long ago (ms). */
  readonly olderThanMs?: number;
  /** Messages that arrived less than this long ago (ms). */
  readonly youngerThanMs?: number;
}

export interface QueueSummary {
  readonly messages: number;
  /** Recipients not yet finished, by state. */
  readonly recipients: Record<RecipientState, number>;
  /** Deferred outbound messages (one per message and domain) by destination domain and age bucket. */
  readonly deferredByDomain: readonly { readonly domain: string; readonly total: number; readonly buckets: Record<AgeBucket, number> }[];
}

export interface RetryResult {
  /** The outbound jobs moved from deferred to queued. */
  readonly promoted: readonly { readonly queueId: string; readonly jobId: string; readonly domain: string }[];
}

/** One job changed by hold, release or remove. */
export interface ActedJob {
  readonly queueId: string;
  readonly queue: QueueName;
  readonly jobId: string;
  /** Outbound jobs: the destination domain. */
  readonly domain: string | null;
  /** The recipients it carried. */
  readonly recipients: readonly string[];
}

export interface ActionResult {
  readonly done: readonly ActedJob[];
  /** Jobs left alone because a worker is running them now (try again once it is done). */
  readonly active: readonly ActedJob[];
}

/** How long a held job waits before it runs by itself: a year (BullMQ's delayed scores cap far-off times). */
export const holdMs = 365 * 24 * 60 * 60 * 1000;

export interface QueueAdmin {
  list(filter?: QueueFilter): Promise<QueuedMessage[]>;
  /** null when no job of that message is known. */
  show(queueId: string): Promise<MessageDetail | null>;
  summary(): Promise<QueueSummary>;
  /** Run the deferred outbound jobs of one message now. */
  retry(queueId: string): Promise<RetryResult>;
  /** Run every deferred outbound job now, or those to `domain`, or to the domains `match` picks (mail held for its site included). */
  retryAll(filter?: { readonly domain?: string; readonly match?: (domain: string) => boolean }): Promise<RetryResult>;
  /** Keep a message's outbound jobs from being tried until released. */
  hold(queueId: string): Promise<ActionResult>;
  /** Let a held message's outbound jobs run now (those held for their site get one attempt). */
  release(queueId: string): Promise<ActionResult>;
  /**
   * Delete a message's jobs (those to `domain` only, when given) and release their spool
   * references, so that the content goes once nothing else holds it. Needs the admin's spool.
   */
  remove(queueId: string, filter?: { readonly domain?: string }): Promise<ActionResult>;
  /** The queue ids of messages with an unfinished recipient (at `domain`, when given). */
  messageIds(filter?: { readonly domain?: string }): Promise<string[]>;
  close(): Promise<void>;
}

/** BullMQ states of a job that has not finished. */
const liveStates: JobType[] = ['waiting', 'prioritized', 'waiting-children', 'active', 'delayed', 'failed'];

const stateOf: Record<string, RecipientState | null> = {
  waiting: 'queued',
  wait: 'queued',
  prioritized: 'queued',
  paused: 'queued',
  'waiting-children': 'queued',
  active: 'active',
  delayed: 'deferred',
  failed: 'failed',
  completed: null,
};

const schemas = { transfer: TransferJob, outbound: OutboundJob, delivery: DeliveryJob } as const;

/** A job read from a queue, its payload parsed. */
type Parsed = { [N in QueueName]: { queue: N; job: Job; data: z.infer<(typeof schemas)[N]>; bullState: string; nextAttemptAt: string | null } }[QueueName];

/** Inspect the queues under `prefix` (the Mailway key prefix, e.g. `mailway:`) over `connection`. */
export function createQueueAdmin(connection: Redis, options: { prefix?: string; spool?: Spool; trace?: TraceLog } = {}): QueueAdmin {
  const prefix = bullPrefix(options.prefix ?? 'mailway');
  const queues = { transfer: new Queue('transfer', { connection, prefix }), outbound: new Queue('outbound', { connection, prefix }), delivery: new Queue('delivery', { connection, prefix }) } satisfies Record<QueueName, Queue>;

  /** The job, parsed, with its state and (when delayed) the time it runs again; null if unreadable. */
  async function parse(queue: QueueName, job: Job, knownState?: string): Promise<Parsed | null> {
    const result = schemas[queue].safeParse(job.data);
    if (!result.success || job.id === undefined) return null;
    const bullState = knownState ?? (await job.getState());
    let nextAttemptAt: string | null = null;
    if (bullState === 'delayed') {
      // BullMQ scores a delayed job by its due time in ms times 0x1000 (plus a counter).
      const score = await connection.zscore(queues[queue].keys.delayed!, job.id);
      if (score !== null) nextAttemptAt = new Date(Math.floor(Number(score) / 0x1000)).toISOString();
    }
    return { queue, job, data: result.data, bullState, nextAttemptAt } as Parsed;
  }

  /** Every job not yet finished, on every queue. */
  async function liveJobs(only?: QueueName, states: JobType[] = liveStates): Promise<Parsed[]> {
    const out: Parsed[] = [];
    for (const name of only === undefined ? Object.values(queueNames) : [only]) {
      for (const state of states) {
        // Read state by state so each job's state is known without asking Redis per job.
        for (const job of await queues[name].getJobs([state])) {
          const parsed = await parse(name, job, state === 'waiting' ? 'waiting' : state);
          if (parsed !== null) out.push(parsed);
        }
      }
    }
    return out;
  }

  async function list(filter: QueueFilter = {}): Promise<QueuedMessage[]> {
    const now = Date.now();
    return group(await liveJobs(), now)
      .map((m) => ({ ...m, recipients: m.recipients.filter((r) => matchesRecipient(r, filter)) }))
      .filter((m) => m.recipients.length > 0 && (filter.sender === undefined || m.sender.toLowerCase() === stripBrackets(filter.sender).toLowerCase()))
      .filter((m) => (filter.olderThanMs === undefined || m.ageMs >= filter.olderThanMs) && (filter.youngerThanMs === undefined || m.ageMs < filter.youngerThanMs));
  }

  async function show(queueId: string): Promise<MessageDetail | null> {
    if (!queueIdPattern.test(queueId)) return null;
    const found = new Map<string, Parsed>();
    const add = (p: Parsed | null) => {
      if (p !== null && p.data.queueId === queueId) found.set(`${p.queue}|${p.job.id}`, p);
    };
    // Live jobs of the message (alias expansions among them), then its finished ones by their deterministic ids.
    for (const p of await liveJobs()) add(p);
    const byId = async (queue: QueueName, id: string) => {
      const job = await queues[queue].getJob(id);
      add(job === undefined ? null : await parse(queue, job));
    };
    await byId('transfer', transferJobId(queueId));
    const transfers = [...found.values()].filter((p): p is Extract<Parsed, { queue: 'transfer' }> => p.queue === 'transfer');
    for (const t of transfers) {
      const parent = t.job.id!;
      for (const domain of new Set(t.data.envelope.recipients.map((r) => domainOf(r.address)))) await byId('outbound', outboundJobId(queueId, parent, domain));
      for (const r of t.data.envelope.recipients) await byId('delivery', deliveryJobId(queueId, r.address, t.data.parent === undefined ? undefined : parent));
    }
    if (found.size === 0) return null;

    const parsed = [...found.values()].sort((a, b) => a.job.timestamp - b.job.timestamp);
    const first = parsed[0]!;
    const own = transfers.find((t) => t.data.parent === undefined) ?? null;
    const arrivedAt = arrival(first);
    return {
      queueId,
      spoolId: first.data.spoolId,
      carried: parsed.map((p) => (p.queue === 'delivery' ? (p.data.content ?? null) : null)).find((content) => content !== null) ?? null,
      arrivedAt,
      ageMs: Date.now() - Date.parse(arrivedAt),
      size: first.data.size,
      messageId: first.data.messageId,
      envelope: own?.data.envelope ?? rebuiltEnvelope(parsed),
      origin: first.data.origin,
      jobs: parsed.map(describeJob),
      recipients: group(parsed.filter((p) => stateOf[p.bullState] != null), Date.now())[0]?.recipients ?? [],
    };
  }

  async function summary(): Promise<QueueSummary> {
    const now = Date.now();
    const live = await liveJobs();
    const messages = group(live, now);
    const recipients: Record<RecipientState, number> = { queued: 0, active: 0, deferred: 0, held: 0, failed: 0 };
    for (const m of messages) for (const r of m.recipients) recipients[r.state] += 1;
    const byDomain = new Map<string, { domain: string; total: number; buckets: Record<AgeBucket, number> }>();
    for (const p of live) {
      if (p.queue !== 'outbound' || p.bullState !== 'delayed') continue;
      const row = byDomain.get(p.data.domain) ?? { domain: p.data.domain, total: 0, buckets: Object.fromEntries(ageBuckets.map((b) => [b.label, 0])) as Record<AgeBucket, number> };
      const minutes = (now - Date.parse(arrival(p))) / 60_000;
      row.buckets[ageBuckets.find((b) => minutes < b.belowMinutes)!.label] += 1;
      row.total += 1;
      byDomain.set(p.data.domain, row);
    }
    const deferredByDomain = [...byDomain.values()].sort((a, b) => b.total - a.total || a.domain.localeCompare(b.domain));
    return { messages: messages.length, recipients, deferredByDomain };
  }

  async function promote(jobs: Parsed[]): Promise<RetryResult> {
    const promoted: RetryResult['promoted'][number][] = [];
    for (const p of jobs) {
      // A held job waits for its release, not for a flush.
      if (p.queue !== 'outbound' || p.data.held === true) continue;
      // Mail waiting for its site counts as asked for: its next run makes an attempt.
      if (p.data.pull === 'waiting') await p.job.updateData({ ...p.data, pull: 'asked' });
      try {
        await p.job.promote();
      } catch {
        continue; // It left the delayed set meanwhile (a worker took it, or it was promoted already).
      }
      promoted.push({ queueId: p.data.queueId, jobId: p.job.id!, domain: p.data.domain });
      options.trace?.record(p.data.queueId, { type: 'operator', agent: 'admin', action: 'retry', route: p.data.domain, recipients: recipientsOf(p) });
    }
    return { promoted };
  }

  /** A message's jobs, live and finished, as show() finds them. */
  async function jobsOf(queueId: string): Promise<Parsed[]> {
    if (!queueIdPattern.test(queueId)) return [];
    const found = new Map<string, Parsed>();
    const add = (p: Parsed | null) => {
      if (p !== null && p.data.queueId === queueId) found.set(`${p.queue}|${p.job.id}`, p);
    };
    for (const p of await liveJobs()) add(p);
    const byId = async (queue: QueueName, id: string) => {
      if (found.has(`${queue}|${id}`)) return;
      const job = await queues[queue].getJob(id);
      add(job === undefined ? null : await parse(queue, job));
    };
    await byId('transfer', transferJobId(queueId));
    for (const t of [...found.values()].filter((p): p is Extract<Parsed, { queue: 'transfer' }> => p.queue === 'transfer')) {
      for (const domain of new Set(t.data.envelope.recipients.map((r) => domainOf(r.address)))) await byId('outbound', outboundJobId(queueId, t.job.id!, domain));
      for (const r of t.data.envelope.recipients) await byId('delivery', deliveryJobId(queueId, r.address, t.data.parent === undefined ? undefined : t.job.id!));
    }
    return byArrival([...found.values()]);
  }

  /** An operator's action in each message's trace: which jobs, which recipients. */
  function traced(action: string, jobs: readonly ActedJob[]): void {
    if (options.trace === undefined) return;
    for (const queueId of new Set(jobs.map((j) => j.queueId))) {
      const recipients = new Set(jobs.filter((j) => j.queueId === queueId).flatMap((j) => j.recipients));
      options.trace.record(queueId, { type: 'operator', agent: 'admin', action, recipients: [...recipients] });
    }
  }

  const acted = (p: Parsed): ActedJob => ({ queueId: p.data.queueId, queue: p.queue, jobId: p.job.id!, domain: p.queue === 'outbound' ? p.data.domain : null, recipients: recipientsOf(p) });

  async function hold(queueId: string): Promise<ActionResult> {
    const done: ActedJob[] = [];
    const active: ActedJob[] = [];
    for (const p of byArrival(await liveJobs('outbound', ['waiting', 'prioritized', 'delayed', 'active']))) {
      if (p.queue !== 'outbound' || p.data.queueId !== queueId || p.data.held === true) continue;
      // A running attempt rewrites the job's data when it ends: the mark would be lost.
      if (p.bullState === 'active') {
        active.push(acted(p));
        continue;
      }
      await p.job.updateData({ ...p.data, held: true });
      // A waiting job cannot be delayed from outside; the outbound worker delays it when it takes it.
      if (p.bullState === 'delayed') await p.job.changeDelay(holdMs).catch(() => {});
      done.push(acted(p));
    }
    traced('hold', done);
    return { done, active };
  }

  async function release(queueId: string): Promise<ActionResult> {
    const done: ActedJob[] = [];
    for (const p of byArrival(await liveJobs('outbound', ['waiting', 'prioritized', 'delayed']))) {
      if (p.queue !== 'outbound' || p.data.queueId !== queueId || (p.data.held !== true && p.data.pull !== 'waiting')) continue;
      // Released mail for a site that pulls its mail gets one attempt, as if the site had asked.
      const { held: _held, ...data } = p.data;
      await p.job.updateData(data.pull === 'waiting' ? { ...data, pull: 'asked' as const } : data);
      if (p.bullState === 'delayed') await p.job.promote().catch(() => {});
      done.push(acted(p));
    }
    traced('release', done);
    return { done, active: [] };
  }

  async function remove(queueId: string, filter: { readonly domain?: string } = {}): Promise<ActionResult> {
    const spool = options.spool;
    if (spool === undefined) throw new Error('deleting mail needs the spool');
    const domain = filter.domain?.toLowerCase();
    const jobs = (await jobsOf(queueId)).filter((p) => domain === undefined || (p.queue === 'outbound' ? p.data.domain === domain : p.queue === 'delivery' && domainOf(p.data.recipient.address) === domain));
    const children = new Set(jobs.filter((p) => p.queue !== 'transfer').map((p) => `${p.queue}|${p.job.id}`));
    const done: ActedJob[] = [];
    const active: ActedJob[] = [];
    for (const p of jobs) {
      // Deleted first, released after: a job a worker has just taken stays, with its references.
      try {
        await p.job.remove();
      } catch {
        active.push(acted(p));
        continue;
      }
      if (stateOf[p.bullState] != null) await releaseReferences(spool, p, children);
      done.push(acted(p));
    }
    traced('delete', done.filter((j) => jobs.some((p) => p.job.id === j.jobId && stateOf[p.bullState] != null)));
    return { done, active };
  }

  /**
   * The spool references a deleted unfinished job held, released once each under the tokens its
   * worker would have used, so that a release the worker made already is not made again.
   */
  async function releaseReferences(spool: Spool, p: Parsed, children: ReadonlySet<string>): Promise<void> {
    const jobId = p.job.id!;
    switch (p.queue) {
      case 'delivery':
        // A job that carries its message holds no reference: the content went with the job.
        if (!isCarried(p.data)) await spool.releaseOnce(p.data.spoolId, jobId);
        return;
      case 'outbound':
        for (const r of p.data.envelope.recipients) await spool.releaseOnce(p.data.spoolId, `${jobId}|${r.address}`, jobId);
        await spool.unpark(p.data.spoolId, jobId);
        return;
      case 'transfer': {
        // One reference per recipient, unless a job it already added carries it.
        const parent = p.data.parent === undefined ? undefined : jobId;
        for (const [i, r] of p.data.envelope.recipients.entries()) {
          const routed = children.has(`delivery|${deliveryJobId(p.data.queueId, r.address, parent)}`) || children.has(`outbound|${outboundJobId(p.data.queueId, jobId, domainOf(r.address))}`);
          if (!routed) await spool.releaseOnce(p.data.spoolId, `delete.${jobId}.${i}`);
        }
        await spool.unpark(p.data.spoolId, jobId);
        return;
      }
    }
  }

  async function messageIds(filter: { readonly domain?: string } = {}): Promise<string[]> {
    return (await list(filter.domain === undefined ? {} : { domain: filter.domain })).map((m) => m.queueId);
  }

  return {
    list,
    show,
    hold,
    release,
    remove,
    messageIds,
    summary,
    retry: async (queueId) => promote((await liveJobs('outbound', ['delayed'])).filter((p) => p.data.queueId === queueId)),
    retryAll: async (filter = {}) =>
      promote(
        (await liveJobs('outbound', ['delayed'])).filter(
          (p) => p.queue === 'outbound' && (filter.domain === undefined || p.data.domain === filter.domain.toLowerCase()) && (filter.match === undefined || filter.match(p.data.domain)),
        ),
      ),
    close: async () => {
      await Promise.all(Object.values(queues).map((q) => q.close()));
    },
  };
}

/** Jobs in the order they were queued (a message's routing order). */
function byArrival(jobs: Parsed[]): Parsed[] {
  return jobs.sort((x, y) => x.job.timestamp - y.job.timestamp);
}

/** Live jobs grouped by message, oldest first; each recipient once per job. */
function group(jobs: readonly Parsed[], now: number): QueuedMessage[] {
  const messages = new Map<string, { queueId: string; arrivedAt: string; sender: string; size: number; messageId: string | null; recipients: QueuedRecipient[] }>();
  // Recipients in the order their jobs were queued (a message's routing order).
  for (const p of [...jobs].sort((x, y) => x.job.timestamp - y.job.timestamp)) {
    const state = stateIn(p);
    if (state == null) continue;
    const { data } = p;
    const message = messages.get(data.queueId) ?? { queueId: data.queueId, arrivedAt: arrival(p), sender: senderOf(p), size: data.size, messageId: data.messageId, recipients: [] };
    const base = { state, queue: p.queue, jobId: p.job.id!, nextAttemptAt: p.nextAttemptAt, error: p.job.failedReason || null };
    for (const address of recipientsOf(p)) {
      const last = p.queue === 'outbound' ? (p.data.progress?.last.find((l) => l.address === address) ?? null) : null;
      message.recipients.push({ address, ...base, lastAttempt: last });
    }
    messages.set(data.queueId, message);
  }
  return [...messages.values()].sort((a, b) => a.arrivedAt.localeCompare(b.arrivedAt) || a.queueId.localeCompare(b.queueId)).map((m) => ({ ...m, ageMs: now - Date.parse(m.arrivedAt) }));
}

/**
 * The envelope from a message's outbound jobs when its transfer job is gone (completed jobs
 * are kept a day): their recipients together, without those delivered locally.
 */
function rebuiltEnvelope(jobs: readonly Parsed[]): Envelope | null {
  const outbound = jobs.flatMap((p) => (p.queue === 'outbound' ? [p.data.envelope] : []));
  // A message for one local recipient never had a transfer job: its delivery job is all there is.
  const delivery = jobs.flatMap((p) => (p.queue === 'delivery' ? [p.data] : []));
  const recipients = [...outbound.flatMap((e) => e.recipients), ...delivery.map((d) => d.recipient)];
  const first = outbound[0];
  if (first !== undefined) return { ...first, recipients };
  const local = delivery[0];
  if (local === undefined) return null;
  const params = local.mailParams;
  return { from: local.from, recipients, body: params?.body ?? null, smtputf8: params?.smtputf8 ?? false, ret: params?.ret ?? null, envid: params?.envid ?? null, requireTls: params?.requireTls ?? false };
}

function describeJob(p: Parsed): MessageJob {
  return {
    queue: p.queue,
    jobId: p.job.id!,
    bullState: p.bullState,
    state: stateIn(p),
    attemptsMade: p.job.attemptsMade,
    nextAttemptAt: p.nextAttemptAt,
    error: p.job.failedReason || null,
    recipients: recipientsOf(p),
    domain: p.queue === 'outbound' ? p.data.domain : null,
    progress: p.queue === 'outbound' ? (p.data.progress ?? null) : null,
  };
}

/** The recipients' state a job gives: held outbound jobs (by an operator, or for their site) are held whatever BullMQ's state (but active). */
function stateIn(p: Parsed): RecipientState | null {
  const state = stateOf[p.bullState] ?? null;
  const held = p.queue === 'outbound' && (p.data.held === true || p.data.pull === 'waiting');
  return held && (state === 'queued' || state === 'deferred') ? 'held' : state;
}

/** The recipients a job still has to handle: an outbound job's pending ones, else all of its own. */
function recipientsOf(p: Parsed): string[] {
  switch (p.queue) {
    case 'transfer':
      return p.data.envelope.recipients.map((r) => r.address);
    case 'outbound':
      return (p.data.progress?.pending ?? p.data.envelope.recipients).map((r) => r.address);
    case 'delivery':
      return [p.data.recipient.address];
  }
}

function senderOf(p: Parsed): string {
  return p.queue === 'delivery' ? p.data.from : p.data.envelope.from;
}

/** When the message arrived: its origin's time, or failing that its queue id's. */
function arrival(p: Parsed): string {
  const at = Date.parse(p.data.origin.receivedAt);
  return Number.isNaN(at) ? queueIdTime(p.data.queueId).toISOString() : new Date(at).toISOString();
}

function matchesRecipient(r: QueuedRecipient, filter: QueueFilter): boolean {
  if (filter.state !== undefined && r.state !== filter.state) return false;
  if (filter.domain !== undefined && domainOf(r.address) !== filter.domain.toLowerCase()) return false;
  if (filter.recipient !== undefined && r.address.toLowerCase() !== stripBrackets(filter.recipient).toLowerCase()) return false;
  return true;
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

function stripBrackets(address: string): string {
  return address.replace(/^<(.*)>$/, '$1');
}
