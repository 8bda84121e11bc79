/**
 * createDeliveryAgent: wires the delivery agent from its configuration — Redis (checked), the
 * directory, the spool, the transfer queue (for expanded aliases), the mailbox store — and
 * starts the `delivery` queue worker and the LMTP listener (TCP, or a UNIX socket).
 * main.ts only loads the configuration and calls this; tests call it directly.
 */
import { rm } from 'node:fs/promises';
import type { Redis } from 'ioredis';
import { type Directory, createDirectory } from '@mailway/directory';
import { createMaildir, createMbox } from '@mailway/mailbox';
import { bullPrefix, createMailQueue, createMailWorker } from '@mailway/queue/queues';
import { checkRedis, createRedis, waitForRedis } from '@mailway/queue/redis';
import { type OpenedSpool, type Spool, openSpool } from '@mailway/queue/spool';
import type { AgentContext, RunningAgent } from '@mailway/runtime';
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
  const prefix = config.redis.prefix;
  const metrics = createDeliveryMetrics(context.metrics);

  // Redis: a fail-fast connection for commands (LMTP answers 451 at once when Redis is down),
  // and the worker's own.
  const redis = createRedis(config.redis.url, { role: 'command', name: 'mailway-delivery' });
  const workerRedis = createRedis(config.redis.url, { role: 'worker', name: 'mailway-delivery-worker' });
  for (const connection of [redis, workerRedis]) connection.on('error', (error: Error) => logger.debug({ err: error }, 'redis error'));
  let server: SmtpServer | null = null;
  let worker: ReturnType<typeof createMailWorker> | null = null;
  let spooled: OpenedSpool | null = null;
  try {
    await Promise.all([waitForRedis(redis), waitForRedis(workerRedis)]);
    const facts = await checkRedis(redis);
    for (const warning of facts.warnings) logger.warn({ redis: facts.version }, warning);

    // What a delivery needs.
    const directory = createDirectory(redis, { prefix });
    spooled = openSpool(settings.spool, redis, { prefix, logger });
    const spool: Spool = spooled.spool;
    const transfer = createMailQueue('transfer', redis, { prefix: bullPrefix(prefix), failedRetentionMs: config.failedRetention });
    transfer.queue.on('error', (error) => logger.debug({ err: error }, 'transfer queue error'));
    const targets: DeliveryTargets = {
      directory,
      spool,
      transfer,
      store: settings.mailboxFormat === 'maildir' ? createMaildir({ hostname: config.hostname, fsync: settings.fsync }) : createMbox({ fsync: settings.fsync }),
      format: settings.mailboxFormat,
      root: settings.mailboxRoot,
      subaddressFolders: settings.subaddressFolders,
    };

    // The LMTP listener.
    server = createServer({
      hostname: config.hostname,
      lmtp: true,
      limits: { messageSize: settings.lmtp.maxMessageSize, recipients: 1000 },
      hooks: lmtpHooks(targets, logger, metrics),
      onError: (error, session) => logger.warn({ session: session?.id ?? null, err: error }, 'lmtp connection error'),
    });
    const socket = settings.lmtp.socket ?? null;
    if (socket !== null) await rm(socket, { force: true });
    const address = await server.listen(socket !== null ? { path: socket } : { host: settings.lmtp.host, port: settings.lmtp.port });
    const lmtpPort = typeof address === 'string' ? null : address.port;

    // The queue worker.
    worker = createMailWorker('delivery', workerRedis, deliveryProcessor(targets, logger, metrics), { prefix: bullPrefix(prefix), concurrency: settings.concurrency, autorun: false, ...settings.worker });
    worker.on('error', (error) => logger.warn({ err: error }, 'delivery worker error'));
    void worker.run().catch((error: unknown) => logger.error({ err: error }, 'delivery worker stopped'));
    logger.info({ lmtp: socket ?? { host: settings.lmtp.host, port: lmtpPort }, root: settings.mailboxRoot, format: settings.mailboxFormat, concurrency: settings.concurrency }, 'delivery running');

    let stopping = false;
    const running = { server, worker };
    return {
      lmtpPort,
      socket,
      directory,
      spool,
      ready: () => !stopping && redis.status === 'ready' && running.worker.isRunning(),
      async stop() {
        stopping = true;
        // Stop taking work; jobs and sessions in flight finish.
        await Promise.all([running.server.close({ timeout: settings.shutdownTimeout }), running.worker.close()]);
        await transfer.close();
        spooled?.close();
        await Promise.all([quit(redis), quit(workerRedis)]);
      },
    };
  } catch (error) {
    await server?.close({ timeout: 0 });
    await worker?.close(true);
    spooled?.close();
    await Promise.all([quit(redis), quit(workerRedis)]);
    throw error;
  }
}

async function quit(redis: Redis): Promise<void> {
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}
