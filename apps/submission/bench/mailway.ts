/**
 * Mailway's side of the submission bench: a redis-server with AOF `appendfsync always` (every
 * acknowledged write fsynced) and the submission agent started from its own entry point, as a
 * separate process, exactly as `node dist/main.js` would run in production.
 *
 * Reads nothing but its options; emits a handle with the agent's ports and pid, a count of what
 * reached the queue and the spool, and stop().
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { startRedis } from '@mailway/vitest-config/redis';
import { freePort } from '@mailway/bench-tools/port';

export const benchUser = { user: 'sender@bench.example', pass: 'bench-password' } as const;

export interface MailwayInstance {
  readonly port: number;
  readonly tlsPort: number;
  readonly agentPid: number;
  /** Transfer jobs waiting and spool entries stored. */
  counts(): Promise<{ jobs: number; spooled: number }>;
  /** Peak resident memory of the agent so far, in bytes (Linux VmHWM). */
  peakRss(): Promise<number>;
  stop(): Promise<void>;
}

const appDir = fileURLToPath(new URL('..', import.meta.url));

/** Start Redis (AOF, fsync always) and the submission agent on free ports. */
export async function startMailway(): Promise<MailwayInstance> {
  const dir = await mkdtemp(join(tmpdir(), 'mailway-bench-'));
  const redis = await startRedis({ extraArgs: ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir] });
  const seed = join(dir, 'directory.json');
  await writeFile(seed, JSON.stringify({ domains: ['bench.example'], users: [{ address: benchUser.user, password: benchUser.pass }] }));

  const [port, tlsPort, httpPort] = [await freePort(), await freePort(), await freePort()];
  const agent = spawn(process.execPath, ['--import', 'tsx', '--conditions=@mailway/source', 'src/main.ts'], {
    cwd: appDir,
    env: {
      ...process.env,
      REDIS_URL: redis.url,
      MAILWAY_HOSTNAME: 'msa.bench.example',
      SUBMISSION_HOST: '127.0.0.1',
      SUBMISSION_PORT: String(port),
      SUBMISSION_TLS_PORT: String(tlsPort),
      SUBMISSION_HTTP_PORT: String(httpPort),
      // The load generator logs in over plaintext as smtp-source talks to Postfix; the TLS run measures STARTTLS too.
      SUBMISSION_ALLOW_INSECURE_AUTH: 'true',
      SUBMISSION_MESSAGES_PER_HOUR: '0',
      MAILWAY_DIRECTORY_SEED: seed,
      // Nothing routes the queued mail here: that backlog is the bench's own, not a sign of delivery falling behind.
      MAILWAY_IN_FLOW_DELAY: '0',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitReady(agent, httpPort);

  const client = new Redis(redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue('transfer', { connection: client, prefix: 'mailway' });

  return {
    port,
    tlsPort,
    agentPid: agent.pid ?? 0,
    async counts() {
      const jobs = (await queue.getJobCounts('waiting')).waiting ?? 0;
      let spooled = 0;
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', 'mailway:spool:*:meta', 'COUNT', 10_000);
        spooled += keys.length;
        cursor = next;
      } while (cursor !== '0');
      return { jobs, spooled };
    },
    async peakRss() {
      const { readFile } = await import('node:fs/promises');
      const status = await readFile(`/proc/${agent.pid}/status`, 'utf8');
      return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) * 1024;
    },
    async stop() {
      await queue.close();
      client.disconnect();
      await stopChild(agent);
      await redis.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Poll /readyz until the agent answers 200 (or give up after 30 s, or if it exits). */
async function waitReady(agent: ChildProcess, httpPort: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (agent.exitCode !== null) throw new Error(`submission agent exited with code ${agent.exitCode}`);
    try {
      const response = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  agent.kill('SIGKILL');
  throw new Error('submission agent did not become ready within 30 s');
}

/** SIGTERM (graceful shutdown), SIGKILL after 10 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
