/**
 * createSubmissionAgent: wires the submission agent from its configuration — Redis (checked),
 * the directory, the spool and the transfer queue, the certificate, the policies — and starts
 * the two listeners: STARTTLS submission (587) and implicit-TLS submission (465).
 * Both listen from the start: until Redis has been reached and checked (an agent started while
 * Redis is down waits for it, however long) sessions get 421 4.3.2; while Redis is away later,
 * RCPT gets 451 4.3.0, before any message body is sent. main.ts only loads the configuration
 * and calls this; tests call it directly.
 */
import { type Directory, applySeed, createAuthLimiter, createDirectory, readSeedFile } from '@mailway/directory';
import { bullPrefix, createMailQueue } from '@mailway/queue/queues';
import { createRedis, watchRedis } from '@mailway/queue/redis';
import { type OpenedSpool, openSpool } from '@mailway/queue/spool';
import { type AgentContext, type Certificate, type RunningAgent, connectionLimits, loadCertificate, violationReporter } from '@mailway/runtime';
import { type ServerHooks, type SmtpServer, createServer, withAvailability } from '@mailway/smtp/server';
import { smtpAuthHook } from '@mailway/directory/smtp-auth';
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

/** Descriptors kept below the open-file limit for the agent's own work (Redis, logs, DNS, HTTP). */
const ownDescriptors = 128;

/** Start the submission agent. */
export async function createSubmissionAgent(config: SubmissionConfig, context: AgentContext): Promise<SubmissionAgent> {
  const { logger } = context;
  const settings = config.submission;
  const prefix = config.redis.prefix;
  const metrics = createSubmissionMetrics(context.metrics);
  const admission = connectionLimits({
    prefix: 'SUBMISSION',
    path: 'submission.connections',
    settings: settings.connections,
    listeners: 2,
    perSession: settings.spool.backend === 'fs' ? 2 : 1,
    reserve: ownDescriptors,
    refused: metrics.connectionsRefused,
    logger,
  });

  // Redis: a fail-fast client, watched (sessions are gated on it).
  const redis = createRedis(config.redis.url, { role: 'command', name: 'mailway-submission' });
  const link = watchRedis(redis, logger, context.metrics);
  let servers: SmtpServer[] = [];
  let open = false;
  let spooled: OpenedSpool | null = null;
  try {
    // The directory, the spool and the queue (they connect once Redis is there).
    const directory = createDirectory(redis, { prefix });
    spooled = openSpool(settings.spool, redis, { prefix, logger });
    const { spool } = spooled;
    const transfer = createMailQueue('transfer', redis, { prefix: bullPrefix(prefix), failedRetentionMs: config.failedRetention });
    transfer.queue.on('error', (error) => logger.debug({ err: error }, 'transfer queue error'));

    // Certificate and signing key.
    const certificate = await loadCertificate(settings.tls, config.hostname);
    if (certificate.selfSigned) logger.warn({ hostname: config.hostname }, 'no certificate configured (SUBMISSION_TLS_CERT/SUBMISSION_TLS_KEY): using a self-signed one, for development only');
    const dkim = await createDkimSigner(settings.dkim);

    // Policies, shared by both listeners.
    const rate = createRateLimiter(redis, prefix, settings.messagesPerHour, { onError: (error) => logger.warn({ err: error }, 'message counts not written to Redis; retrying') });
    const onViolation = violationReporter(logger, context.metrics);
    const hooks = (listener: string): ServerHooks => withAvailability({
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
      onData: dataHook({ hostname: config.hostname, hopCountLimit: config.hopCountLimit, authservIds: [config.hostname, ...config.authservIds], directory, targets: { spool, transfer }, dkim, rate, logger, metrics }),
      onViolation,
    }, { open: () => open, up: link.up }, config.hostname);
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
    await link.reached();
    if (settings.directorySeed !== undefined) {
      await applySeed(directory, await readSeedFile(settings.directorySeed));
      logger.info({ file: settings.directorySeed }, 'directory seeded');
    }
    open = true;
    // Redis reached and checked, workers running: from here sessions are served.
    logger.info('submission ready');

    let stopping = false;
    return {
      ports,
      certificate,
      directory,
      ready: () => !stopping && redis.status === 'ready',
      async stop() {
        stopping = true;
        await Promise.all(servers.map((server) => server.close({ timeout: settings.shutdownTimeout })));
        await rate.flush().catch(() => {});
        await transfer.close();
        spooled?.close();
        await link.close();
      },
    };
  } catch (error) {
    await Promise.all(servers.map((server) => server.close({ timeout: 0 })));
    spooled?.close();
    await link.close();
    throw error;
  }
}

function portOf(address: Awaited<ReturnType<SmtpServer['listen']>>): number {
  if (typeof address === 'string') throw new Error(`unexpected listener address ${address}`);
  return address.port;
}
