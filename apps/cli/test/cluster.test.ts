/**
 * The stack on a real Redis Cluster (three redis-server nodes in cluster mode, joined by
 * `redis-cli --cluster create`): `mailway start` and `mailway` commands reach it through
 * REDIS_CLUSTER_NODES with a key prefix that is a hash tag, so the queues, the directory and
 * every script's keys share a slot while the spool's entries spread over the nodes. Mail from
 * Python's smtplib on the relay port and from nodemailer on the submission port lands in the
 * Maildir once each; afterwards nothing is left queued or spooled on any node.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRedis } from '@mailway/queue/redis';
import { createRedisSpool } from '@mailway/queue/spool';
import { type RedisClusterSetup, startRedisCluster } from '@mailway/testing/cluster';
import { type Stack, run, startStack } from './support/stack.js';

let cluster: RedisClusterSetup;
let s: Stack;
const tag = `mailway-test-${randomUUID()}`;

beforeAll(async () => {
  cluster = await startRedisCluster();
  s = await startStack({ ...cluster.env, REDIS_URL: 'redis://127.0.0.1', MAILWAY_REDIS_PREFIX: `{${tag}}:`, RELAY_CLIENT_CONNECTION_RATE: '0' });
  await s.mailway('domain', 'add', 'example.org');
  await s.mailway('user', 'add', 'alice@example.org', 'alice-secret');
  await s.mailway('user', 'add', 'bob@example.org', 'bob-secret');
}, 120_000);

afterAll(async () => {
  await s?.close();
  await cluster?.close();
});

/** Message-ID → copies in bob's Maildir. */
async function copies(): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  const dir = join(s.home, 'mail', 'example.org', 'bob', 'Maildir', 'new');
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const id = /^Message-ID: <([^>]+)>/im.exec(await readFile(join(dir, name), 'latin1'))?.[1];
    if (id !== undefined) found.set(id, (found.get(id) ?? 0) + 1);
  }
  return found;
}

/** `count` messages to bob through smtplib on the relay port, one session; resolves with the replies. */
function sendWithSmtplib(count: number): Promise<string[]> {
  const script = [
    'import smtplib, sys',
    's = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="mx.remote.example", timeout=20)',
    'for n in range(int(sys.argv[2])):',
    '    s.ehlo(); s.mail("someone@remote.example"); s.rcpt("bob@example.org")',
    '    code, text = s.data(("From: someone@remote.example\\r\\nTo: bob@example.org\\r\\nMessage-ID: <cluster.relay.%d@remote.example>\\r\\n\\r\\nover a cluster\\r\\n" % n).encode())',
    '    print(code, text.decode())',
    's.quit()',
  ].join('\n');
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', script, s.env.RELAY_PORT ?? '', String(count)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(out.trim().split('\n')) : reject(new Error(`smtplib exited ${code}: ${err}`))));
  });
}

it('refuses a cluster without a hash-tag prefix, naming the variable', async () => {
  const cliDir = fileURLToPath(new URL('..', import.meta.url));
  const queueList = run(process.execPath, ['--import', 'tsx', '--conditions=@mailway/source', 'src/main.ts', 'queue', 'list'], { cwd: cliDir, env: { ...s.env, MAILWAY_REDIS_PREFIX: 'mailway:' } });
  await expect(queueList).rejects.toMatchObject({ stderr: expect.stringContaining('MAILWAY_REDIS_PREFIX="mailway:" (redis.prefix): needs a hash tag with REDIS_CLUSTER_NODES') });
});

it('spreads spool entries over the nodes, the keys of each entry on one', async () => {
  const redis = createRedis({ url: 'redis://127.0.0.1', clusterNodes: cluster.ports.map((port) => ({ host: '127.0.0.1', port })) }, { role: 'worker' });
  const spool = createRedisSpool(redis, { prefix: `{${tag}}:` });
  const ids = Array.from({ length: 12 }, () => randomUUID());
  try {
    for (const id of ids) await spool.write(id, Buffer.from(`Subject: ${id}\r\n\r\nspread\r\n`), { refs: 1 });
    const byNode = await cluster.keys(`${tag}:spool:*`);
    expect([...byNode.values()].filter((keys) => keys.length > 0).length).toBeGreaterThan(1);
    for (const keys of byNode.values()) for (const key of keys) expect(keys.filter((other) => other.split(':')[2] === key.split(':')[2]).length).toBeGreaterThan(1);
    for (const id of ids) expect((await spool.readAll(id)).toString()).toContain(id);
  } finally {
    for (const id of ids) await spool.remove(id);
    redis.disconnect();
  }
});

it('delivers mail from smtplib and nodemailer over the cluster once each, leaving nothing queued or spooled', async () => {
  // 30 messages on the relay port, 5 on the submission port.
  const replies = await sendWithSmtplib(30);
  expect(replies).toHaveLength(30);
  for (const reply of replies) expect(reply).toMatch(/^250 2\.0\.0 Ok: queued as /);
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: Number(s.env.SUBMISSION_PORT), secure: false, requireTLS: true, auth: { user: 'alice@example.org', pass: 'alice-secret' }, tls: { rejectUnauthorized: false } });
  for (let n = 0; n < 5; n += 1) {
    const info = await transport.sendMail({ from: 'alice@example.org', to: 'bob@example.org', subject: `cluster ${n}`, text: 'over a cluster', messageId: `<cluster.submission.${n}@example.org>` });
    expect(info.response).toMatch(/^250 2\.0\.0 /);
  }
  transport.close();

  // Each once in the Maildir.
  const expected = [...Array.from({ length: 30 }, (_, n) => `cluster.relay.${n}@remote.example`), ...Array.from({ length: 5 }, (_, n) => `cluster.submission.${n}@example.org`)];
  const found = await s.waitFor('every message in the Maildir', async () => {
    const now = await copies();
    return expected.every((id) => now.has(id)) ? now : null;
  }, 60_000);
  expect(expected.filter((id) => found.get(id) !== 1)).toEqual([]);
  expect(found.size).toBe(expected.length);

  // The queues' keys sit in the prefix's slot, on one node; nothing is queued, nothing spooled anywhere.
  const queued = await s.waitFor('empty queues', async () => {
    const list = JSON.parse(await s.mailway('queue', 'list', '--json')) as unknown[];
    return list.length === 0 ? list : null;
  });
  expect(queued).toEqual([]);
  const queueKeys = await cluster.keys(`{${tag}}:*`);
  expect([...queueKeys.values()].filter((keys) => keys.length > 0)).toHaveLength(1);
  const spoolKeys = await s.waitFor('the spool emptied', async () => {
    const left = [...(await cluster.keys(`${tag}:spool:*`)).values()].flat();
    return left.length === 0 ? left : null;
  });
  expect(spoolKeys).toEqual([]);
}, 120_000);
