/**
 * createRelayAgent: wires the relay agent from its configuration — Redis (checked), the
 * directory, the spool and the queues, the certificate, the policies — then starts inbound
 * SMTP (port 25: local domains, relaying only for trusted clients), the transfer worker that
 * routes every recipient, and the outbound worker that sends remote mail to other domains;
 * `RELAY_ROLES` chooses which of the three this process runs. The port listens from the start:
 * until Redis has been reached and checked (an agent started while Redis is down waits for it,
 * however long) sessions get 421 4.3.2; while Redis is away later, RCPT gets 451 4.3.0.
 * main.ts only loads the configuration and calls this; tests call it directly.
 */
import { Resolver } from 'node:dns/promises';
import type { Worker } from 'bullmq';
import { createAgentSkeleton, ownDescriptors, portOf, seedDirectory, spoolDescriptors } from '@mailway/agent';
import { createAuthLimiter, smtpAuthHook } from '@mailway/agent/smtp-auth';
import { type Directory, createDirectory } from '@mailway/directory';
import { inflowGate } from '@mailway/intake';
import { type QueueAdmin, createQueueAdmin } from '@mailway/queue/admin';
import { type MailQueue, type QueueName, createMailQueue } from '@mailway/queue/queues';
import { createRedisSpool } from '@mailway/queue/spool';
import { type AgentContext, type Certificate, type RunningAgent, connectionLimits, loadCertificate, violationReporter } from '@mailway/runtime';
import { type SmtpServer, createServer } from '@mailway/smtp/server';
import type { RelayConfig } from './config.js';
import { dataHook } from './data.js';
import { createRelayMetrics } from './metrics.js';
import { createDnsLists, dnsListHook } from './policy/authentication/dns-lists.js';
import { createAuthenticationMetrics } from './policy/authentication/metrics.js';
import { type DnsResolver, authenticationResolver } from './policy/authentication/resolver.js';
import { createSenderAuthentication } from './policy/authentication/sender.js';
import { type ReportSender, createReportSender } from './policy/authentication/reports/send.js';
import { reportStore } from './policy/authentication/reports/store.js';
import { createGreylist } from './policy/greylist.js';
import { relayNetworks } from './policy/networks.js';
import { rcptToHook } from './policy/recipient.js';
import { createTransferWorker } from './transfer/worker.js';
import { downDestinations } from './outbound/down.js';
import { redisLeases } from './outbound/leases.js';
import { parseDestinationRates, redisRates } from './outbound/rates.js';
import { outboundSettingsFrom } from './outbound/settings.js';
import { createOutboundWorker } from './outbound/worker.js';
import { parseHoldDomains, parsePullGrants } from './pull/domains.js';
import { type OdmrListener, createOdmrListener } from './pull/odmr.js';
import { etrnHook } from './pull/etrn.js';
import { pullLocks } from './pull/locks.js';
import { MtaStsPolicies } from './outbound/security/mta-sts.js';
import { DaneLookup } from './outbound/security/dane.js';
import { dnssecResolver } from './outbound/security/dnssec-query.js';
import { transportSecurity } from './outbound/security/requirements.js';
import { trustedRoots } from './outbound/security/trust.js';
import { scheduleTlsReports } from './outbound/security/tls-report-send.js';

export interface RelayAgent extends RunningAgent {
  /** The bound inbound port (useful when configured as 0). */
  readonly port: number;
  /** The bound ODMR port; null when ODMR is off (no RELAY_ODMR_USERS) or this process is not inbound. */
  readonly odmrPort: number | null;
  readonly certificate: Certificate;
  readonly directory: Directory;
  /** The DMARC aggregate report sender (RELAY_DMARC_REPORTS), null when off or not inbound. */
  readonly dmarcReports: ReportSender | null;
}

export interface RelayAgentOptions {
  /** DNS resolver for sender authentication and DNS lists; RELAY_DNS_SERVERS (or the system's) by default. */
  readonly resolver?: DnsResolver;
}

/** Hard cap on recipients per transaction; the configured limit is enforced by the RCPT policy below it. */
const recipientCap = 10_000;

/** Start the relay agent. */
export async function createRelayAgent(config: RelayConfig, context: AgentContext, options: RelayAgentOptions = {}): Promise<RelayAgent> {
  const { logger } = context;
  const settings = config.relay;
  const metrics = createRelayMetrics(context.metrics);
  const networks = relayNetworks(settings.networks);
  const holds = parseHoldDomains(settings.pull.holdDomains);
  const grants = parsePullGrants(settings.pull.odmrUsers, holds);
  const odmrRuns = settings.roles.includes('inbound') && grants.size > 0;
  const admission = connectionLimits({
    prefix: 'RELAY',
    path: 'relay.connections',
    settings: settings.connections,
    alsoExempt: settings.networks,
    // Port 25, and the ODMR port when it runs: each gets its own cap under the same limits.
    listeners: odmrRuns ? 2 : 1,
    perSession: 1 + spoolDescriptors(settings.spool),
    reserve: ownDescriptors,
    refused: metrics.connectionsRefused,
    logger,
  });

  // Redis: one fail-fast client for the SMTP side (watched), one patient client for the
  // worker; and the spool.
  const skeleton = createAgentSkeleton({ name: 'relay', hostname: config.hostname, redis: config.redis, spool: settings.spool, failedRetention: config.failedRetention, traceRetention: config.traceRetention, worker: true }, context);
  const { redis, workerRedis, prefix, spool, queueOptions } = skeleton;
  let server: SmtpServer | null = null;
  let worker: Worker | null = null;
  let outboundWorker: Worker | null = null;
  let tlsReportSchedule: { stop(): void } | null = null;
  let queues: readonly MailQueue<QueueName>[] = [];
  let admin: QueueAdmin | null = null;
  let odmr: OdmrListener | null = null;
  let dmarcReports: ReportSender | null = null;
  let reportTimer: NodeJS.Timeout | null = null;

  try {
    // The queues this agent adds to (they connect once Redis is there).
    const transfer = createMailQueue('transfer', redis, queueOptions);
    const delivery = createMailQueue('delivery', redis, queueOptions);
    const outbound = createMailQueue('outbound', redis, queueOptions);
    queues = [transfer, delivery, outbound];
    for (const queue of queues) queue.queue.on('error', (error) => logger.debug({ err: error, queue: queue.name }, 'queue error'));

    // The directory.
    const directory = createDirectory(redis, { prefix });

    // Certificate.
    const certificate = await loadCertificate(settings.tls, config.hostname);
    if (certificate.selfSigned) logger.warn({ hostname: config.hostname }, 'no certificate configured (RELAY_TLS_CERT/RELAY_TLS_KEY): STARTTLS uses a self-signed one');

    // Mail held for sites that pull it: ETRN moves it on through the queue admin.
    const locks = pullLocks(redis, prefix);
    admin = holds.empty ? null : createQueueAdmin(redis, { prefix });
    const onEtrn =
      admin === null
        ? {}
        : { onEtrn: etrnHook({ holds, networks, etrnNetworks: relayNetworks(settings.pull.etrnNetworks, 'RELAY_ETRN_NETWORKS'), admin, locks, logger, requests: metrics.etrn }) };

    // Inbound SMTP.
    const roles = new Set(settings.roles);
    const greylist = settings.greylist.enabled ? createGreylist(redis, prefix, settings.greylist) : null;
    const onAuth = smtpAuthHook({ directory, limiter: createAuthLimiter(redis, prefix, settings.authFailures), failureDelay: settings.authFailures.delay, logger, failures: metrics.authFailures, bars: metrics.authBars, rejections: metrics.rejections });
    const checks = settings.authentication;
    const resolver = options.resolver ?? authenticationResolver(settings.outbound.dnsServers, checks.dnsTimeout);
    const authMetrics = createAuthenticationMetrics(context.metrics);
    const reports = checks.reports && roles.has('inbound') ? reportStore(redis, prefix, checks.reportRetention) : null;
    const authentication = createSenderAuthentication({
      hostname: config.hostname,
      settings: checks,
      verifyAll: settings.verify,
      networks,
      resolver,
      logger,
      metrics: authMetrics,
      refused: (reason) => metrics.rejections.inc({ reason }),
      ...(reports === null ? {} : { recorded: (evaluation) => void reports.record(evaluation).catch((error: unknown) => logger.warn({ err: error }, 'DMARC evaluation not recorded for reports')) }),
    });
    const reportFrom = checks.reportFrom ?? `postmaster@${config.hostname}`;
    dmarcReports = reports === null ? null : createReportSender({ store: reports, redis, prefix, targets: { spool, transfer }, resolver, hostname: config.hostname, org: checks.reportOrg ?? config.hostname, from: reportFrom, logger, counted: (outcome) => authMetrics.reports.inc({ outcome }) });
    const dnsLists = checks.dnsblZones.length > 0 ? dnsListHook(createDnsLists({ blockZones: checks.dnsblZones, allowZones: checks.dnswlZones, cacheTime: checks.dnsblCacheTime }, resolver, authMetrics, logger), networks, logger) : null;
    if (roles.has('inbound')) server = createServer({
      hostname: config.hostname,
      tls: { key: certificate.key, cert: certificate.cert },
      ...(settings.auth ? { auth: { required: false } } : {}),
      limits: { messageSize: settings.maxMessageSize, recipients: recipientCap },
      admission,
      hooks: skeleton.gate({
        onConnect: (session) => {
          metrics.connections.inc();
          logger.debug({ session: session.id, ip: session.remote.address }, 'connected');
          return dnsLists?.(session);
        },
        onAuth,
        onMailFrom: authentication.mailFrom,
        onRcptTo: rcptToHook({ hostname: config.hostname, directory, networks, greylist, maxRecipients: settings.maxRecipients, ...(holds.empty ? {} : { holds: holds.holds }), logger, metrics }),
        ...onEtrn,
        onData: dataHook({ hostname: config.hostname, hopCountLimit: config.hopCountLimit, authservIds: [config.hostname, ...config.authservIds], networks, targets: { spool, transfer, trace: skeleton.trace, confirm: () => skeleton.confirm(), local: { directory, delivery } }, inflow: inflowGate(config.inflow, redis, [transfer, delivery]), authentication, logger, metrics }),
        onViolation: violationReporter(logger, context.metrics),
      }),
      onError: (error, session) => logger.warn({ session: session?.id ?? null, err: error }, 'connection error'),
    });
    // Listening before Redis answers: sessions get 421 rather than a refused connection.
    const port = server === null ? 0 : portOf(await server.listen({ host: settings.host, port: settings.port }));
    logger.info({ roles: [...roles], host: settings.host, port, networks: settings.networks, auth: settings.auth, greylist: settings.greylist.enabled, verify: settings.verify, dmarc: checks.dmarc, dnsbl: checks.dnsblZones, spool: settings.spool.backend }, 'relay listening');

    // On-Demand Mail Relay: sites that authenticate take their held mail over their own connection.
    const mxResolver = new Resolver({ timeout: 5_000, tries: 2 });
    if (settings.outbound.dnsServers.length > 0) mxResolver.setServers(settings.outbound.dnsServers);
    let odmrPort: number | null = null;
    if (odmrRuns) {
      odmr = createOdmrListener({
        hostname: config.hostname,
        tls: { key: certificate.key, cert: certificate.cert },
        allowInsecureAuth: settings.pull.odmrAllowInsecureAuth,
        admission,
        onAuth,
        gate: (hooks) => skeleton.gate(hooks),
        grants,
        locks,
        outbound,
        processing: { spool, intake: { spool, transfer, trace: skeleton.trace, confirm: () => skeleton.confirm() }, settings: outboundSettingsFrom(config, mxResolver), logger, metrics: { attempts: metrics.outbound } },
        logger,
        metrics: { sessions: metrics.odmrSessions, messages: metrics.odmrMessages },
      });
      odmrPort = await odmr.listen(settings.host, settings.pull.odmrPort);
      logger.info({ host: settings.host, port: odmrPort, users: grants.size }, 'odmr listening');
    }

    // Redis: reached (however long that takes), and configured so that queued mail cannot be evicted.
    await skeleton.reached();
    await seedDirectory(directory, settings.directorySeed, logger);

    // The router: the transfer worker.
    if (roles.has('router')) {
      worker = createTransferWorker(workerRedis, {
        directory,
        targets: { spool, delivery, outbound, trace: skeleton.trace },
        logger,
        metrics,
        // Content waiting for the outbound worker is kept for the queue lifetime, then as long as a failed job.
        outboundHoldMs: settings.outbound.queueLifetime + config.failedRetention,
        prefix: queueOptions.prefix,
        concurrency: settings.transferConcurrency,
        locks: settings.transferWorker,
      });
      worker.on('failed', (job, error) => logger.warn({ job: job?.id ?? null, err: error, attempts: job?.attemptsMade ?? null }, 'transfer job failed'));
      worker.on('error', (error) => logger.debug({ err: error }, 'transfer worker error'));
    }

    // The outbound worker.
    if (roles.has('outbound')) {
      const ca = settings.outbound.tlsCa === undefined ? undefined : trustedRoots(settings.outbound.tlsCa);
      const mtaSts = settings.outbound.mtaSts
        ? new MtaStsPolicies({ redis, prefix, dns: mxResolver, lookAgainMs: settings.outbound.mtaStsRecheck, fetch: { port: settings.outbound.mtaStsTestHttpsPort, timeout: settings.outbound.mtaStsTimeout, ...(ca === undefined ? {} : { ca }) } })
        : null;
      // DANE asks the validating resolver (RELAY_OUTBOUND_DNSSEC_RESOLVER, else the first of the resolvers in use).
      const validating = settings.outbound.dnssecResolver ?? mxResolver.getServers()[0];
      const dane = settings.outbound.dane === 'auto' && validating !== undefined ? new DaneLookup({ resolver: dnssecResolver(validating, { timeout: 2_000, tries: 2 }), port: settings.outbound.port, probeName: settings.outbound.daneProbe, logger }) : null;
      if (settings.outbound.dane === 'auto' && validating === undefined) logger.warn('DANE off: no DNS resolver is known to ask for TLSA records');
      // TLS reports: counted by every outbound process; yesterday's sent by the first to claim the day.
      const reports = settings.outbound.tlsReports ? { redis, prefix, retentionMs: settings.outbound.tlsReportRetention } : null;
      if (reports !== null) {
        tlsReportSchedule = scheduleTlsReports(
          { store: reports, dns: mxResolver, targets: { spool, transfer }, sender: { organization: config.hostname, contact: settings.outbound.tlsReportContact ?? `postmaster@${config.hostname}`, hostname: config.hostname }, ...(ca === undefined ? {} : { ca }), timeout: settings.outbound.mtaStsTimeout, logger, metrics: metrics.tlsReports },
          10 * 60_000,
        );
      }
      outboundWorker = createOutboundWorker(workerRedis, {
        spool,
        // Notices (bounces, delays) are confirmed by the replicas before the attempt that wrote them ends.
        intake: { spool, transfer, trace: skeleton.trace, confirm: () => skeleton.confirm() },
        settings: outboundSettingsFrom(config, mxResolver),
        logger,
        metrics: { attempts: metrics.outbound, sessions: metrics.outboundSessions, concurrencyFeedback: metrics.outboundConcurrencyFeedback, paced: metrics.outboundPaced },
        security: transportSecurity({ mtaSts, dane, reports, logger, metrics: { lookups: metrics.mtaStsLookups, dane: metrics.daneLookups, results: metrics.tlsPolicy } }),
        down: downDestinations(redis, prefix, settings.outbound.downTime),
        rates: redisRates(redis, prefix, parseDestinationRates(settings.outbound.destinationRates)),
        // Over the general connection, so that a slot given back is free before the next one is asked for.
        leases: redisLeases(redis, prefix, { leaseMs: settings.outbound.destinationLease, renewMs: settings.outbound.destinationLeaseRenew }, (destination, count) =>
          logger.warn({ destination, leases: count }, 'destination leases lapsed while held: the destination limit may be passed until they end'),
        ),
        ...(settings.spool.backend === 'redis' ? { releases: createRedisSpool(workerRedis, { prefix }) } : {}),
        pullLocks: locks,
        prefix: queueOptions.prefix,
        concurrency: settings.outbound.concurrency,
        locks: settings.outbound.worker,
      });
      outboundWorker.on('failed', (job, error) => logger.warn({ job: job?.id ?? null, err: error, attempts: job?.attemptsMade ?? null }, 'outbound job failed'));
      outboundWorker.on('error', (error) => logger.debug({ err: error }, 'outbound worker error'));
    }

    // Daily DMARC aggregate reports, looked for now and then (a lock keeps processes from doubling them).
    if (dmarcReports !== null) {
      const sender = dmarcReports;
      reportTimer = setInterval(() => void sender.sendDue().catch((error: unknown) => logger.warn({ err: error }, 'DMARC aggregate reports not sent')), settings.authentication.reportCheckInterval);
      reportTimer.unref();
    }

    // Redis reached and checked, workers running: from here sessions are served.
    skeleton.serve();
    const running = { server, workers: [worker, outboundWorker].filter((w): w is Worker => w !== null) };
    return {
      port,
      odmrPort,
      certificate,
      directory,
      dmarcReports,
      ready: () => skeleton.ready() && running.workers.every((w) => w.isRunning()),
      async stop() {
        skeleton.stopping();
        tlsReportSchedule?.stop();
        if (reportTimer !== null) clearInterval(reportTimer);
        await running.server?.close({ timeout: settings.shutdownTimeout });
        await odmr?.close(settings.shutdownTimeout);
        await Promise.all(running.workers.map((w) => skeleton.closeWorker(w)));
        await Promise.all(queues.map((queue) => queue.close()));
        await admin?.close();
        await skeleton.close();
      },
    };
  } catch (error) {
    if (reportTimer !== null) clearInterval(reportTimer);
    await server?.close({ timeout: 0 });
    await odmr?.close(0);
    await worker?.close(true);
    tlsReportSchedule?.stop();
    await outboundWorker?.close(true);
    await Promise.allSettled(queues.map((queue) => queue.close()));
    await admin?.close().catch(() => {});
    await skeleton.close();
    throw error;
  }
}
