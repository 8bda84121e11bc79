/**
 * The skeleton every Mailway agent is built on: its Redis connections, the spool it is
 * configured with, the gate in front of its SMTP or LMTP hooks, its readiness and the release
 * of what it opened. Each agent adds only its own policy, queues, workers and listeners.
 *
 * Reads: where the agent's Redis is (a URL, or sentinels and a primary name) and its prefix, the
 * replicas a write must reach before it is acknowledged, its spool settings. Opens: a fail-fast connection
 * for commands (`mailway-<name>`), watched (`redis connected`, `redis connection lost…`,
 * `mailway_redis_up`), so that a session learns at once when Redis is away; for agents with
 * queue workers, a patient connection of their own (`mailway-<name>-worker`, errors logged at
 * debug level); the spool (for the filesystem backend, with its periodic sweep).
 * Emits: `<name> ready` once the agent serves; sessions before that get 421 4.3.2, and RCPT
 * gets 451 4.3.0 while Redis is away (withAvailability). With a replica wait, `confirm` (WAIT)
 * and its metrics `mailway_redis_replica_wait_seconds` and `mailway_redis_replica_shortfalls_total`,
 * and a warning at start-up when Redis has fewer replicas than awaited.
 */
import type { Redis } from 'ioredis';
import { applySeed, type Directory, readSeedFile } from '@mailway/directory';
import { bullPrefix } from '@mailway/queue/queues';
import { type RedisTarget, type ReplicaWait, ReplicaShortfallError, closeRedis, confirmReplicas, createRedis, replicaWaitOf, watchRedis } from '@mailway/queue/redis';
import { type OpenedSpool, type Spool, type SpoolSettings, openSpool } from '@mailway/queue/spool';
import { type TraceLog, createTraceLog } from '@mailway/queue/trace';
import type { AgentContext } from '@mailway/runtime';
import { type ServerHooks, type SmtpServer, withAvailability } from '@mailway/smtp/server';

/** Descriptors kept below the open-file limit for an agent's own work (Redis, logs, DNS, HTTP). */
export const ownDescriptors = 128;

export interface AgentSkeletonOptions {
  /** The agent's name (`submission`): names its Redis connections and its `ready` log line. */
  readonly name: string;
  /** Heads the 421 reply of a session that comes before the agent serves. */
  readonly hostname: string;
  /** Where Redis is, the key prefix, and the replicas a write must reach before it is acknowledged (see replicaWaitOf). */
  readonly redis: RedisTarget & { readonly prefix: string; readonly waitReplicas?: number | undefined; readonly waitTimeout?: number };
  readonly spool: SpoolSettings;
  /** How long a job that failed for good stays in its queue (ms). */
  readonly failedRetention: number;
  /** How long a message's trace is kept after its latest event (ms; MAILWAY_TRACE_RETENTION). */
  readonly traceRetention: number;
}

export interface AgentSkeleton {
  /** The Redis key prefix. */
  readonly prefix: string;
  /** The fail-fast command connection: commands fail at once while Redis is away. */
  readonly redis: Redis;
  readonly spool: Spool;
  /** Messages' trace records, written over the command connection (never waited for). */
  readonly trace: TraceLog;
  /** Replicas awaited before a write is acknowledged (0: none). */
  readonly replicaWait: ReplicaWait;
  /**
   * Resolves once the awaited replicas hold every write made so far on `connection` (default:
   * the command connection); ReplicaShortfallError when fewer confirm in time. Nothing to wait
   * for without a replica wait.
   */
  confirm(connection?: Redis): Promise<void>;
  /** Options for the agent's BullMQ queues and workers: their prefix, how long failed jobs stay. */
  readonly queueOptions: { readonly prefix: string; readonly failedRetentionMs: number };
  /** `hooks` behind the gate: 421 4.3.2 to every session until serve(), 451 4.3.0 at RCPT while Redis is away. */
  gate(hooks: ServerHooks): ServerHooks;
  /** Resolves once Redis has been reached (however long that takes) and checked. */
  reached(): Promise<void>;
  /** Sessions are served from now on (Redis reached and checked, workers running). */
  serve(): void;
  /** Not stopping, and the command connection is up. */
  ready(): boolean;
  /** Stop has begun: never ready again. */
  stopping(): void;
  /** Releases what the skeleton opened: the spool's sweep, then the Redis connections. */
  close(): Promise<void>;
}

/** What closeWorker needs of a BullMQ worker. */
export interface QueueWorker {
  readonly name: string;
  /** `force`: do not wait for the jobs in flight. */
  close(force?: boolean): Promise<void>;
}

export interface WorkerAgentSkeleton extends AgentSkeleton {
  /** The patient connection for queue workers (BullMQ blocks on it). */
  readonly workerRedis: Redis;
  /**
   * Closes a queue worker: with Redis there it finishes its jobs in flight; with Redis away it
   * lets them go at once (their locks lapse and another run takes them up, as after a crash),
   * since nothing could be recorded and a stop must not wait for Redis to come back.
   */
  closeWorker(worker: QueueWorker): Promise<void>;
}

/** Opens an agent's Redis connections and spool; `worker` adds a connection for queue workers. */
export function createAgentSkeleton(options: AgentSkeletonOptions & { readonly worker: true }, context: AgentContext): WorkerAgentSkeleton;
export function createAgentSkeleton(options: AgentSkeletonOptions, context: AgentContext): AgentSkeleton;
export function createAgentSkeleton(options: AgentSkeletonOptions & { readonly worker?: boolean }, context: AgentContext): AgentSkeleton | WorkerAgentSkeleton {
  const { logger } = context;
  const { name, redis: target } = options;
  const { prefix } = target;

  // Redis: a fail-fast client, watched (sessions are gated on it), and the workers' own.
  const redis = createRedis(target, { role: 'command', name: `mailway-${name}` });
  const workerRedis = options.worker === true ? createRedis(target, { role: 'worker', name: `mailway-${name}-worker` }) : null;
  const link = watchRedis(redis, logger, context.metrics);
  workerRedis?.on('error', (error: Error) => logger.debug({ err: error }, 'redis (worker) error'));

  // The spool (it connects once Redis is there).
  const spooled: OpenedSpool = openSpool(options.spool, redis, { prefix, logger });

  // Trace records: a write Redis refused is counted and logged, never more.
  const traceFailures = context.metrics.counter('trace_write_failures_total', 'Trace events Redis did not store (the messages themselves are unaffected)');
  const trace = createTraceLog(redis, {
    prefix,
    retentionMs: options.traceRetention,
    onError: (error, queueId) => {
      traceFailures.inc();
      logger.warn({ queueId, err: error }, 'trace event not stored');
    },
  });
  // Replicas: what an acknowledged write waits for.
  const replicaWait = replicaWaitOf({ ...target, waitTimeout: target.waitTimeout ?? 1_000 });
  const confirm = replicaConfirmer(replicaWait, context.metrics);

  let open = false;
  let stopping = false;
  const skeleton: AgentSkeleton = {
    prefix,
    redis,
    spool: spooled.spool,
    trace,
    queueOptions: { prefix: bullPrefix(prefix), failedRetentionMs: options.failedRetention },
    gate: (hooks) => withAvailability(hooks, { open: () => open, up: link.up }, options.hostname),
    replicaWait,
    confirm: (connection = redis) => confirm(connection),
    async reached() {
      await link.reached();
      await warnOnFewReplicas(redis, replicaWait, logger);
    },
    serve() {
      open = true;
      logger.info(`${name} ready`);
    },
    ready: () => !stopping && redis.status === 'ready',
    stopping() {
      stopping = true;
    },
    async close() {
      spooled.close();
      await Promise.all([link.close(), ...(workerRedis === null ? [] : [closeRedis(workerRedis)])]);
    },
  };
  if (workerRedis === null) return skeleton;
  return {
    ...skeleton,
    workerRedis,
    async closeWorker(worker) {
      const away = workerRedis.status !== 'ready';
      if (away) logger.warn({ worker: worker.name }, 'redis away at stop: jobs in flight are left to be taken up again');
      await worker.close(away);
    },
  };
}

/** `confirmReplicas` with `wait`, timed and its shortfalls counted. */
function replicaConfirmer(wait: ReplicaWait, metrics: AgentContext['metrics']): (connection: Redis) => Promise<void> {
  if (wait.replicas === 0) return async () => {};
  const seconds = metrics.histogram('redis_replica_wait_seconds', 'Time WAIT took for Redis replicas to confirm acknowledged writes', [], [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5]);
  const shortfalls = metrics.counter('redis_replica_shortfalls_total', 'Writes fewer Redis replicas confirmed than awaited (REDIS_WAIT_REPLICAS), answered 451 or retried');
  return async (connection) => {
    const started = process.hrtime.bigint();
    try {
      await confirmReplicas(connection, wait);
    } catch (error) {
      if (error instanceof ReplicaShortfallError) shortfalls.inc();
      throw error;
    } finally {
      seconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    }
  };
}

/** Says at start-up how many replicas each write waits for, and warns when Redis has fewer now. */
async function warnOnFewReplicas(redis: Redis, wait: ReplicaWait, logger: AgentContext['logger']): Promise<void> {
  if (wait.replicas === 0) return;
  const replication = await redis.info('replication');
  const connected = Number(/connected_slaves:(\d+)/.exec(replication)?.[1] ?? 0);
  const fields = { awaited: wait.replicas, connected, timeoutMs: wait.timeoutMs };
  if (connected < wait.replicas) logger.warn(fields, 'redis has fewer replicas than each acknowledged write waits for (REDIS_WAIT_REPLICAS): messages get 451 until enough replicas are back');
  else logger.info(fields, 'acknowledged writes wait for redis replicas');
}

/** File descriptors one session holds on the spool while it writes: the content file on a filesystem spool. */
export function spoolDescriptors(spool: Pick<SpoolSettings, 'backend'>): number {
  return spool.backend === 'fs' ? 1 : 0;
}

/** Applies the directory seed file, when one is configured (config as code). */
export async function seedDirectory(directory: Directory, file: string | undefined, logger: AgentContext['logger']): Promise<void> {
  if (file === undefined) return;
  await applySeed(directory, await readSeedFile(file));
  logger.info({ file }, 'directory seeded');
}

/** The port a TCP listener bound. */
export function portOf(address: Awaited<ReturnType<SmtpServer['listen']>>): number {
  if (typeof address === 'string') throw new Error(`unexpected listener address ${address}`);
  return address.port;
}
