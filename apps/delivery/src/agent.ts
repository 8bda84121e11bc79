/**
 * createDeliveryAgent: wires the delivery agent from its configuration — Redis (checked), the
 * directory, the spool, the transfer queue (for expanded aliases), the mailbox store — and
 * starts the `delivery` queue worker and the LMTP listener (TCP, or a UNIX socket).
 * The LMTP listener is up from the start: until Redis has been reached and checked (an agent
 * started while Redis is down waits for it, however long) sessions get 421 4.3.2; while Redis
 * is away later, RCPT gets 451 4.3.0. main.ts only loads the configuration and calls this;
 * tests call it directly.
 */
import { rm } from 'node:fs/promises';
import { type Directory, createDirectory } from '@mailway/directory';
import { createMaildir, createMbox } from '@mailway/mailbox';
import { createAgentSkeleton, ownDescriptors, spoolDescriptors } from '@mailway/agent';
import { createMailQueue, createMailWorker } from '@mailway/queue/queues';
import { waitForRedis } from '@mailway/queue/redis';
import type { Spool } from '@mailway/queue/spool';
import { type AgentContext, type RunningAgent, connectionLimits, violationReporter } from '@mailway/runtime';
import { type SmtpServer, createServer } from '@mailway/smtp/server';
import type { DeliveryConfig } from './config.js';
import type { DeliveryTargets } from './deliver.js';
import { lmtpHooks } from './lmtp.js';
import { createDeliveryMetrics } from './metrics.js';
import { deliveryProcessor } from './worker.js';

export interface DeliveryAgent extends RunningAgent {
  /** The LMTP port bound (useful when configured as 0); null when on a UNIX socket. */
  readonly lmtpPort: number | null;
  /** The LMTP UNIX socket path, when configured. */
  readonly socket: string | null;
  readonly directory: Directory;
  readonly spool: Spool;
}

/** Start the delivery agent. */
export async function createDeliveryAgent(config: DeliveryConfig, context: AgentContext): Promise<DeliveryAgent> {
  const { logger } = context;
  const settings = config.delivery;
  const metrics = createDeliveryMetrics(context.metrics);
  // Each delivery in flight may hold a mailbox file and its directory open.
  const admission = connectionLimits({
    prefix: 'DELIVERY_LMTP',
    path: 'delivery.lmtp.connections',
    settings: settings.lmtp.connections,
    listeners: 1,
    perSession: 2 + spoolDescriptors(settings.spool),
    reserve: ownDescriptors + 2 * settings.concurrency,
    refused: metrics.lmtpRefused,
    logger,
  });

  // Redis: a fail-fast connection for commands (LMTP answers 451 at once when Redis is down),
  // watched, and the worker's own; and the spool.
  const skeleton = createAgentSkeleton({ name: 'delivery', hostname: config.hostname, redis: config.redis, spool: settings.spool, failedRetention: config.failedRetention, traceRetention: config.traceRetention, worker: true }, context);
  const { redis, workerRedis, prefix, spool } = skeleton;
  let server: SmtpServer | null = null;
  let worker: ReturnType<typeof createMailWorker> | null = null;
  try {
    // What a delivery needs (connecting once Redis is there).
    const directory = createDirectory(redis, { prefix });
    const transfer = createMailQueue('transfer', redis, skeleton.queueOptions);
    transfer.queue.on('error', (error) => logger.debug({ err: error }, 'transfer queue error'));
    const targets: DeliveryTargets = {
      directory,
      spool,
      transfer,
      store: settings.mailboxFormat === 'maildir' ? createMaildir({ hostname: config.hostname, fsync: settings.fsync }) : createMbox({ fsync: settings.fsync }),
      format: settings.mailboxFormat,
      root: settings.mailboxRoot,
      subaddressFolders: settings.subaddressFolders,
      junkFolder: settings.junkFolder,
      hopCountLimit: config.hopCountLimit,
      notices: { hostname: config.hostname, returnLimit: settings.bounceReturnLimit },
      trace: skeleton.trace,
      confirm: () => skeleton.confirm(),
    };

    // The LMTP listener.
    server = createServer({
      hostname: config.hostname,
      lmtp: true,
      limits: { messageSize: settings.lmtp.maxMessageSize, recipients: 1000 },
      admission,
      hooks: skeleton.gate({ ...lmtpHooks(targets, logger, metrics), onViolation: violationReporter(logger, context.metrics) }),
      onError: (error, session) => logger.warn({ session: session?.id ?? null, err: error }, 'lmtp connection error'),
    });
    const socket = settings.lmtp.socket ?? null;
    if (socket !== null) await rm(socket, { force: true });
    const address = await server.listen(socket !== null ? { path: socket } : { host: settings.lmtp.host, port: settings.lmtp.port });
    const lmtpPort = typeof address === 'string' ? null : address.port;

    // Redis: reached (however long that takes), and configured so that queued mail cannot be evicted.
    await Promise.all([skeleton.reached(), waitForRedis(workerRedis, { timeoutMs: Number.POSITIVE_INFINITY })]);

    // The queue worker.
    worker = createMailWorker('delivery', workerRedis, deliveryProcessor(targets, logger, metrics, () => skeleton.confirm(workerRedis)), { prefix: skeleton.queueOptions.prefix, concurrency: settings.concurrency, autorun: false, ...settings.worker });
    worker.on('error', (error) => logger.warn({ err: error }, 'delivery worker error'));
    void worker.run().catch((error: unknown) => logger.error({ err: error }, 'delivery worker stopped'));
    logger.info({ lmtp: socket ?? { host: settings.lmtp.host, port: lmtpPort }, root: settings.mailboxRoot, format: settings.mailboxFormat, concurrency: settings.concurrency }, 'delivery running');

    // Redis reached and checked, workers running: from here sessions are served.
    skeleton.serve();
    const running = { server, worker };
    return {
      lmtpPort,
      socket,
      directory,
      spool,
      ready: () => skeleton.ready() && running.worker.isRunning(),
      async stop() {
        skeleton.stopping();
        // Stop taking work; jobs and sessions in flight finish.
        await Promise.all([running.server.close({ timeout: settings.shutdownTimeout }), skeleton.closeWorker(running.worker)]);
        await transfer.close();
        await skeleton.close();
      },
    };
  } catch (error) {
    await server?.close({ timeout: 0 });
    await worker?.close(true);
    await skeleton.close();
    throw error;
  }
}
