/**
 * Delivery agent throughput: N delivery jobs (2 KB messages, one local user) are queued, then
 * the agent — its own process, Redis with AOF `appendfsync always`, every Maildir file fsynced —
 * drains them; prints deliveries per second and the agent's CPU per delivery.
 *
 *   pnpm exec tsx --conditions=@mailway/source bench/run.ts [--messages N] [--concurrency N] [--profile DIR]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { benchArgs } from '@mailway/bench-tools/args';
import { buildMessage } from '@mailway/bench-tools/loadgen';
import { freePort } from '@mailway/bench-tools/port';
import { startRedis } from '@mailway/vitest-config/redis';
import { createDirectory } from '@mailway/directory';
import { newQueueId } from '@mailway/queue/jobs';
import { bullPrefix, createMailQueue } from '@mailway/queue/queues';
import { createRedisSpool } from '@mailway/queue/spool';

const { values } = parseArgs({ args: benchArgs(), options: { messages: { type: 'string', default: '5000' }, concurrency: { type: 'string', default: '32' }, profile: { type: 'string' } } });
const messages = Number(values.messages);
const appDir = fileURLToPath(new URL('..', import.meta.url));
/** User and system CPU seconds of a process so far. */
const cpuOf = async (pid: number): Promise<{ user: number; system: number }> => {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
};

const dir = await mkdtemp(join(tmpdir(), 'mailway-delivery-bench-'));
const redis = await startRedis({ extraArgs: ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir] });
const client = new Redis(redis.url, { maxRetriesPerRequest: null });
try {
  // The user and the queued messages.
  const directory = createDirectory(client, { prefix: 'mailway:' });
  await directory.addDomain('bench.example');
  await directory.addUser('rcpt@bench.example', 'bench-password');
  const spool = createRedisSpool(client, { prefix: 'mailway:' });
  const queue = createMailQueue('delivery', client, { prefix: bullPrefix('mailway:') });
  const body = buildMessage(2048, 'sender@bench.example', 'rcpt@bench.example').subarray(0, -3);
  const origin = { agent: 'relay' as const, client: null, user: null, tls: null, receivedAt: new Date().toISOString() };
  for (let i = 0; i < messages; i += 1) {
    const queueId = newQueueId();
    await spool.write(queueId, body, { refs: 1 });
    await queue.add({ queueId, spoolId: queueId, size: body.length, messageId: null, from: 'sender@bench.example', recipient: { address: 'rcpt@bench.example', notify: null, orcpt: null }, origin });
  }
  await queue.close();
  process.stderr.write(`bench: ${messages} delivery jobs queued\n`);

  // The agent drains them.
  const root = join(dir, 'mail');
  const started = performance.now();
  const agent = spawn(process.execPath, [...(values.profile ? ['--cpu-prof', `--cpu-prof-dir=${values.profile}`] : []), '--import', 'tsx', '--conditions=@mailway/source', 'src/main.ts'], {
    cwd: appDir,
    env: { ...process.env, REDIS_URL: redis.url, DELIVERY_MAILBOX_ROOT: root, DELIVERY_LMTP_PORT: String(await freePort()), DELIVERY_HTTP_PORT: String(await freePort()), DELIVERY_CONCURRENCY: values.concurrency, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const newDir = join(root, 'bench.example', 'rcpt', 'Maildir', 'new');
  let cpuStart = { user: Number.NaN, system: Number.NaN };
  let first = Number.NaN;
  for (;;) {
    const count = (await readdir(newDir).catch(() => [])).length;
    if (count > 0 && Number.isNaN(first)) {
      first = performance.now();
      cpuStart = await cpuOf(agent.pid ?? 0);
    }
    if (count >= messages) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const seconds = (performance.now() - first) / 1000;
  const cpuEnd = await cpuOf(agent.pid ?? 0);
  const user = cpuEnd.user - cpuStart.user;
  const system = cpuEnd.system - cpuStart.system;
  const exited = new Promise((resolve) => agent.once('exit', resolve));
  agent.kill('SIGTERM');
  await exited;
  process.stdout.write(`deliveries: ${messages} in ${seconds.toFixed(2)} s = ${Math.round(messages / seconds)}/s (start-up ${((first - started) / 1000).toFixed(1)} s excluded); agent CPU ${Math.round(((user + system) / seconds) * 100)}%, per delivery ${Math.round((user / messages) * 1e6)} us user + ${Math.round((system / messages) * 1e6)} us system\n`);
} finally {
  client.disconnect();
  await redis.stop();
  await rm(dir, { recursive: true, force: true });
}
