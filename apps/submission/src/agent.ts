/**
 * createSubmissionAgent: wires the submission agent from its configuration — Redis (checked),
 * the directory, the spool, the transfer and delivery queues, the certificate, the policies — and starts
 * the two listeners: STARTTLS submission (587) and implicit-TLS submission (465).
 * Both listen from the start: until Redis has been reached and checked (an agent started while
 * Redis is down waits for it, however long) sessions get 421 4.3.2; while Redis is away later,
 * RCPT gets 451 4.3.0, before any message body is sent. main.ts only loads the configuration
 * and calls this; tests call it directly.
 */
import { createAgentSkeleton, ownDescriptors, portOf, seedDirectory, spoolDescriptors } from '@mailway/agent';
import { createAuthLimiter, smtpAuthHook } from '@mailway/agent/smtp-auth';
import { type Directory, createDirectory } from '@mailway/directory';
import { inflowGate } from '@mailway/intake';
import { createMailQueue } from '@mailway/queue/queues';
import { type AgentContext, type Certificate, type RunningAgent, connectionLimits, loadCertificate, violationReporter } from '@mailway/runtime';
import { type ServerHooks, type SmtpServer, createServer } from '@mailway/smtp/server';
import type { SubmissionConfig } from './config.js';
import { dataHook } from './data.js';
import { createDkimSigner } from './message/dkim.js';
import { createSubmissionMetrics } from './metrics.js';
import { mailFromHook, rcptToHook } from './policy/envelope.js';
import { createRateLimiter } from './policy/rate.js';
import { setSessionUser } from './session-state.js';

export interface SubmissionAgent extends RunningAgent {
  /** Bound ports (useful when configured as 0). */
  readonly ports: { readonly starttls: number; readonly implicitTls: number };
  readonly certificate: Certificate;
  readonly directory: Directory;
}

/** Hard cap on recipients per transaction; the per-user limit is enforced by the RCPT policy below it. */
const recipientCap = 10_000;

/** Start the submission agent. */
export async function createSubmissionAgent(config: SubmissionConfig, context: AgentContext): Promise<SubmissionAgent> {
  const { logger } = context;
  const settings = config.submission;
  const metrics = createSubmissionMetrics(context.metrics);
  const admission = connectionLimits({
    prefix: 'SUBMISSION',
    path: 'submission.connections',
    settings: settings.connections,
    listeners: 2,
    perSession: 1 + spoolDescriptors(settings.spool),
    reserve: ownDescriptors,
    refused: metrics.connectionsRefused,
    logger,
  });

  // Redis (a fail-fast client, watched: sessions are gated on it) and the spool.
  const skeleton = createAgentSkeleton({ name: 'submission', hostname: config.hostname, redis: config.redis, spool: settings.spool, failedRetention: config.failedRetention, traceRetention: config.traceRetention }, context);
  const { redis, prefix, spool } = skeleton;
  let servers: SmtpServer[] = [];
  try {
    // The directory and the queues (they connect once Redis is there): mail for one local
    // recipient goes straight to delivery, the rest to the relay's transfer worker.
    const directory = createDirectory(redis, { prefix });
    const transfer = createMailQueue('transfer', redis, skeleton.queueOptions);
    const delivery = createMailQueue('delivery', redis, skeleton.queueOptions);
    for (const queue of [transfer, delivery]) queue.queue.on('error', (error) => logger.debug({ err: error }, `${queue.name} queue error`));

    // Certificate and signing key.
    const certificate = await loadCertificate(settings.tls, config.hostname);
    if (certificate.selfSigned) logger.warn({ hostname: config.hostname }, 'no certificate configured (SUBMISSION_TLS_CERT/SUBMISSION_TLS_KEY): using a self-signed one, for development only');
    const dkim = await createDkimSigner(settings.dkim);

    // Policies, shared by both listeners.
    const rate = createRateLimiter(redis, prefix, settings.messagesPerHour, { onError: (error) => logger.warn({ err: error }, 'message counts not written to Redis; retrying') });
    const onViolation = violationReporter(logger, context.metrics);
    const hooks = (listener: string): ServerHooks => skeleton.gate({
      onConnect: (session) => {
        metrics.connections.inc({ listener });
        logger.debug({ session: session.id, ip: session.remote.address, listener }, 'connected');
      },
      onAuth: smtpAuthHook({
        directory,
        limiter: createAuthLimiter(redis, prefix, settings.authFailures),
        failureDelay: settings.authFailures.delay,
        logger,
        failures: metrics.authFailures,
        bars: metrics.authBars,
        rejections: metrics.rejections,
        onLogin: (session, user) => setSessionUser(session, user.address),
      }),
      onMailFrom: mailFromHook({ directory, rate, maxRecipients: settings.maxRecipients, logger, metrics }),
      onRcptTo: rcptToHook({ directory, rate, maxRecipients: settings.maxRecipients, logger, metrics }),
      onData: dataHook({ hostname: config.hostname, hopCountLimit: config.hopCountLimit, authservIds: [config.hostname, ...config.authservIds], directory, targets: { spool, transfer, trace: skeleton.trace, confirm: () => skeleton.confirm(), local: { directory, delivery } }, inflow: inflowGate(config.inflow, redis, [transfer, delivery]), dkim, rate, logger, metrics }),
      onViolation,
    });
    const serverOptions = (listener: string, secure: boolean) =>
      createServer({
        hostname: config.hostname,
        tls: { key: certificate.key, cert: certificate.cert },
        secure,
        auth: { required: true, allowInsecure: settings.allowInsecureAuth },
        limits: { messageSize: settings.maxMessageSize, recipients: recipientCap },
        admission,
        hooks: hooks(listener),
        onError: (error, session) => logger.warn({ session: session?.id ?? null, err: error }, 'connection error'),
      });

    // Listen before Redis answers: sessions get 421 rather than a refused connection.
    servers = [serverOptions('starttls', false), serverOptions('implicit_tls', true)];
    const [starttls, implicitTls] = servers as [SmtpServer, SmtpServer];
    const ports = {
      starttls: portOf(await starttls.listen({ host: settings.host, port: settings.port })),
      implicitTls: portOf(await implicitTls.listen({ host: settings.host, port: settings.tlsPort })),
    };
    logger.info({ host: settings.host, ...ports, spool: settings.spool.backend, dkim: settings.dkim.domains }, 'submission listening');

    // Redis: reached (however long that takes), and configured so that queued mail cannot be evicted.
    await skeleton.reached();
    await seedDirectory(directory, settings.directorySeed, logger);
    // Redis reached and checked: from here sessions are served.
    skeleton.serve();

    return {
      ports,
      certificate,
      directory,
      ready: skeleton.ready,
      async stop() {
        skeleton.stopping();
        await Promise.all(servers.map((server) => server.close({ timeout: settings.shutdownTimeout })));
        await rate.flush().catch(() => {});
        await Promise.all([transfer.close(), delivery.close()]);
        await skeleton.close();
      },
    };
  } catch (error) {
    await Promise.all(servers.map((server) => server.close({ timeout: 0 })));
    await skeleton.close();
    throw error;
  }
}
