/**
 * On-Demand Mail Relay (RFC 2645): a site with no fixed address connects to the ODMR port
 * (366), authenticates, and asks with `ATRN [domain[,domain]]` for the mail held for its
 * domains (RELAY_HOLD_DOMAINS, granted to the user by RELAY_ODMR_USERS). Mailway answers 250
 * and turns the connection around: the site now speaks as the server (its 220 comes first) and
 * Mailway, as the client, delivers the domains' held mail over the same connection. Each
 * message goes through the outbound worker's own processing (outbound/worker.ts), so delivered,
 * deferred and failed recipients end as after any attempt: released, held for the site again,
 * or returned to the sender.
 *
 *   530 5.7.0 Authentication required                   (ATRN before AUTH)
 *   450 4.7.1 Access denied to <domain>                 (not granted to this user)
 *   451 4.3.0 Unable to process ATRN request now        (pulled by another session, Redis trouble)
 *   453 4.3.0 You have no mail
 *   250 2.0.0 OK now reversing the connection
 *
 * Reads: the site's commands, the outbound queue's held jobs, the spool. Writes: the jobs (as the
 * outbound worker does), the pull locks. Emits: one log line per ATRN and per turned session,
 * relay_odmr_sessions_total and relay_odmr_messages_total.
 */
import { type AddressInfo, type Server, type Socket, createServer as createNetServer } from 'node:net';
import { DelayedError, type Job } from 'bullmq';
import type { OutboundJob } from '@mailway/queue/jobs';
import type { MailQueue } from '@mailway/queue/queues';
import type { Logger } from '@mailway/runtime';
import { type SmtpClient, connect } from '@mailway/smtp/client';
import { type AdmissionOptions, type CommandExtension, type HookResult, type ServerHooks, type Session, type SmtpServer, createServer, defer, handover, reject } from '@mailway/smtp/server';
import { reply } from '@mailway/smtp/reply';
import { type OutboundRun, type OutboundWorkerOptions, outboundProcessor } from '../outbound/worker.js';
import { type PullGrants, parseDomain } from './domains.js';
import type { PullLock, PullLocks } from './locks.js';

export type OdmrOutcome = 'turned' | 'no_mail' | 'refused' | 'locked' | 'failed';
export type OdmrMessageOutcome = 'finished' | 'deferred' | 'error';

export interface OdmrOptions {
  readonly hostname: string;
  readonly tls: { readonly key: string | Buffer; readonly cert: string | Buffer };
  readonly allowInsecureAuth: boolean;
  /** Connection limits (the port 25 settings); none: unlimited. */
  readonly admission?: AdmissionOptions;
  readonly onAuth: NonNullable<ServerHooks['onAuth']>;
  /** Puts the listener's hooks behind the agent's gate (421 until it serves); none: as they are. */
  readonly gate?: (hooks: ServerHooks) => ServerHooks;
  readonly grants: PullGrants;
  readonly locks: PullLocks;
  readonly outbound: MailQueue<'outbound'>;
  /** How each message is processed: the outbound worker's options, less the channel. */
  readonly processing: Omit<OutboundWorkerOptions, 'channel' | 'sessions' | 'down' | 'leases' | 'pullLocks'>;
  readonly logger: Logger;
  readonly metrics: {
    readonly sessions: { inc(labels: { outcome: OdmrOutcome }): void };
    readonly messages: { inc(labels: { outcome: OdmrMessageOutcome }): void };
  };
  /** How long the turned session waits for each reply of the site (ms); the client's defaults when unset. */
  readonly timeout?: number;
}

export interface OdmrListener {
  listen(host: string, port: number): Promise<number>;
  /** Stops accepting; turned sessions get `timeout` ms to finish, then are cut. */
  close(timeout: number): Promise<void>;
}

const authRequired = reject(530, '5.7.0', 'Authentication required');
const noMail = defer(453, '4.3.0', 'You have no mail');
const busy = defer(451, '4.3.0', 'Unable to process ATRN request now');
const badSyntax = reject(501, '5.5.4', 'Syntax: ATRN [domain[,domain]]');

/** The ODMR listener: an SMTP server whose only business is ATRN. */
export function createOdmrListener(options: OdmrOptions): OdmrListener {
  const { logger, metrics } = options;
  const turned = new Set<Promise<void>>();
  const clients = new Set<SmtpClient>();

  const atrn: CommandExtension = {
    verb: 'ATRN',
    keyword: 'ATRN',
    async handle(session, argument) {
      const log = { session: session.id, ip: session.remote.address, user: session.user, argument };
      const answer = (outcome: OdmrOutcome, verdict: HookResult, fields: object = {}): HookResult => {
        metrics.sessions.inc({ outcome });
        logger.info({ ...log, outcome, ...fields }, 'atrn');
        return verdict;
      };

      // Who asks, and for what.
      if (session.user === null) return answer('refused', authRequired, { reason: 'not authenticated' });
      const granted = options.grants.get(session.user.toLowerCase()) ?? new Set<string>();
      let domains: string[];
      try {
        domains = argument.trim() === '' ? [...granted] : [...new Set(argument.split(',').map(parseDomain))];
      } catch {
        return answer('refused', badSyntax, { reason: 'syntax' });
      }
      const denied = domains.find((d) => !granted.has(d)) ?? (domains.length === 0 ? '(none granted)' : undefined);
      if (denied !== undefined) return answer('refused', defer(450, '4.7.1', `Access denied to ${denied}`), { reason: 'not granted', domain: denied });

      // One puller per domain; then the held mail, if any.
      let lock: PullLock | null = null;
      try {
        lock = await options.locks.acquire(domains);
        if (lock === null) return answer('locked', busy, { domains, reason: 'pulled by another session' });
        const jobs = await heldJobs(domains);
        if (jobs.length === 0) {
          await lock.release();
          return answer('no_mail', noMail, { domains });
        }
        const held = lock;
        metrics.sessions.inc({ outcome: 'turned' });
        logger.info({ ...log, outcome: 'turned', domains, messages: jobs.length }, 'atrn');
        return handover(reply(250, '2.0.0', 'OK now reversing the connection'), (socket, unread) => {
          const run = deliver(session, socket, unread, jobs, held).finally(() => turned.delete(run));
          turned.add(run);
        });
      } catch (error) {
        await lock?.release().catch(() => {});
        logger.error({ ...log, err: error }, 'atrn failed');
        metrics.sessions.inc({ outcome: 'failed' });
        return busy;
      }
    },
  };

  const server: SmtpServer = createServer({
    hostname: options.hostname,
    tls: options.tls,
    auth: { required: true, allowInsecure: options.allowInsecureAuth },
    ...(options.admission === undefined ? {} : { admission: options.admission }),
    commands: [atrn],
    hooks: (options.gate ?? ((hooks) => hooks))({
      onAuth: options.onAuth,
      // Mail does not come in here: the port is for taking it away.
      onMailFrom: () => reject(502, '5.5.1', 'Mail is not accepted on the ODMR port: use ATRN'),
    }),
    onError: (error, session) => logger.warn({ session: session?.id ?? null, err: error }, 'odmr connection error'),
  });
  let listener: Server | null = null;

  /**
   * The domains' held jobs, waiting in the delayed set (not an operator's hold). A job whose
   * last attempt was recorded but not settled (its run died) goes to the outbound worker, which
   * settles it at once; it is not sent again here.
   */
  async function heldJobs(domains: readonly string[]): Promise<Job<OutboundJob>[]> {
    const wanted = new Set(domains);
    const jobs = ((await options.outbound.queue.getJobs(['delayed'])) as Job<OutboundJob>[]).filter((job) => wanted.has(job.data.domain) && job.data.held !== true);
    const unsettled = jobs.filter((job) => (job.data.progress?.settling ?? null) !== null);
    for (const job of unsettled) await job.promote().catch(() => {});
    return jobs.filter((job) => !unsettled.includes(job)).sort((a, b) => a.timestamp - b.timestamp);
  }

  /** The turned session: Mailway as the client, each held message through the outbound processing. */
  async function deliver(session: Session, socket: Socket, unread: Buffer | null, jobs: readonly Job<OutboundJob>[], lock: PullLock): Promise<void> {
    const log = { session: session.id, ip: session.remote.address, user: session.user, domains: lock.domains };
    const site = session.helo?.name ?? session.remote.address;
    let client: SmtpClient | null = null;
    const counts: Record<OdmrMessageOutcome, number> = { finished: 0, deferred: 0, error: 0 };
    try {
      client = await connect({
        socket: { socket, unread },
        host: site,
        name: options.hostname,
        // A session already in TLS stays as it is; otherwise TLS if the site offers it, any certificate.
        startTls: session.tls === null ? 'opportunistic' : 'never',
        tls: { rejectUnauthorized: false },
        ...(options.timeout === undefined ? {} : { timeouts: { greeting: options.timeout, command: options.timeout, mail: options.timeout, rcpt: options.timeout, dataInit: options.timeout, dataEnd: options.timeout } }),
      });
      clients.add(client);
      const process = outboundProcessor({ ...options.processing, channel: { client, host: site, address: session.remote.address } });
      for (const job of jobs) {
        if (client.closed) break;
        const outcome = await deliverOne(process, job);
        counts[outcome] += 1;
        metrics.messages.inc({ outcome });
      }
      logger.info({ ...log, ...counts }, 'odmr session done');
    } catch (error) {
      logger.warn({ ...log, ...counts, err: error }, 'odmr session failed');
    } finally {
      if (client !== null) {
        clients.delete(client);
        await client.quit();
      } else socket.destroy();
      await lock.release().catch((error: unknown) => logger.warn({ ...log, err: error }, 'pull lock not released: it lapses'));
    }
  }

  /**
   * One held message over the turned session. The job stays in the delayed set meanwhile (the
   * pull lock keeps the outbound worker away): a deferral moves its time, and a job with nothing
   * left is handed to the worker, which completes it at once.
   */
  async function deliverOne(process: ReturnType<typeof outboundProcessor>, stale: Job<OutboundJob>): Promise<OdmrMessageOutcome> {
    const job = (await options.outbound.queue.getJob(stale.id ?? '')) as Job<OutboundJob> | undefined;
    if (job === undefined || (await job.getState()) !== 'delayed' || job.data.held === true) return 'error';
    const run: OutboundRun = {
      id: job.id,
      attemptsStarted: job.attemptsStarted,
      updateData: (data) => job.updateData(data),
      moveToDelayed: async (timestamp) => {
        await job.changeDelay(Math.max(0, timestamp - Date.now()));
      },
    };
    try {
      await process(job.data, run);
    } catch (error) {
      if (error instanceof DelayedError) return 'deferred';
      logger.warn({ queueId: job.data.queueId, job: job.id ?? null, err: error }, 'odmr delivery failed; the message waits for the next pull');
      return 'error';
    }
    const progress = job.data.progress ?? { attempts: 1, pending: [], warned: false, last: [], settling: null };
    await job.updateData({ ...job.data, progress: { ...progress, pending: [], settling: null } });
    await job.promote();
    return 'finished';
  }

  return {
    async listen(host, port) {
      // Sockets are handed to the SMTP server as they are: a turned session needs a plain socket.
      listener = createNetServer({ allowHalfOpen: true }, (socket) => server.handle(socket));
      await new Promise<void>((resolve, reject) => {
        listener?.once('error', reject);
        listener?.listen({ host, port }, () => resolve());
      });
      listener.on('error', (error) => logger.error({ err: error }, 'odmr listener error'));
      return (listener.address() as AddressInfo).port;
    },
    async close(timeout) {
      const stopped = listener === null ? Promise.resolve() : new Promise<void>((resolve) => listener?.close(() => resolve()));
      await server.close({ timeout });
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, timeout).unref());
      await Promise.race([Promise.allSettled([...turned]), deadline]);
      for (const client of clients) client.close();
      await Promise.allSettled([...turned]);
      await stopped;
    },
  };
}
