/**
 * Several instances of each agent on one Redis, as an operator scales them out: two relays and
 * two delivery agents (separate processes, started from their entry points) share one key
 * prefix and one mailbox root. Messages go in through both relays' port 25 from nodemailer,
 * each to two users (so that each takes a transfer job: one local recipient would go straight
 * to delivery); both relays route some of them, both delivery agents store some, and every
 * message lands in each recipient's Maildir exactly once, with nothing left queued or spooled.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createQueueAdmin } from '@mailway/queue/admin';
import { createRedis, waitForRedis } from '@mailway/queue/redis';
import { type AgentProcess, logged, startAgentMain } from '@mailway/testing/agent-process';
import { dropKeys } from '@mailway/testing/redis';
import { waitFor } from '@mailway/testing/wait';
import { mailwayWith } from './support/cli.js';

const appsDir = fileURLToPath(new URL('../../', import.meta.url));
const prefix = `mailway-test:${randomUUID()}:`;
const redisUrl = process.env.MAILWAY_TEST_REDIS_URL!;
const users = ['ann', 'ben', 'cas', 'dot'] as const;
const messages = 120;

let mailRoot: string;
const running: AgentProcess[] = [];
const relayPorts: number[] = [];

beforeAll(async () => {
  mailRoot = await mkdtemp(join(tmpdir(), 'mailway-instances-'));
  const env = { REDIS_URL: redisUrl, MAILWAY_REDIS_PREFIX: prefix, MAILWAY_HOSTNAME: 'mx.scaled.test', LOG_LEVEL: 'info' };
  const mailway = mailwayWith({ ...process.env, ...env });
  expect((await mailway('domain', 'add', 'scaled.test')).code).toBe(0);
  for (const user of users) expect((await mailway('user', 'add', `${user}@scaled.test`, 'secret-password')).code).toBe(0);

  // Every port chosen by the system (0): the relays say theirs when they listen.
  for (let i = 0; i < 2; i += 1) {
    // The test's clients are trusted: no sender checks, which would ask DNS about the test's domains.
    running.push(startAgentMain(join(appsDir, 'relay'), { ...env, RELAY_HOST: '127.0.0.1', RELAY_PORT: '0', RELAY_HTTP_PORT: '0', RELAY_NETWORKS: '127.0.0.0/8' }));
    running.push(startAgentMain(join(appsDir, 'delivery'), { ...env, DELIVERY_LMTP_PORT: '0', DELIVERY_HTTP_PORT: '0', DELIVERY_MAILBOX_ROOT: mailRoot }));
  }
  await Promise.all(running.map((agent, i) => logged(agent, i % 2 === 0 ? 'relay ready' : 'delivery ready', 60_000)));
  for (const relay of [running[0], running[2]] as AgentProcess[]) relayPorts.push(Number((await logged(relay, 'relay listening')).port));
}, 120_000);

afterAll(async () => {
  for (const agent of running) agent.child.kill('SIGTERM');
  await Promise.all(running.map((agent) => agent.exit));
  const redis = createRedis(redisUrl, { role: 'command' });
  await waitForRedis(redis);
  await dropKeys(redis, prefix);
  redis.disconnect();
  if (mailRoot !== undefined) await rm(mailRoot, { recursive: true, force: true });
}, 60_000);

it('two relays and two delivery agents share the work, and every message is stored once', async () => {
  const transports = relayPorts.map((port) => nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, pool: true, maxConnections: 4 }));
  const sent = Array.from({ length: messages }, (_, i) => ({ id: `${i}.${randomUUID()}@sender.test`, to: [users[i % users.length]!, users[(i + 1) % users.length]!] }));
  const copies = sent.flatMap(({ id, to }) => to.map((user) => `${user} ${id}`));
  await Promise.all(
    sent.map(({ id, to }, i) => {
      const addresses = to.map((user) => `${user}@scaled.test`);
      const raw = [`From: sender@sender.test`, `To: ${addresses.join(', ')}`, `Subject: scaled ${i}`, `Message-ID: <${id}>`, '', 'One of many.', ''].join('\r\n');
      return transports[i % transports.length]!.sendMail({ envelope: { from: 'sender@sender.test', to: addresses }, raw });
    }),
  );
  for (const transport of transports) transport.close();

  const stored = await waitFor(`${copies.length} copies in the Maildirs`, async () => {
    const found = await storedCopies();
    return found.length >= copies.length ? found : null;
  }, { timeoutMs: 60_000 });
  // Each once: a second copy would show as a repeated Message-ID (give a late one a moment).
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const final = await storedCopies();
  expect(final.length).toBe(stored.length);
  expect([...final].sort()).toEqual([...copies].sort());

  const count = (agent: AgentProcess, msg: string) => agent.stdout().split('\n').filter((line) => line.includes(`"msg":"${msg}"`)).length;
  const [relayA, deliveryA, relayB, deliveryB] = running as [AgentProcess, AgentProcess, AgentProcess, AgentProcess];
  const routed = [count(relayA, 'queued for local delivery'), count(relayB, 'queued for local delivery')];
  const delivered = [count(deliveryA, 'delivered'), count(deliveryB, 'delivered')];
  console.log(`scaled out: ${messages} messages, ${copies.length} copies; routed by the relays ${routed.join(' + ')}, stored by the delivery agents ${delivered.join(' + ')}`);
  expect(routed.every((n) => n > 0)).toBe(true);
  expect(delivered.every((n) => n > 0)).toBe(true);
  expect(routed[0]! + routed[1]!).toBe(copies.length);
  expect(delivered[0]! + delivered[1]!).toBe(copies.length);

  // Nothing left: every job done, every spool entry released.
  const redis = createRedis(redisUrl, { role: 'command' });
  try {
    await waitForRedis(redis);
    const admin = createQueueAdmin(redis, { prefix });
    expect((await admin.summary()).messages).toBe(0);
    await admin.close();
    expect(await redis.keys(`${prefix}spool:*`)).toEqual([]);
  } finally {
    redis.disconnect();
  }
}, 120_000);

/** `user message-id` of every stored message, one entry per file. */
async function storedCopies(): Promise<string[]> {
  const ids: string[] = [];
  for (const user of users) {
    const dir = join(mailRoot, 'scaled.test', user, 'Maildir', 'new');
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const text = await readFile(join(dir, name), 'latin1');
      const id = /^Message-ID: <([^>]+)>/im.exec(text)?.[1];
      if (id !== undefined) ids.push(`${user} ${id}`);
    }
  }
  return ids;
}
