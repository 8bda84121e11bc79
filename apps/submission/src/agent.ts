/**
 * createSubmissionAgent: wires the submission agent from its configuration — Redis (checked),
 * the directory, the spool and the transfer queue, the certificate, the policies — and starts
 * the two listeners: STARTTLS submission (587) and implicit-TLS submission (465).
 * main.ts only loads the configuration and calls this; tests call it directly.
 */
import type { Redis } from 'ioredis';
import { type Directory, applySeed, createAuthLimiter, createDirectory, readSeedFile } from '@mailway/directory';
import { bullPrefix, createMailQueue } from '@mailway/queue/queues';
import { checkRedis, createRedis, waitForRedis } from '@mailway/queue/redis';
import { type OpenedSpool, openSpool } from '@mailway/queue/spool';
import { type AgentContext, type Certificate, type RunningAgent, loadCertificate } from '@mailway/runtime';
import { type ServerHooks, type SmtpServer, createServer } from '@mailway/smtp/server';
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

/** Start the submission agent. */
export async function createSubmissionAgent(config: SubmissionConfig, context: AgentContext): Promise<SubmissionAgent> {
  const { logger } = context;
  const settings = config.submission;
  const prefix = config.redis.prefix;
  const metrics = createSubmissionMetrics(context.metrics);

  // Redis: reachable, and configured so that queued mail cannot be evicted.
  const redis = createRedis(config.redis.url, { role: 'command', name: 'mailway-submission' });
  watchRedis(redis, logger);
  let servers: SmtpServer[] = [];
  let spooled: OpenedSpool | null = null;
  try {
    await waitForRedis(redis);
    const facts = await checkRedis(redis);
    for (const warning of facts.warnings) logger.warn({ redis: facts.version }, warning);

    // The directory, the spool and the queue.
    const directory = createDirectory(redis, { prefix });
    if (settings.directorySeed !== undefined) {
      await applySeed(directory, await readSeedFile(settings.directorySeed));
      logger.info({ file: settings.directorySeed }, 'directory seeded');
    }
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
    const hooks = (listener: string): ServerHooks => ({
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
        rejections: metrics.rejections,
        onLogin: (session, user) => setSessionUser(session, user.address),
      }),
      onMailFrom: mailFromHook({ directory, rate, maxRecipients: settings.maxRecipients, logger, metrics }),
      onRcptTo: rcptToHook({ directory, rate, maxRecipients: settings.maxRecipients, logger, metrics }),
      onData: dataHook({ hostname: config.hostname, authservIds: [config.hostname, ...config.authservIds], directory, targets: { spool, transfer }, dkim, rate, logger, metrics }),
    });
    const serverOptions = (listener: string, secure: boolean) =>
      createServer({
        hostname: config.hostname,
        tls: { key: certificate.key, cert: certificate.cert },
        secure,
        auth: { required: true, allowInsecure: settings.allowInsecureAuth },
        limits: { messageSize: settings.maxMessageSize, recipients: recipientCap },
        hooks: hooks(listener),
        onError: (error, session) => logger.warn({ session: session?.id ?? null, err: error }, 'connection error'),
      });

    // Listen.
    servers = [serverOptions('starttls', false), serverOptions('implicit_tls', true)];
    const [starttls, implicitTls] = servers as [SmtpServer, SmtpServer];
    const ports = {
      starttls: portOf(await starttls.listen({ host: settings.host, port: settings.port })),
      implicitTls: portOf(await implicitTls.listen({ host: settings.host, port: settings.tlsPort })),
    };
    logger.info({ host: settings.host, ...ports, spool: settings.spool.backend, dkim: settings.dkim.domains }, 'submission listening');

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
        await quit(redis);
      },
    };
  } catch (error) {
    await Promise.all(servers.map((server) => server.close({ timeout: 0 })));
    spooled?.close();
    await quit(redis);
    throw error;
  }
}

/** Log the connection's ups and downs once each; the errors of every reconnect attempt only at debug level. */
function watchRedis(redis: Redis, logger: AgentContext['logger']): void {
  let up = false;
  redis.on('ready', () => {
    if (!up) logger.info('redis connected');
    up = true;
  });
  redis.on('close', () => {
    if (up) logger.warn('redis connection lost; new messages get 451 until it is back');
    up = false;
  });
  redis.on('error', (error: Error) => logger.debug({ err: error }, 'redis error'));
}

function portOf(address: Awaited<ReturnType<SmtpServer['listen']>>): number {
  if (typeof address === 'string') throw new Error(`unexpected listener address ${address}`);
  return address.port;
}

async function quit(redis: Redis): Promise<void> {
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}
