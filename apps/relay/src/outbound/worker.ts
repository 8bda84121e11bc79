/**
 * The outbound worker: consumes `outbound` jobs (a message's recipients in one remote domain)
 * and delivers them to that domain's next hops; the sending half of the MTA.
 *
 * One run is one attempt, in three steps:
 * 1. Attempt: route the domain (transport map, smart host or MX) and offer the message to the
 *    hops (attempt.ts); every pending recipient comes back delivered, deferred or failed.
 *    Deferred recipients of a message past its queue lifetime fail (4.4.7).
 * 2. Record: the outcomes, the notices owed (each with its own queue id) and the next attempt's
 *    time are written into the job before anything else happens, so a worker that dies after
 *    this point finishes the same attempt instead of making a new one.
 * 3. Settle: notices are handed to the intake (failure DSN, delay notice, success DSN), the
 *    spool references of delivered and failed recipients are released (once each), and the
 *    job is rescheduled for its deferred recipients or completes.
 *
 * Reads: the job, the spool, DNS, the remote servers. Emits: one log line per recipient per
 * attempt (queue id, recipient, outcome, status, remote host, TLS), metrics, notices.
 */
import { Readable } from 'node:stream';
import { DelayedError, type Job, type Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AttemptRecord, OutboundJob, OutboundProgress } from '@mailway/queue/jobs';
import type { HandoffTargets } from '@mailway/intake';
import { holdMs } from '@mailway/queue/admin';
import { createMailWorker } from '@mailway/queue/queues';
import { type Spool, SpoolNotFoundError } from '@mailway/queue/spool';
import type { ClientAuth, SmtpClient } from '@mailway/smtp/client';
import { readHeaderBlock } from '@mailway/smtp/message';
import type { Logger } from '@mailway/runtime';
import { type AttemptOptions, type AttemptResult, type OutboundMessage, type RecipientOutcome, attemptDelivery, attemptOnSession } from './attempt.js';
import { type OutboundNoticeContext, planNotices, sendOutboundNotice } from './notices.js';
import { type Verdict, deferred, failed } from './outcome.js';
import { type Route, type RouterOptions, routeDomain } from './routes.js';
import type { DownDestinations } from './down.js';
import type { DestinationLeases } from './leases.js';
import type { PullLocks } from '../pull/locks.js';
import type { DestinationRates } from './rates.js';
import { OutboundSessions, type SessionCacheOptions } from './sessions.js';
import type { TransportSecurity } from './security/requirements.js';
import { type RetryPolicy, delayWarningDue, expiresAt, nextAttempt } from './schedule.js';

export interface OutboundMetrics {
  readonly attempts: { inc(labels: { outcome: string }, value?: number): void };
  /** Sessions opened and reused (see sessions.ts). */
  readonly sessions?: { inc(labels: { kind: string }): void };
  /** Attempts that stepped aside for a destination's rate limit. */
  readonly paced?: { inc(): void };
  /** Attempts that widened (success) or narrowed (congestion) a destination's concurrency window. */
  readonly concurrencyFeedback?: { inc(labels: { signal: string }): void };
}

export interface OutboundSettings {
  readonly hostname: string;
  readonly helo: string;
  readonly router: RouterOptions;
  readonly retry: RetryPolicy;
  readonly maxHosts: number;
  /** Source addresses per family. */
  readonly bind?: AttemptOptions['bind'];
  readonly startTls: AttemptOptions['startTls'];
  /** Credentials and TLS policy for the smart host. */
  readonly smarthost: { readonly auth: ClientAuth | null; readonly startTls: AttemptOptions['startTls'] };
  readonly returnLimit: number;
  readonly timeouts?: AttemptOptions['timeouts'];
  /** Sessions kept between messages and attempts at once per destination. */
  readonly sessions: SessionCacheOptions;
  /** Domains whose sites pull their mail (RELAY_HOLD_DOMAINS): held until asked for; none when unset. */
  readonly holds?: (domain: string) => boolean;
  /** Trusted roots (PEM) for verifying MX hosts' certificates (REQUIRETLS, MTA-STS); Node's bundled roots when unset. */
  readonly tlsCa?: string;
}

/** A session a site opened to pull its mail (ODMR, turned around): the attempt goes over it. */
export interface PullChannel {
  readonly client: SmtpClient;
  /** The site's name (its EHLO) and address, for logs and DSNs. */
  readonly host: string;
  readonly address: string;
}

/** What a run needs of its BullMQ job (a pull run passes one that waits in the delayed set). */
export type OutboundRun = Pick<Job, 'id' | 'attemptsStarted' | 'updateData' | 'moveToDelayed'>;

export interface OutboundWorkerOptions {
  readonly spool: Spool;
  /** Where notices go in: the intake's spool and transfer queue. */
  readonly intake: HandoffTargets;
  readonly settings: OutboundSettings;
  readonly logger: Logger;
  readonly metrics: OutboundMetrics;
  /** Open sessions shared by this process's attempts; none: every attempt opens its own, unlimited per destination. */
  readonly sessions?: OutboundSessions;
  /**
   * The spool over the Redis connection the worker itself uses, for releases: sent there, a
   * release precedes the job's completion on the wire. Without it releases go through `spool`
   * and are waited for.
   */
  readonly releases?: Spool;
  /** Destinations marked down (see down.ts); none: every attempt connects. */
  readonly down?: DownDestinations;
  /** Destination slots shared with other processes (see leases.ts); none: slots are this process's own. */
  readonly leases?: DestinationLeases;
  /** Domains being pulled now (pull/locks.ts): their mail is left to the puller. */
  readonly pullLocks?: PullLocks;
  /** Deliver over this session instead of routing the domain (an ODMR run). */
  readonly channel?: PullChannel;
  /** Destination rate limits (see rates.ts); none: no destination is paced. */
  readonly rates?: DestinationRates;
  /** What receiving domains ask of TLS (DANE, MTA-STS) and TLS reports; none: opportunistic STARTTLS as configured. */
  readonly security?: TransportSecurity;
}

/** Messages up to this size are read whole before their attempt; larger ones are streamed. */
const readAheadLimit = 256 * 1024;

/** A reserved send time this close (ms) is taken at once. */
const pacingSlackMs = 20;

/** A destination none of whose attempts has finished for this long, while others wait, is stuck. */
const stuckAfterMs = 1_000;

/** Mail for a domain a site is pulling now waits this long before it looks again. */
const pulledElsewhereMs = 5_000;

/** Process one outbound job (exported for tests that drive it without a worker). */
export function outboundProcessor(options: OutboundWorkerOptions): (data: OutboundJob, job: OutboundRun, token?: string) => Promise<void> {
  const { spool, settings, logger, metrics, sessions } = options;

  return async (input, job, token) => {
    let data = input;
    const jobId = job.id ?? '';
    const nullSender = data.envelope.from === '';
    const arrivedAt = Date.parse(data.origin.receivedAt);
    let progress: OutboundProgress = data.progress ?? { attempts: 0, pending: data.envelope.recipients, warned: false, last: [], settling: null };

    // Nothing left: a run that died after settling the last recipients, before the job was done.
    if (progress.settling === null && progress.pending.length === 0) return;

    // Held by an operator while it waited: it waits again until released (`mailway queue release`).
    if (data.held === true && progress.settling === null && token !== undefined) {
      await job.moveToDelayed(Date.now() + holdMs, token);
      throw new DelayedError();
    }

    // Held for its site (RELAY_HOLD_DOMAINS): it waits until the site asks (ETRN, ODMR, or an
    // operator's release) or its lifetime ends; then it is returned, never tried by MX.
    const sitePulls = settings.holds?.(data.domain) === true;
    let neverPulled = false;
    if (sitePulls && options.channel === undefined && progress.settling === null && token !== undefined) {
      if ((await options.pullLocks?.held(data.domain)) === true) {
        await job.moveToDelayed(Date.now() + pulledElsewhereMs + Math.floor(Math.random() * 1_000), token);
        throw new DelayedError();
      }
      const until = expiresAt(arrivedAt, settings.retry, nullSender);
      if (data.pull !== 'asked' && Date.now() < until) {
        if (data.pull !== 'waiting') {
          await job.updateData({ ...data, pull: 'waiting' });
          logger.info({ queueId: data.queueId, job: jobId, domain: data.domain, recipients: progress.pending.map((r) => r.address), until: new Date(until).toISOString() }, 'held until its site asks for it');
        }
        await job.moveToDelayed(until, token);
        throw new DelayedError();
      }
      neverPulled = data.pull !== 'asked';
    }

    // 1. Attempt (unless a run that died left one to settle).
    if (progress.settling === null) {
      // A small message is read now, before a destination slot is taken, so that a session never
      // waits for the spool. A run after one that died may find the content gone: the run before
      // settled the last recipients without a record (see below) and died before the job was done.
      let content: Buffer | null = null;
      try {
        if (data.size <= readAheadLimit) content = await spool.readAll(data.spoolId);
        else if ((job.attemptsStarted ?? 0) > 1 && (await spool.stat(data.spoolId)) === null) throw new SpoolNotFoundError(data.spoolId);
      } catch (error) {
        if (!(error instanceof SpoolNotFoundError)) throw error;
        logger.warn({ queueId: data.queueId, job: jobId, domain: data.domain }, 'outbound content already released; nothing left to send');
        return;
      }
      const outcomes = neverPulled ? unpulled(progress.pending) : await attempt(data, progress, content, job, token);
      // One attempt for mail its site asked for: what is left waits for the site again.
      if (sitePulls) data = { ...data, pull: 'waiting' };
      const now = Date.now();
      const records = outcomes.map((o) => record(o, now));
      const stillDeferred = records.filter((r) => r.state === 'deferred');
      let retryAt: number | null = null;
      if (stillDeferred.length > 0) {
        const step = nextAttempt(arrivedAt, now, settings.retry, nullSender);
        // Mail for a site that pulls it waits for the site, up to its lifetime.
        if (step.kind === 'retry') retryAt = sitePulls ? expiresAt(arrivedAt, settings.retry, nullSender) : step.at;
        else for (const r of stillDeferred) Object.assign(r, expired(r));
      }
      const delayDue = retryAt !== null && delayWarningDue(arrivedAt, now, settings.retry, nullSender, progress.warned);
      const reportedOnward = outcomes.filter((o) => o.verdict.state === 'delivered' && o.remote?.dsn === true).map((o) => o.recipient.address);
      const notices = planNotices(data, records, delayDue, reportedOnward);

      // 2. Record, before any effect that a new run could not repeat: notices (each sent once)
      // and the next attempt. An attempt that only releases references (every recipient
      // delivered, or failed with nothing to return) needs no record: each release is once
      // per recipient, and a run that finds the content gone ends there (above).
      progress = {
        attempts: progress.attempts + 1,
        pending: progress.pending.filter((r) => records.some((o) => o.address === r.address && o.state === 'deferred')),
        warned: progress.warned || notices.some((n) => n.kind === 'delay'),
        last: [...progress.last.filter((l) => !records.some((r) => r.address === l.address)), ...records],
        settling: { outcomes: records, notices, retryAt },
      };
      if (notices.length > 0 || retryAt !== null) await job.updateData({ ...data, progress });
      for (const r of records) {
        metrics.attempts.inc({ outcome: r.state });
        const line = { queueId: data.queueId, job: jobId, domain: data.domain, to: r.address, outcome: r.state, status: r.status, remote: r.remoteMta, tls: r.tls, attempt: progress.attempts, diagnostic: r.diagnostic };
        if (r.state === 'delivered') logger.info(line, 'delivered');
        else if (r.state === 'deferred') logger.warn({ ...line, retryAt: new Date(retryAt ?? now).toISOString() }, 'delivery deferred');
        else logger.error(line, nullSender ? 'delivery failed; a notification is never returned' : 'delivery failed');
      }
      options.intake.trace?.record(data.queueId, ...records.map((r) => ({ type: r.state, agent: 'relay' as const, recipient: r.address, remote: r.remoteMta, reply: r.diagnostic, status: r.status, tls: r.tls, attempt: progress.attempts })));
    }

    // 3. Settle: notices, then spool references, then the next attempt.
    const settling = progress.settling;
    if (settling === null) return;
    const context: OutboundNoticeContext = { hostname: settings.hostname, spool, targets: options.intake, returnLimit: settings.returnLimit, agent: 'relay', expiresAt: new Date(expiresAt(arrivedAt, settings.retry, nullSender)) };
    for (const notice of settling.notices) {
      await sendOutboundNotice(notice, data, settling.outcomes, context);
      logger.info({ queueId: data.queueId, job: jobId, notice: notice.queueId, kind: notice.kind, to: data.envelope.from, recipients: notice.addresses }, `${notice.kind} notice queued`);
    }
    // Noted as sent before the releases: once they delete the original, a run that resumes here
    // could not read it to write the notices again.
    if (settling.notices.length > 0) {
      progress = { ...progress, settling: { ...settling, notices: [] } };
      await job.updateData({ ...data, progress });
    }
    for (const r of settling.outcomes) {
      if (r.state === 'deferred') continue;
      const released = (options.releases ?? spool).releaseOnce(data.spoolId, `${jobId}|${r.address}`, jobId);
      // Over the worker's own connection the release goes ahead of the job's completion (or its
      // next record), which BullMQ sends on the same connection: Redis takes both in that order,
      // with one fsync, without waiting here for the first. A release refused by Redis leaves
      // the content to its deadline.
      if (options.releases === undefined) await released;
      else released.catch((error: unknown) => logger.error({ queueId: data.queueId, job: jobId, to: r.address, err: error }, 'spool release failed; the content stays until its deadline'));
    }
    // Nothing deferred: the job completes, and a record of this settling would go with it.
    const retryAt = settling.retryAt;
    if (retryAt === null) return;
    progress = { ...progress, settling: null };
    await job.updateData({ ...data, progress });
    await job.moveToDelayed(retryAt, token);
    throw new DelayedError();
  };

  /** Route the domain and offer the message to its hops (or to the pulling site); a verdict for every recipient. */
  async function attempt(data: OutboundJob, progress: OutboundProgress, content: Buffer | null, job: OutboundRun, token: string | undefined): Promise<RecipientOutcome[]> {
    const pending = progress.pending;
    if (options.channel !== undefined) {
      const { client, host, address } = options.channel;
      return [...(await attemptOnSession(client, { host, address, preference: 0 }, await messageOf(data, pending, content))).recipients];
    }
    const route = await routeDomain(data.domain, settings.router).catch((error: unknown) => ({ kind: 'failed' as const, permanent: false, status: '4.4.3', detail: `routing failed: ${String(error)}` }));
    if (route.kind === 'failed') {
      const verdict: Verdict = route.permanent ? failed(route.status, route.detail) : deferred(route.status, route.detail);
      return pending.map((recipient) => ({ recipient, verdict, remote: null, tls: null }));
    }
    const viaSmarthost = route.configured === 'smarthost';
    // All smart host mail is one destination, as in Postfix; otherwise the domain is.
    const destination = viaSmarthost ? '[smarthost]' : data.domain;
    const down = (await options.down?.reason(destination)) ?? null;
    if (down !== null) {
      const verdict = deferred('4.4.1', `delivery temporarily suspended: ${down}`);
      return pending.map((recipient) => ({ recipient, verdict, remote: null, tls: null }));
    }
    await paceFor(destination, data, progress.attempts, job, token);
    // The domain's own TLS requirement applies to its MX hosts, not to next hops configured here.
    const security = route.configured === null && options.security !== undefined ? await options.security.requirementFor(data.domain, route.hops, { queueId: data.queueId }) : undefined;
    const slot = await slotFor(destination, job, token);
    let result: AttemptResult;
    try {
      result = await deliver(data, pending, content, route, viaSmarthost, security);
    } finally {
      slot?.release();
    }
    if (security !== undefined) options.security?.report(data.domain, security, result.policy, { queueId: data.queueId });
    adjustConcurrency(destination, result);
    const reason = result.recipients[0]?.verdict.diagnostic;
    if (result.unreachable === true && reason !== undefined && options.down !== undefined) {
      await options.down.mark(destination, reason);
      logger.warn({ destination, reason }, 'destination marked down: no host could be reached');
    }
    return [...result.recipients];
  }

  /**
   * Keeps to the destination's rate limit: this attempt reserves a send time, and when that is
   * later than now the job steps aside until then (no attempt counted, nothing held) and goes
   * at that time without reserving again.
   */
  async function paceFor(destination: string, data: OutboundJob, attempts: number, job: OutboundRun, token: string | undefined): Promise<void> {
    const interval = options.rates?.interval(destination);
    if (options.rates === undefined || interval === undefined || token === undefined) return;
    if (data.paced?.attempts === attempts) return;
    const wait = await options.rates.reserve(destination, interval);
    // A few ms early or late changes nothing worth a round through the delayed set.
    if (wait <= pacingSlackMs) return;
    const at = Date.now() + wait;
    metrics.paced?.inc();
    logger.debug({ queueId: data.queueId, job: job.id, destination, sendAt: new Date(at).toISOString() }, `paced: waits ${wait} ms for ${destination}'s rate limit`);
    await job.updateData({ ...data, paced: { attempts, at } });
    await job.moveToDelayed(at, token);
    throw new DelayedError();
  }

  /** Feeds what the attempt's hosts said back into the destination's concurrency window (sessions.ts). */
  function adjustConcurrency(destination: string, result: AttemptResult): void {
    if (sessions === undefined) return;
    const signal = result.tried.some((t) => t.congested === true) ? 'congestion' : result.tried.some((t) => t.failure === null) ? 'success' : null;
    if (signal === null) return;
    metrics.concurrencyFeedback?.inc({ signal });
    const { before, after } = sessions.feedback(destination, signal);
    if (after < before) logger.warn({ destination, concurrency: after, was: before }, `${destination} turned a session away as one too many: attempts at once lowered to ${after}`);
    else if (after > before) logger.debug({ destination, concurrency: after, was: before }, `attempts at once for ${destination} raised to ${after}`);
  }

  /**
   * A slot for `destination`, waiting for one in turn. A destination whose slots have not moved
   * for a while (its hosts are slow or hang) gets no more waiting attempts: this one steps aside
   * for a few seconds (no attempt counted), so that the process's job slots stay free for mail
   * to other destinations.
   */
  async function slotFor(destination: string, job: OutboundRun, token: string | undefined) {
    if (sessions === undefined) return null;
    if (sessions.waited(destination) >= stuckAfterMs) {
      await job.moveToDelayed(Date.now() + stuckAfterMs * 5 + Math.floor(Math.random() * stuckAfterMs), token);
      throw new DelayedError();
    }
    return sessions.slot(destination);
  }

  /** The message as the envelope was accepted, its content read now or streamed per try. */
  async function messageOf(data: OutboundJob, pending: OutboundJob['envelope']['recipients'], content: Buffer | null): Promise<OutboundMessage> {
    return {
      from: data.envelope.from,
      recipients: pending,
      body: () => content ?? Readable.from(spool.read(data.spoolId)),
      size: data.size,
      bodyType: data.envelope.body,
      // Asked of the next hop only when needed (as Postfix does): a client may declare SMTPUTF8
      // for an all-ASCII message, which a host without it can take as it is. UTF-8 addresses
      // make the client ask for it anyway.
      smtputf8: data.envelope.smtputf8 && (await utf8Header(data.spoolId, content)),
      ret: data.envelope.ret,
      envid: data.envelope.envid,
      requireTls: data.envelope.requireTls,
    };
  }

  async function deliver(data: OutboundJob, pending: OutboundJob['envelope']['recipients'], content: Buffer | null, route: Extract<Route, { kind: 'hops' }>, viaSmarthost: boolean, security: AttemptOptions['security']): Promise<AttemptResult> {
    return attemptDelivery(
      route.hops,
      await messageOf(data, pending, content),
      {
        port: route.port,
        helo: settings.helo,
        startTls: viaSmarthost ? settings.smarthost.startTls : settings.startTls,
        ...(viaSmarthost && settings.smarthost.auth !== null ? { auth: settings.smarthost.auth } : {}),
        lmtp: route.lmtp,
        maxHosts: settings.maxHosts,
        ...(settings.bind === undefined ? {} : { bind: settings.bind }),
        // Loop detection by name for MX hosts; a configured next hop (an LMTP server here) may share the name.
        ...(route.configured === null ? { ownNames: settings.router.ownNames } : {}),
        ...(settings.timeouts ? { timeouts: settings.timeouts } : {}),
        ...(sessions ? { sessions } : {}),
        ...(security === undefined ? {} : { security }),
        ...(settings.tlsCa === undefined || viaSmarthost ? {} : { tls: { ca: settings.tlsCa } }),
      },
    );
  }

  /** Whether the header of `spoolId` (or of `content`, read already) has octets beyond ASCII (RFC 6532); one too large to look at counts as yes. */
  async function utf8Header(spoolId: string, content: Buffer | null): Promise<boolean> {
    if (content !== null) {
      const end = content.indexOf('\r\n\r\n');
      return content.subarray(0, end < 0 ? content.length : end).some((octet) => octet > 0x7f);
    }
    try {
      const { header, rest } = await readHeaderBlock(spool.read(spoolId), { maxHeaderBytes: 1024 * 1024 });
      // Started, then left: that hands the spool's reader back (a file spool closes its file).
      const unread = rest[Symbol.asyncIterator]();
      await unread.next();
      await unread.return?.();
      return header.some((octet) => octet > 0x7f);
    } catch {
      return true;
    }
  }
}

/** The record of one recipient's attempt. */
function record(outcome: RecipientOutcome, now: number): AttemptRecord {
  const { verdict } = outcome;
  return {
    address: outcome.recipient.address,
    at: new Date(now).toISOString(),
    state: verdict.state,
    status: verdict.status,
    diagnostic: verdict.diagnostic,
    remoteMta: outcome.remote?.host ?? null,
    remoteReply: verdict.remote,
    tls: outcome.tls,
  };
}

/** Mail for a site that never asked for it within its lifetime: deferred, so that it expires (4.4.7) saying why. */
function unpulled(pending: OutboundJob['envelope']['recipients']): RecipientOutcome[] {
  const verdict = deferred('4.4.1', 'held for its site, which did not ask for it (ETRN, ODMR)');
  return pending.map((recipient) => ({ recipient, verdict, remote: null, tls: null }));
}

/** A deferred recipient of a message past its lifetime: failed, with why it waited. */
function expired(r: AttemptRecord): Partial<AttemptRecord> {
  return { state: 'failed', status: '4.4.7', diagnostic: `delivery time expired; last attempt: ${r.diagnostic}`, remoteReply: false };
}

/** Start consuming the `outbound` queue over `connection` (a 'worker' role client). */
export function createOutboundWorker(connection: Redis, options: OutboundWorkerOptions & { prefix: string; concurrency: number; locks?: { lockDuration: number; stalledInterval: number } }): Worker {
  const sessions = options.sessions ?? new OutboundSessions(options.settings.sessions, options.metrics.sessions, options.leases);
  const process = outboundProcessor({ ...options, sessions });
  const worker = createMailWorker('outbound', connection, process, { prefix: options.prefix, concurrency: options.concurrency, ...options.locks });
  worker.on('closed', () => void sessions.close());
  return worker;
}
