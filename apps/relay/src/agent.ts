/**
 * createRelayAgent: wires the relay agent from its configuration — Redis (checked), the
 * directory, the spool and the queues, the certificate, the policies — then starts inbound
 * SMTP (port 25: local domains, relaying only for trusted clients) and the transfer worker.
 * The port listens from the start: until Redis has been reached and checked (an agent started
 * while Redis is down waits for it, however long) sessions get 421 4.3.2; while Redis is away
 * later, RCPT gets 451 4.3.0. main.ts only loads the configuration and calls this; tests call
 * it directly.
 */
import type { Worker } from 'bullmq';
import { type Directory, applySeed, createAuthLimiter, createDirectory, readSeedFile } from '@mailway/directory';
import { type MailQueue, type QueueName, bullPrefix, createMailQueue } from '@mailway/queue/queues';
import { closeRedis, createRedis, watchRedis } from '@mailway/queue/redis';
import { type Spool, createFsSpool, createRedisSpool } from '@mailway/queue/spool';
import { type AgentContext, type Certificate, type RunningAgent, loadCertificate } from '@mailway/runtime';
import { type SmtpServer, createServer, withAvailability } from '@mailway/smtp/server';
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
  const link = watchRedis(redis, logger, context.metrics);
  workerRedis.on('error', (error: Error) => logger.debug({ err: error }, 'redis (worker) error'));
  let server: SmtpServer | null = null;
  let worker: Worker | null = null;
  let queues: readonly MailQueue<QueueName>[] = [];
  let open = false;

  try {
    // The queues this agent adds to (they connect once Redis is there).
    const transfer = createMailQueue('transfer', redis, { prefix: bullPrefix(prefix) });
    const delivery = createMailQueue('delivery', redis, { prefix: bullPrefix(prefix) });
    const outbound = createMailQueue('outbound', redis, { prefix: bullPrefix(prefix) });
    queues = [transfer, delivery, outbound];
    for (const queue of queues) queue.queue.on('error', (error) => logger.debug({ err: error, queue: queue.name }, 'queue error'));

    // The directory and the spool.
    const directory = createDirectory(redis, { prefix });
    const spool: Spool = settings.spool.backend === 'fs' ? createFsSpool({ directory: settings.spool.directory }) : createRedisSpool(redis, { prefix });

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
      hooks: withAvailability({
        onConnect: (session) => {
          metrics.connections.inc();
          logger.debug({ session: session.id, ip: session.remote.address }, 'connected');
        },
        onAuth: smtpAuthHook({ directory, limiter: createAuthLimiter(redis, prefix, settings.authFailures), failureDelay: settings.authFailures.delay, logger, failures: metrics.authFailures, rejections: metrics.rejections }),
        onRcptTo: rcptToHook({ hostname: config.hostname, directory, networks, greylist, maxRecipients: settings.maxRecipients, logger, metrics }),
        onData: dataHook({ hostname: config.hostname, authservIds: [config.hostname, ...config.authservIds], networks, targets: { spool, transfer }, verifier: settings.verify ? createVerifier(options.resolver) : null, logger, metrics }),
      }, { open: () => open, up: link.up }, config.hostname),
      onError: (error, session) => logger.warn({ session: session?.id ?? null, err: error }, 'connection error'),
    });
    // Listening before Redis answers: sessions get 421 rather than a refused connection.
    const port = portOf(await server.listen({ host: settings.host, port: settings.port }));
    logger.info({ host: settings.host, port, networks: settings.networks, auth: settings.auth, greylist: settings.greylist.enabled, verify: settings.verify, spool: settings.spool.backend }, 'relay listening');

    // Redis: reached (however long that takes), and configured so that queued mail cannot be evicted.
    await link.reached();
    if (settings.directorySeed !== undefined) {
      await applySeed(directory, await readSeedFile(settings.directorySeed));
      logger.info({ file: settings.directorySeed }, 'directory seeded');
    }

    // The transfer worker.
    worker = createTransferWorker(workerRedis, { directory, targets: { spool, delivery, outbound }, logger, metrics, prefix: bullPrefix(prefix), concurrency: settings.transferConcurrency, locks: settings.transferWorker });
    worker.on('failed', (job, error) => logger.warn({ job: job?.id ?? null, err: error, attempts: job?.attemptsMade ?? null }, 'transfer job failed'));
    worker.on('error', (error) => logger.debug({ err: error }, 'transfer worker error'));

    open = true;
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
        await Promise.all([link.close(), closeRedis(workerRedis)]);
      },
    };
  } catch (error) {
    await server?.close({ timeout: 0 });
    await worker?.close(true);
    await Promise.allSettled(queues.map((queue) => queue.close()));
    await Promise.all([link.close(), closeRedis(workerRedis)]);
    throw error;
  }
}

function portOf(address: Awaited<ReturnType<SmtpServer['listen']>>): number {
  if (typeof address === 'string') throw new Error(`unexpected listener address ${address}`);
  return address.port;
}
