/**
 * A destination's limit holds across relay processes: its slots are leases in Redis (see
 * src/outbound/leases.ts). Two relay processes with only the outbound role (the agent as
 * operators run it, each sending from its own address) share one Redis and send to sink.test,
 * whose MX (from dnsmasq) is a slow receiving server (nodemailer's smtp-server) that notes the
 * most transactions it had under way at once. Messages are taken in by a third relay process
 * (inbound and router roles).
 *
 * - With RELAY_OUTBOUND_DESTINATION_CONCURRENCY=3, the sink never has more than 3 transactions at
 *   once, though each process alone would run 3, and every message arrives once.
 * - An attempt that runs longer than the lease keeps its slot (the lease is renewed); the lease of
 *   a process SIGKILLed in the middle of it keeps the slot until it lapses (a short lease here),
 *   then the other process takes the slot.
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import nodemailer from 'nodemailer';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { bullPrefix } from '@mailway/queue/queues';
import { type AgentProcess, logged, startAgentMain } from '@mailway/testing/agent-process';
import { type TestDns, startDnsmasq } from '@mailway/testing/dns';
import { sharedPort } from '@mailway/testing/ports';
import { type TestRedis, freePort, startRedis } from '@mailway/vitest-config/redis';
import { type Peer, startPeer } from './support/peers.js';

const appDir = fileURLToPath(new URL('..', import.meta.url));
const sinkAddress = '127.0.0.91';
const relayAddress = '127.0.0.92';
/** The outbound processes' source addresses, so the sink can tell them apart. */
const senders = ['127.0.0.93', '127.0.0.94'] as const;

let redis: TestRedis;
let dns: TestDns;
let port: number;
let client: Redis;
const running = new Set<AgentProcess>();
const peers: Peer[] = [];
const queues: Queue[] = [];

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url, { maxRetriesPerRequest: null });
  port = await sharedPort([sinkAddress]);
  dns = await startDnsmasq({ mx: [['sink.test', 'mx.sink.test', 10]], hosts: [['mx.sink.test', sinkAddress]] });
});

afterEach(async () => {
  for (const agent of running) agent.child.kill('SIGKILL');
  await Promise.all([...running].map((agent) => agent.exit));
  await Promise.all(queues.splice(0).map((queue) => queue.close()));
  await Promise.all(peers.splice(0).map((peer) => peer.close()));
});

afterAll(async () => {
  client?.disconnect();
  await dns?.stop();
  await redis?.stop();
});

/** A test's own Redis prefix, sink, and relay processes over them. */
async function setup(rcptDelay: readonly [number, number], env: Record<string, string>) {
  const prefix = `mailway-test:${randomUUID()}:`;
  // Read at each step: a test may change the delay as it goes.
  const script: { rcptDelay: readonly [number, number]; timed: true } = { rcptDelay, timed: true };
  const sink = await startPeer(sinkAddress, port, script);
  peers.push(sink);
  const outbound = new Queue('outbound', { connection: client, prefix: bullPrefix(prefix) });
  queues.push(outbound);
  const base = {
    REDIS_URL: redis.url,
    MAILWAY_REDIS_PREFIX: prefix,
    MAILWAY_HOSTNAME: 'mx.local.test',
    RELAY_HTTP_PORT: '0',
    RELAY_DNS_SERVERS: dns.address,
    RELAY_OUTBOUND_PORT: String(port),
    RELAY_OUTBOUND_TLS: 'never',
    RELAY_OUTBOUND_DESTINATION_CONCURRENCY: '3',
    RELAY_OUTBOUND_CONCURRENCY: '10',
    LOG_LEVEL: 'info',
    ...env,
  };
  const relay = (roleEnv: Record<string, string>): AgentProcess => {
    const agent = startAgentMain(appDir, { ...base, ...roleEnv });
    running.add(agent);
    void agent.exit.then(() => running.delete(agent));
    return agent;
  };
  const intakePort = await freePort();
  const intake = relay({ RELAY_ROLES: 'inbound,router', RELAY_HOST: relayAddress, RELAY_PORT: String(intakePort), RELAY_NETWORKS: '127.0.0.0/8' });
  await logged(intake, 'relay ready');
  const transport = nodemailer.createTransport({ host: relayAddress, port: intakePort, secure: false, ignoreTLS: true, pool: true, maxConnections: 4, maxMessages: Infinity });
  /** Takes in messages stamped `stamps`, one recipient at sink.test each. */
  const send = (stamps: readonly number[]) =>
    Promise.all(
      stamps.map((stamp) => {
        const raw = [`From: sender@local.test`, `To: user${stamp}@sink.test`, `Subject: lease ${stamp}`, `Message-ID: <${stamp}.${randomUUID()}@local.test>`, `X-Stamp: ${stamp}`, '', 'Sent under a shared destination limit.', ''].join('\r\n');
        return transport.sendMail({ envelope: { from: 'sender@local.test', to: [`user${stamp}@sink.test`] }, raw });
      }),
    );
  const sender = (address: string) => relay({ RELAY_ROLES: 'outbound', RELAY_OUTBOUND_BIND_ADDRESS: address });
  const drained = async (): Promise<boolean> => Object.values(await outbound.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed')).every((n) => n === 0);
  const slotKey = `${prefix}outbound:slots:sink.test`;
  return { sink, script, outbound, transport, send, sender, drained, slotKey };
}

/** Stamps received by `sink`, each with how many copies came. */
function copies(sink: Peer): Map<number, number> {
  const seen = new Map<number, number>();
  for (const message of sink.received) {
    const stamp = Number(/^X-Stamp: (\d+)\r$/m.exec(message.body.toString('latin1'))?.[1]);
    seen.set(stamp, (seen.get(stamp) ?? 0) + 1);
  }
  return seen;
}

it('two relay processes on one Redis never run more than the destination limit of attempts at once', async () => {
  const messages = 60;
  const { sink, outbound, transport, send, sender, drained } = await setup([30, 60], {});
  await send(Array.from({ length: messages }, (_, stamp) => stamp));
  transport.close();
  await until('every message routed to outbound', async () => ((await outbound.getJobCounts('waiting')).waiting === messages ? true : null), 20_000);

  const workers = senders.map((address) => sender(address));
  await Promise.all(workers.map((worker) => logged(worker, 'relay ready')));
  await until('every outbound job completed', async () => ((await drained()) ? true : null), 60_000);

  const seen = copies(sink);
  const from = new Set(sink.clients.map((address) => address.replace(/^::ffff:/, '')));
  console.log(`outbound lease figures: messages ${messages}, received ${sink.received.length}, peak transactions ${sink.peak.transactions}, peak connections ${sink.peak.connections}, connections ${sink.connections}, from ${[...from].join(' ')}`);
  expect([...seen.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: messages }, (_, stamp) => stamp));
  expect([...seen.values()].every((n) => n === 1)).toBe(true);
  // Both processes sent, and together they kept to the limit (and reached it).
  expect(from).toEqual(new Set(senders));
  expect(sink.peak.transactions).toBe(3);
  expect(await outbound.getJobCounts('completed', 'failed')).toEqual({ completed: messages, failed: 0 });
}, 90_000);

it('keeps a slot while its attempt runs past the lease, and gives the slot of a SIGKILLed process to another once its lease lapses', async () => {
  // Lease 3 s, renewed every second: a dead process's slot comes back 2-3 s after its death.
  const { sink, script, outbound, send, sender, drained, slotKey } = await setup([8_000, 8_000], {
    RELAY_OUTBOUND_DESTINATION_CONCURRENCY: '1',
    RELAY_OUTBOUND_DESTINATION_LEASE: '3s',
    RELAY_OUTBOUND_DESTINATION_LEASE_RENEW: '1s',
    RELAY_OUTBOUND_LOCK_DURATION: '2s',
    RELAY_OUTBOUND_STALLED_INTERVAL: '1s',
  });
  const workers = senders.map((address) => sender(address));
  await Promise.all(workers.map((worker) => logged(worker, 'relay ready')));

  // One process holds the only slot, in the middle of a slow RCPT; the other waits for it with
  // the second message, well past the lease's length (the holder renews it).
  await send([0]);
  await until('an attempt under way at the sink', async () => (sink.inTransaction() > 0 ? true : null), 20_000);
  const holder = workers[senders.indexOf(sink.clients[0]?.replace(/^::ffff:/, '') as (typeof senders)[number])] as AgentProcess;
  const held = await client.zrange(slotKey, 0, -1);
  expect(held).toHaveLength(1);
  // Answered at once from now on (the RCPT under way keeps its pause).
  await new Promise((resolve) => setTimeout(resolve, 200));
  script.rcptDelay = [0, 0];
  await send([1]);
  await new Promise((resolve) => setTimeout(resolve, 4_000));
  expect(await client.zrange(slotKey, 0, -1)).toEqual(held);
  expect(sink.inTransaction()).toBe(1);
  expect(sink.received).toEqual([]);

  // Killed: its lease stays in Redis until it lapses; only then is the second message sent.
  holder.child.kill('SIGKILL');
  await holder.exit;
  const killedAt = Date.now();
  expect(await client.zrange(slotKey, 0, -1)).toEqual(held);
  const lapsedAt = await until('the dead lease gone from Redis', async () => ((await client.zrange(slotKey, 0, -1)).includes(held[0] as string) ? null : Date.now()), 20_000, 10);
  const arrived = await until('the second message at the sink', async () => sink.received.find((m) => /^X-Stamp: 1\r$/m.test(m.body.toString('latin1')))?.at ?? null, 20_000);
  console.log(`outbound lease lapse: the dead lease went ${lapsedAt - killedAt} ms after the kill, the second message came ${arrived - killedAt} ms after it`);
  expect(lapsedAt - killedAt).toBeGreaterThanOrEqual(1_500);
  expect(lapsedAt - killedAt).toBeLessThan(4_000);
  expect(arrived).toBeGreaterThanOrEqual(lapsedAt - 20);

  // The first message, whose job returns when its lock lapses, arrives too.
  await until('every outbound job completed', async () => ((await drained()) ? true : null), 30_000);
  expect(copies(sink)).toEqual(new Map([[0, 1], [1, 1]]));
  expect(await outbound.getJobCounts('completed', 'failed')).toEqual({ completed: 2, failed: 0 });
  expect(await client.zcard(slotKey)).toBe(0);
}, 90_000);

async function until<T>(what: string, probe: () => Promise<T | null>, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
