/**
 * Mailway's side of the outbound bench: a redis-server with AOF `appendfsync always` (as
 * `mailway start` runs it), `messages` messages queued for remote.example as the transfer worker
 * leaves them, then the relay agent from its build (`node dist/main.js`) with only its outbound
 * role, sending them to the bench's smtp-sink through a transport map entry.
 *
 * Each message is a spool entry (one reference, claimed) and one outbound job for one recipient,
 * added through the queue's own producer (schema-checked, deterministic job id, parent = its
 * transfer job). Its content is the load generator's stamped message with a Received field in
 * front, as the intake would have written it.
 *
 * Reads its options; emits a handle with the time the worker started (the agent's own log line),
 * the processes to measure, the queue's final counts and the spool entries left, and stop(). The
 * agent logs at info level (one line per delivery, as Postfix logs one per message) into
 * relay.log in a temp dir, quoted when it fails.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { buildMessage, stamp } from '@mailway/bench-tools/loadgen';
import { freePort } from '@mailway/bench-tools/port';
import { startRedis, type TestRedis } from '@mailway/vitest-config/redis';
import { newQueueId, transferJobId } from '@mailway/queue/jobs';
import { bullPrefix, createMailQueue } from '@mailway/queue/queues';
import { createRedisSpool } from '@mailway/queue/spool';

export interface MailwayOptions {
  readonly messages: number;
  readonly size: number;
  readonly concurrency: number;
  readonly from: string;
  readonly to: string;
  /** smtp-sink's port on 127.0.0.1. */
  readonly sinkPort: number;
  /** Write a V8 CPU profile of the agent into this folder. */
  readonly profileDir?: string;
  /** False: a new session per message (RELAY_OUTBOUND_SESSION_IDLE=0). */
  readonly reuse?: boolean;
}

export interface MailwayRun {
  /** Wall-clock ms at which the agent reported its outbound worker running. */
  readonly startedAtMs: number;
  /** The agent and redis-server. */
  readonly pids: readonly number[];
  /** Outbound jobs by state, once every one has left the waiting and active states (or time ran out). */
  settled(timeoutMs: number): Promise<Record<string, number>>;
  /** Spool entries of the queued messages still stored. */
  spoolLeft(): Promise<number>;
  /** Seconds in which an AOF fsync took over 1 ms, and the slowest (Redis's latency monitor keeps one sample a second). */
  slowFsyncs(): Promise<{ readonly seconds: number; readonly worstMs: number }>;
  /** Stop the agent and Redis, remove the temp dir; a second call does nothing. */
  stop(): Promise<void>;
}

const appDir = fileURLToPath(new URL('..', import.meta.url));
const entry = join(appDir, 'dist', 'main.js');
const prefix = 'mailway:';
const domain = 'remote.example';
const readyTimeoutMs = 60_000;

/** Queue the messages, then start the agent; resolves once its worker runs. */
export async function startMailway(options: MailwayOptions): Promise<MailwayRun> {
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run pnpm build first`);
  const dir = await mkdtemp(join(tmpdir(), 'mailway-outbound-bench-'));
  let redis: TestRedis | undefined;
  let client: Redis | undefined;
  let agent: ChildProcess | undefined;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (agent !== undefined) await stopChild(agent);
    client?.disconnect();
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  };

  try {
    // Every reply waits for its write's fsync, so the disk's fsync latency is part of each job's.
    redis = await startRedis({ extraArgs: ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir, '--latency-monitor-threshold', '1'] });
    client = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queueIds = await prequeue(client, options);
    await client.call('LATENCY', 'RESET');

    // The agent, outbound role only, to smtp-sink.
    const logPath = join(dir, 'relay.log');
    const log = await open(logPath, 'a');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      REDIS_URL: redis.url,
      MAILWAY_REDIS_PREFIX: prefix,
      MAILWAY_HOSTNAME: 'relay.bench.invalid',
      RELAY_ROLES: 'outbound',
      RELAY_TRANSPORTS: `${domain}=smtp:[127.0.0.1]:${options.sinkPort}`,
      // smtp-sink offers no STARTTLS; Postfix's client does not try TLS by default either.
      RELAY_OUTBOUND_TLS: 'never',
      // The destination's limit, as Postfix's default_destination_concurrency_limit; jobs in flight
      // (RELAY_OUTBOUND_CONCURRENCY) stay at the relay's default, as Postfix's process limit does.
      RELAY_OUTBOUND_DESTINATION_CONCURRENCY: String(options.concurrency),
      ...(options.reuse === false ? { RELAY_OUTBOUND_SESSION_IDLE: '0' } : {}),
      RELAY_PORT: String(await freePort()),
      RELAY_HTTP_PORT: String(await freePort()),
      LOG_LEVEL: 'info',
    };
    const profile = options.profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`];
    const child = spawn(process.execPath, [...profile, entry], { cwd: appDir, env, stdio: ['ignore', log.fd, log.fd] });
    agent = child;
    child.once('error', () => {});
    // Last resort when the bench exits without stop().
    const onExit = (): void => void child.kill('SIGKILL');
    process.once('exit', onExit);
    child.once('exit', () => process.off('exit', onExit));
    await log.close();
    const startedAtMs = await workerStarted(agent, logPath);

    const queue = createMailQueue('outbound', client, { prefix: bullPrefix(prefix) });
    const spool = createRedisSpool(client, { prefix });
    return {
      startedAtMs,
      pids: [agent.pid ?? 0, redis.pid ?? 0],
      async settled(timeoutMs) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const counts = await queue.queue.getJobCounts('wait', 'active', 'delayed', 'completed', 'failed');
          if ((counts.wait ?? 0) + (counts.active ?? 0) === 0 || Date.now() > deadline) return counts;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      },
      async spoolLeft() {
        const entries = await Promise.all(queueIds.map((id) => spool.stat(id)));
        return entries.filter((e) => e !== null).length;
      },
      async slowFsyncs() {
        const history = (await client?.call('LATENCY', 'HISTORY', 'aof-fsync-always')) as [number, number][] | undefined;
        return { seconds: history?.length ?? 0, worstMs: Math.max(0, ...(history ?? []).map(([, ms]) => ms)) };
      },
      async stop() {
        await queue.close();
        await stop();
      },
    };
  } catch (error) {
    const text = await readFile(join(dir, 'relay.log'), 'utf8').catch(() => '');
    await stop();
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`relay agent: ${reason}${text ? `\n--- relay.log (end) ---\n${text.trimEnd().split('\n').slice(-15).join('\n')}` : ''}`);
  }
}

/** Spool and enqueue the messages, a few hundred at a time; returns their queue ids. */
async function prequeue(client: Redis, options: MailwayOptions): Promise<string[]> {
  const spool = createRedisSpool(client, { prefix });
  const queue = createMailQueue('outbound', client, { prefix: bullPrefix(prefix) });
  const template = buildMessage(options.size, options.from, options.to, true).subarray(0, -3);
  const recipient = { address: options.to, notify: null, orcpt: null };
  const envelope = { from: options.from, recipients: [recipient], body: null, smtputf8: false, ret: null, envid: null, requireTls: false };
  const queueIds: string[] = [];

  const one = async (seq: number): Promise<void> => {
    const queueId = newQueueId();
    const receivedAt = new Date();
    const received = `Received: from loadgen.bench.invalid (localhost [127.0.0.1])\r\n\tby relay.bench.invalid (Mailway) with ESMTP id ${queueId}\r\n\tfor <${options.to}>; ${receivedAt.toUTCString()}\r\n`;
    const content = Buffer.concat([Buffer.from(received, 'latin1'), stamp(template, seq, receivedAt.getTime())]);
    // What the intake and then the transfer worker leave: the content with one reference per
    // recipient, claimed, and one outbound job per destination domain.
    await spool.write(queueId, content, { refs: 1 });
    await spool.claim(queueId);
    const origin = { agent: 'submission' as const, client: { address: '127.0.0.1', port: 0, helo: 'loadgen.bench.invalid' }, user: options.from, tls: null, receivedAt: receivedAt.toISOString() };
    await queue.add({ queueId, spoolId: queueId, size: content.length, messageId: null, parent: transferJobId(queueId), domain, envelope, origin });
    queueIds.push(queueId);
  };
  const batch = 200;
  for (let start = 1; start <= options.messages; start += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, options.messages - start + 1) }, (_, i) => one(start + i)));
  }
  await queue.close();
  return queueIds;
}

/** The time of the agent's 'relay listening' line, logged once its outbound worker is running. */
async function workerStarted(agent: ChildProcess, logPath: string): Promise<number> {
  const deadline = Date.now() + readyTimeoutMs;
  while (Date.now() < deadline) {
    if (agent.exitCode !== null || agent.signalCode !== null) throw new Error(`exited (${agent.exitCode ?? agent.signalCode}) before its worker ran`);
    const text = await readFile(logPath, 'utf8').catch(() => '');
    const line = text.split('\n').find((l) => l.includes('"msg":"relay listening"'));
    if (line !== undefined) return Date.parse((JSON.parse(line) as { time: string }).time);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no 'relay listening' line within ${readyTimeoutMs / 1000} s`);
}

/** SIGTERM (graceful shutdown, which also writes a CPU profile), SIGKILL after 30 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}
