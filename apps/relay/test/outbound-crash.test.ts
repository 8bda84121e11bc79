/**
 * The outbound worker killed at any moment loses nothing. 200 messages for sink.test are taken
 * in on the relay port (a relay process with the inbound and router roles, left running), each
 * with its own stamp header; sink.test's MX (from dnsmasq) is a slow receiving server (nodemailer's
 * smtp-server, each RCPT answered after 20-120 ms) that records every message it accepts. Then
 * a relay process with only the outbound role (the agent as operators run it) is started and
 * SIGKILLed 150-600 ms after it says it is ready, again and again, and at last left to finish.
 *
 * Every stamp must reach the sink at least once, every outbound job complete, and the spool end
 * empty. A message sent again is allowed only where the sink had accepted it before a kill,
 * before the worker could record so: at most the jobs in flight at each kill, so duplicates stay
 * within kills × RELAY_OUTBOUND_CONCURRENCY. The figures are printed on one line.
 *
 * Jobs of a killed worker come back within seconds here, through RELAY_OUTBOUND_LOCK_DURATION and
 * RELAY_OUTBOUND_STALLED_INTERVAL (BullMQ's 30 s each by default), and so do the destination
 * slots it held, through RELAY_OUTBOUND_DESTINATION_LEASE (2 min by default).
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bullPrefix } from '@mailway/queue/queues';
import { type AgentProcess, logged, startAgentMain } from '@mailway/testing/agent-process';
import { type TestDns, startDnsmasq } from '@mailway/testing/dns';
import { type TestRedis, freePort, startRedis } from '@mailway/vitest-config/redis';
import { type Peer, startPeer } from './support/peers.js';
import { sharedPort } from '@mailway/testing/ports';

const appDir = fileURLToPath(new URL('..', import.meta.url));
const messages = 200;
const concurrency = 10;
const kills = { max: 12, minMs: 150, maxMs: 600 };
const sinkAddress = '127.0.0.71';
const relayAddress = '127.0.0.72';
/** How long after a worker's exit octets it wrote may still reach the sink. */
const lateMs = 250;

let redis: TestRedis;
let dns: TestDns;
let sink: Peer;
let client: Redis;
let outbound: Queue;
const prefix = `mailway-test:${randomUUID()}:`;
const running = new Set<AgentProcess>();
let base: Record<string, string>;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url, { maxRetriesPerRequest: null });
  outbound = new Queue('outbound', { connection: client, prefix: bullPrefix(prefix) });
  const port = await sharedPort([sinkAddress]);
  sink = await startPeer(sinkAddress, port, { rcptDelay: [20, 120], timed: true });
  dns = await startDnsmasq({ mx: [['sink.test', 'mx.sink.test', 10]], hosts: [['mx.sink.test', sinkAddress]] });
  base = {
    REDIS_URL: redis.url,
    MAILWAY_REDIS_PREFIX: prefix,
    MAILWAY_HOSTNAME: 'mx.local.test',
    RELAY_HTTP_PORT: '0',
    RELAY_DNS_SERVERS: dns.address,
    RELAY_OUTBOUND_PORT: String(port),
    // Plain SMTP: the kills, not TLS handshakes, are what this test is about.
    RELAY_OUTBOUND_TLS: 'never',
    RELAY_OUTBOUND_CONCURRENCY: String(concurrency),
    RELAY_OUTBOUND_LOCK_DURATION: '2s',
    RELAY_OUTBOUND_STALLED_INTERVAL: '1s',
    RELAY_OUTBOUND_DESTINATION_LEASE: '2s',
    RELAY_OUTBOUND_DESTINATION_LEASE_RENEW: '1s',
    LOG_LEVEL: 'info',
  };
});

afterAll(async () => {
  for (const agent of running) agent.child.kill('SIGKILL');
  await Promise.all([...running].map((agent) => agent.exit));
  await outbound?.close();
  client?.disconnect();
  await sink?.close();
  await dns?.stop();
  await redis?.stop();
});

/** Starts the relay with `env` on top of the test's settings; it is killed after the test if still running. */
function relay(env: Record<string, string>): AgentProcess {
  const agent = startAgentMain(appDir, { ...base, ...env });
  running.add(agent);
  void agent.exit.then(() => running.delete(agent));
  return agent;
}

it('loses no message and sends again only what was in flight while the outbound worker is SIGKILLed again and again', async () => {
  // The messages, taken in and routed: one outbound job each.
  const intakePort = await freePort();
  const intake = relay({ RELAY_ROLES: 'inbound,router', RELAY_HOST: relayAddress, RELAY_PORT: String(intakePort), RELAY_NETWORKS: '127.0.0.0/8' });
  await logged(intake, 'relay ready');
  const transport = nodemailer.createTransport({ host: relayAddress, port: intakePort, secure: false, ignoreTLS: true, pool: true, maxConnections: 4, maxMessages: Infinity });
  await Promise.all(
    Array.from({ length: messages }, (_, stamp) => {
      const raw = [`From: sender@local.test`, `To: user${stamp}@sink.test`, `Subject: crash ${stamp}`, `Message-ID: <${stamp}.${randomUUID()}@local.test>`, `X-Stamp: ${stamp}`, '', 'Sent while its sender is killed.', ''].join('\r\n');
      return transport.sendMail({ envelope: { from: 'sender@local.test', to: [`user${stamp}@sink.test`] }, raw });
    }),
  );
  transport.close();
  await until('every message routed to outbound', async () => ((await outbound.getJobCounts('waiting')).waiting === messages ? true : null), 20_000);
  intake.child.kill('SIGTERM');
  expect(await intake.exit).toBe(0);

  // The outbound worker, killed at random moments once it is at work, until it is done or out of
  // kills. Each killed worker's lifetime is noted: a message its sink accepted then may come again.
  const started = Date.now();
  const lifetimes: Array<{ from: number; to: number }> = [];
  while (lifetimes.length < kills.max && !(await drained())) {
    const from = Date.now();
    const worker = relay({ RELAY_ROLES: 'outbound' });
    await logged(worker, 'relay ready');
    await sleep(kills.minMs + Math.random() * (kills.maxMs - kills.minMs));
    worker.child.kill('SIGKILL');
    await worker.exit;
    // Octets the worker wrote before it died may still be in the sink's socket for a moment.
    lifetimes.push({ from, to: Date.now() + lateMs });
  }
  const killed = lifetimes.length;
  // Left to finish: the jobs of the last killed worker come back once their locks lapse.
  const last = relay({ RELAY_ROLES: 'outbound' });
  await logged(last, 'relay ready');
  await until('every outbound job completed', async () => ((await drained()) ? true : null), 30_000);
  last.child.kill('SIGTERM');
  expect(await last.exit).toBe(0);
  const elapsedMs = Date.now() - started;

  // What the sink received, by stamp, in the order it accepted them.
  const copies = new Map<number, number[]>();
  for (const message of sink.received) {
    const stamp = Number(/^X-Stamp: (\d+)\r$/m.exec(message.body.toString('latin1'))?.[1]);
    copies.set(stamp, [...(copies.get(stamp) ?? []), message.at ?? 0]);
  }
  const lost = Array.from({ length: messages }, (_, stamp) => stamp).filter((stamp) => !copies.has(stamp));
  // A copy that was sent again: accepted while a worker that was then killed was running, at most
  // as many per killed worker as it had jobs in flight.
  const resent = [...copies.values()].flatMap((times) => times.slice(0, -1));
  const duplicates = resent.length;
  const perKill = lifetimes.map(({ from, to }) => resent.filter((at) => at >= from && at <= to).length);
  const unexplained = resent.filter((at) => !lifetimes.some(({ from, to }) => at >= from && at <= to));
  const counts = await outbound.getJobCounts('completed', 'failed', 'waiting', 'active', 'delayed', 'prioritized');
  const spool = await client.keys(`${prefix}spool:*`);
  console.log(`outbound crash figures: messages ${messages}, received ${sink.received.length}, lost ${lost.length}, duplicates ${duplicates} (per kill ${perKill.join('/')}), kills ${killed}, concurrency ${concurrency}, connections ${sink.connections}, completed ${counts.completed}, failed ${counts.failed}, spool keys ${spool.length}, ${elapsedMs} ms`);

  expect(killed, 'the worker was killed at least once').toBeGreaterThan(0);
  expect(lost).toEqual([]);
  expect(copies.size).toBe(messages);
  expect(counts).toEqual({ completed: messages, failed: 0, waiting: 0, active: 0, delayed: 0, prioritized: 0 });
  expect(spool).toEqual([]);
  expect(duplicates).toBeLessThanOrEqual(killed * concurrency);
  expect(unexplained, 'copies sent again that no kill explains').toEqual([]);
  for (const n of perKill) expect(n).toBeLessThanOrEqual(concurrency);
}, 90_000);

/** Whether no outbound job is left to do (waiting, active, delayed or failed). */
async function drained(): Promise<boolean> {
  const counts = await outbound.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed');
  return Object.values(counts).every((n) => n === 0);
}

async function until<T>(what: string, probe: () => Promise<T | null>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
