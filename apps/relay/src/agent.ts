/**
 * createRelayAgent: wires the relay agent from its configuration — Redis (checked), the
 * directory, the spool and the queues, the certificate, the policies — then starts inbound
 * SMTP (port 25: local domains, relaying only for trusted clients) and the transfer worker.
 * main.ts only loads the configuration and calls this; tests call it directly.
 */
import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { type Directory, applySeed, createAuthLimiter, createDirectory, readSeedFile } from '@mailway/directory';
import { type MailQueue, type QueueName, bullPrefix, createMailQueue } from '@mailway/queue/queues';
import { checkRedis, createRedis, waitForRedis } from '@mailway/queue/redis';
import { type OpenedSpool, openSpool } from '@mailway/queue/spool';
import { type AgentContext, type Certificate, type RunningAgent, loadCertificate } from '@mailway/runtime';
import { type SmtpServer, createServer } from '@mailway/smtp/server';
import type { RelayConfig } from './config.js';
import { dataHook } from './data.js';
import { type DnsResolver, createVerifier } from './message/verify.js';
import { createRelayMetrics } from './metrics.js';
import { smtpAuthHook } from '@mailway/directory/smtp-auth';
import { createGreylist } from './policy/greylist.js';
import { relayNetworks } from './policy/networks.js';
import { rcptToHook } from './policy/recipient.js';
import { createTransferWorker } from './transfer/worker.js';

export interface RelayAgent extends RunningAgent {
  /** The bound inbound port (useful when configured as 0). */
  readonly port: number;
  readonly certificate: Certificate;
  readonly directory: Directory;
}

export interface RelayAgentOptions {
  /** DNS resolver for sender authentication (RELAY_VERIFY); the system's by default. */
  readonly resolver?: DnsResolver;
}

/** Hard cap on recipients per transaction; the configured limit is enforced by the RCPT policy below it. */
const recipientCap = 10_000;

/** Start the relay agent. */
export async function createRelayAgent(config: RelayConfig, context: AgentContext, options: RelayAgentOptions = {}): Promise<RelayAgent> {
  const { logger } = context;
  const settings = config.relay;
  const prefix = config.redis.prefix;
  const metrics = createRelayMetrics(context.metrics);
  const networks = relayNetworks(settings.networks);

  // Redis: one fail-fast client for the SMTP side, one patient client for the worker.
  const redis = createRedis(config.redis.url, { role: 'command', name: 'mailway-relay' });
  const workerRedis = createRedis(config.redis.url, { role: 'worker', name: 'mailway-relay-worker' });
  watchRedis(redis, logger);
  workerRedis.on('error', (error: Error) => logger.debug({ err: error }, 'redis (worker) error'));
  let server: SmtpServer | null = null;
  let worker: Worker | null = null;
  let queues: readonly MailQueue<QueueName>[] = [];
  let spooled: OpenedSpool | null = null;

  try {
    await waitForRedis(redis);
    const facts = await checkRedis(redis);
    for (const warning of facts.warnings) logger.warn({ redis: facts.version }, warning);

    // The queues this agent adds to.
    const queueOptions = { prefix: bullPrefix(prefix), failedRetentionMs: config.failedRetention };
    const transfer = createMailQueue('transfer', redis, queueOptions);
    const delivery = createMailQueue('delivery', redis, queueOptions);
    const outbound = createMailQueue('outbound', redis, queueOptions);
    queues = [transfer, delivery, outbound];
    for (const queue of queues) queue.queue.on('error', (error) => logger.debug({ err: error, queue: queue.name }, 'queue error'));

    // The directory and the spool.
    const directory = createDirectory(redis, { prefix });
    if (settings.directorySeed !== undefined) {
      await applySeed(directory, await readSeedFile(settings.directorySeed));
      logger.info({ file: settings.directorySeed }, 'directory seeded');
    }
    spooled = openSpool(settings.spool, redis, { prefix, logger });
    const { spool } = spooled;

    // Certificate.
    const certificate = await loadCertificate(settings.tls, config.hostname);
    if (certificate.selfSigned) logger.warn({ hostname: config.hostname }, 'no certificate configured (RELAY_TLS_CERT/RELAY_TLS_KEY): STARTTLS uses a self-signed one');

    // Inbound SMTP.
    const greylist = settings.greylist.enabled ? createGreylist(redis, prefix, settings.greylist) : null;
    server = createServer({
      hostname: config.hostname,
      tls: { key: certificate.key, cert: certificate.cert },
      ...(settings.auth ? { auth: { required: false } } : {}),
      limits: { messageSize: settings.maxMessageSize, recipients: recipientCap },
      hooks: {
        onConnect: (session) => {
          metrics.connections.inc();
          logger.debug({ session: session.id, ip: session.remote.address }, 'connected');
        },
        onAuth: smtpAuthHook({ directory, limiter: createAuthLimiter(redis, prefix, settings.authFailures), failureDelay: settings.authFailures.delay, logger, failures: metrics.authFailures, rejections: metrics.rejections }),
        onRcptTo: rcptToHook({ hostname: config.hostname, directory, networks, greylist, maxRecipients: settings.maxRecipients, logger, metrics }),
        onData: dataHook({ hostname: config.hostname, authservIds: [config.hostname, ...config.authservIds], networks, targets: { spool, transfer }, verifier: settings.verify ? createVerifier(options.resolver) : null, logger, metrics }),
      },
      onError: (error, session) => logger.warn({ session: session?.id ?? null, err: error }, 'connection error'),
    });
    const port = portOf(await server.listen({ host: settings.host, port: settings.port }));

    // The transfer worker.
    worker = createTransferWorker(workerRedis, {
      directory,
      targets: { spool, delivery, outbound },
      logger,
      metrics,
      // Content waiting for the outbound worker is kept for the queue lifetime, then as long as a failed job.
      outboundHoldMs: settings.queueLifetime + config.failedRetention,
      prefix: bullPrefix(prefix),
      concurrency: settings.transferConcurrency,
    });
    worker.on('failed', (job, error) => logger.warn({ job: job?.id ?? null, err: error, attempts: job?.attemptsMade ?? null }, 'transfer job failed'));
    worker.on('error', (error) => logger.debug({ err: error }, 'transfer worker error'));
    logger.info({ host: settings.host, port, networks: settings.networks, auth: settings.auth, greylist: settings.greylist.enabled, verify: settings.verify, spool: settings.spool.backend }, 'relay listening');

    let stopping = false;
    const running = { server, worker };
    return {
      port,
      certificate,
      directory,
      ready: () => !stopping && redis.status === 'ready' && running.worker.isRunning(),
      async stop() {
        stopping = true;
        await running.server.close({ timeout: settings.shutdownTimeout });
        await running.worker.close();
        await Promise.all(queues.map((queue) => queue.close()));
        spooled?.close();
        await Promise.all([quit(redis), quit(workerRedis)]);
      },
    };
  } catch (error) {
    await server?.close({ timeout: 0 });
    await worker?.close(true);
    await Promise.allSettled(queues.map((queue) => queue.close()));
    spooled?.close();
    await Promise.all([quit(redis), quit(workerRedis)]);
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
