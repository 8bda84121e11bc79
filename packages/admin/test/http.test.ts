/**
 * The admin API over real HTTP (fetch against startAdminServer on a loopback port) and a real
 * Redis holding jobs made the way the agents make them: 401 without the token or with a wrong
 * one, the summary, the list with its search, a message, its trace, and the actions (hold,
 * release, retry, bounce, delete) with what they did; the dashboard's pages are served without
 * the token and carry no data; the request counter is on /metrics.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EnvelopeRecipient, type OutboundJob, type TransferJob, newQueueId, outboundJobId, transferJobId } from '@mailway/queue/jobs';
import { type MailQueue, bullPrefix, createMailQueue } from '@mailway/queue/queues';
import { createRedis, waitForRedis } from '@mailway/queue/redis';
import { type Spool, createRedisSpool } from '@mailway/queue/spool';
import { createTraceLog } from '@mailway/queue/trace';
import { createMetrics } from '@mailway/runtime';
import { type AdminServer, startAdminServer } from '../src/http/index.js';

const prefix = `mailway-test:${randomUUID()}:`;
const token = 'test-token-0123456789abcdef';
let redis: Redis;
let spool: Spool;
let outbound: MailQueue<'outbound'>;
let transfer: MailQueue<'transfer'>;
let server: AdminServer;
let base: string;
const lines: string[] = [];

const rcpt = (address: string): EnvelopeRecipient => ({ address, notify: null, orcpt: null });
const content = 'From: alice@example.org\r\nSubject: via the API\r\n\r\nHi.\r\n';

/** A message from alice to `to` at one remote domain, spooled, its outbound job waiting. */
async function queued(to: string[], domain: string): Promise<string> {
  const queueId = newQueueId();
  const origin = { agent: 'submission' as const, client: null, user: 'alice', tls: null, receivedAt: new Date().toISOString() };
  const envelope = { from: 'alice@example.org', recipients: to.map(rcpt), body: null, smtputf8: false, ret: null, envid: null, requireTls: false };
  const job: OutboundJob = { queueId, spoolId: queueId, size: content.length, messageId: `<${queueId}@example.org>`, parent: queueId, domain, envelope, origin };
  await spool.write(queueId, Buffer.from(content), { refs: to.length });
  await spool.claim(queueId);
  await outbound.add(job, { delayMs: 10 * 60_000 });
  await spool.park(queueId, outboundJobId(queueId, queueId, domain), new Date(Date.now() + 86_400_000), to.length);
  return queueId;
}

const call = (method: string, path: string, auth: string | null = token) => fetch(`${base}${path}`, { method, headers: auth === null ? {} : { authorization: `Bearer ${auth}` } });
const json = async <T = Record<string, unknown>>(method: string, path: string): Promise<T> => {
  const response = await call(method, path);
  expect(response.status, `${method} ${path}`).toBe(200);
  return (await response.json()) as T;
};

let a: string;
let b: string;

beforeAll(async () => {
  redis = createRedis(process.env.MAILWAY_TEST_REDIS_URL!, { role: 'command' });
  await waitForRedis(redis);
  spool = createRedisSpool(redis, { prefix });
  outbound = createMailQueue('outbound', redis, { prefix: bullPrefix(prefix) });
  transfer = createMailQueue('transfer', redis, { prefix: bullPrefix(prefix) });
  const logger = { info: (fields: object, message: string) => lines.push(`${message} ${JSON.stringify(fields)}`), warn: (fields: object, message: string) => lines.push(`${message} ${JSON.stringify(fields)}`) };
  server = await startAdminServer({ host: '127.0.0.1', port: 0, token, redis, prefix, spool, notices: { hostname: 'mx.example.org', returnLimit: 100_000 }, traceRetentionMs: 60_000, logger, metrics: createMetrics('admin') });
  base = `http://127.0.0.1:${server.port}`;
  a = await queued(['bob@example.net', 'carol@example.net'], 'example.net');
  b = await queued(['dave@example.com'], 'example.com');
  const trace = createTraceLog(redis, { prefix, retentionMs: 60_000 });
  trace.record(a, { type: 'accepted', agent: 'submission', client: '192.0.2.1', tls: 'TLSv1.3', user: 'alice', from: 'alice@example.org', recipients: ['bob@example.net', 'carol@example.net'] });
  trace.record(a, { type: 'deferred', agent: 'relay', recipient: 'bob@example.net', remote: 'mx1.example.net', reply: '451 4.7.1 Try again later', attempt: 1 });
  await trace.flush();
});

afterAll(async () => {
  await server.close();
  await outbound.close();
  await transfer.close();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describe('the admin API', () => {
  it('answers 401 without the token, with a wrong one, or with another scheme', async () => {
    for (const response of [await call('GET', '/api/summary', null), await call('GET', '/api/summary', 'wrong-token'), await fetch(`${base}/api/messages`, { headers: { authorization: `Basic ${token}` } })]) {
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
    expect((await call('POST', `/api/messages/${a}/hold`, null)).status).toBe(401);
    // Nothing was done.
    expect(((await json<{ recipients: { state: string }[] }[]>('GET', `/api/messages?q=${a}`))[0]!.recipients.map((r) => r.state))).toEqual(['deferred', 'deferred']);
  });

  it('gives the summary, the list with its search and filters, a message and its trace', async () => {
    const summary = await json<{ messages: number; recipients: Record<string, number>; deferredByDomain: { domain: string; total: number }[] }>('GET', '/api/summary');
    expect(summary.messages).toBe(2);
    expect(summary.recipients.deferred).toBe(3);
    expect(summary.deferredByDomain.map((d) => [d.domain, d.total])).toEqual([
      ['example.com', 1],
      ['example.net', 1],
    ]);

    expect((await json<{ queueId: string }[]>('GET', '/api/messages')).map((m) => m.queueId)).toEqual([a, b]);
    expect((await json<{ queueId: string }[]>('GET', '/api/messages?q=CAROL@')).map((m) => m.queueId)).toEqual([a]);
    expect((await json<{ queueId: string }[]>('GET', '/api/messages?domain=example.com')).map((m) => m.queueId)).toEqual([b]);
    expect(await json('GET', '/api/messages?state=held')).toEqual([]);
    expect((await call('GET', '/api/messages?state=lost')).status).toBe(400);

    const detail = await json<{ queueId: string; envelope: { from: string }; jobs: unknown[] }>('GET', `/api/messages/${a}`);
    expect(detail).toMatchObject({ queueId: a, envelope: { from: 'alice@example.org' } });
    expect((await call('GET', '/api/messages/not-an-id')).status).toBe(400);
    expect((await call('GET', `/api/messages/${newQueueId()}`)).status).toBe(404);

    const trace = await json<{ type: string; reply?: string; storedAt: string }[]>('GET', `/api/messages/${a}/trace`);
    expect(trace.map((e) => e.type)).toEqual(['accepted', 'deferred']);
    expect(trace[1]).toMatchObject({ reply: '451 4.7.1 Try again later' });
    expect((await call('GET', `/api/messages/${b}/trace`)).status).toBe(404);
  });

  it('holds, releases, retries, returns to the sender and deletes, and says what it did', async () => {
    const held = await json<{ done: { jobId: string }[] }>('POST', `/api/messages/${a}/hold`);
    expect(held.done.map((j) => j.jobId)).toEqual([outboundJobId(a, a, 'example.net')]);
    expect((await json<{ recipients: { state: string }[] }[]>('GET', `/api/messages?q=${a}`))[0]!.recipients.map((r) => r.state)).toEqual(['held', 'held']);
    expect((await json<{ done: unknown[] }>('POST', `/api/messages/${a}/release`)).done).toHaveLength(1);

    const retried = await json<{ promoted: { queueId: string }[] }>('POST', `/api/messages/${b}/retry`);
    expect(retried.promoted.map((p) => p.queueId)).toEqual([b]);
    expect(await (await outbound.queue.getJob(outboundJobId(b, b, 'example.com')))!.getState()).toBe('waiting');

    const bounced = await json<{ notice: string; returned: string[] }>('POST', `/api/messages/${a}/bounce`);
    expect(bounced.returned).toEqual(['bob@example.net', 'carol@example.net']);
    expect((await transfer.queue.getJob(transferJobId(bounced.notice)))?.data).toMatchObject({ envelope: { from: '', recipients: [{ address: 'alice@example.org' }] } });
    expect(await spool.stat(a)).toBeNull();
    const trace = await json<{ type: string; action?: string }[]>('GET', `/api/messages/${a}/trace`);
    expect(trace.filter((e) => e.type === 'operator').map((e) => e.action)).toEqual(['hold', 'release', 'delete', 'bounce']);
    expect(trace.at(-1)).toMatchObject({ type: 'notice', notice: bounced.notice });

    const deleted = await json<{ done: unknown[] }>('DELETE', `/api/messages/${b}`);
    expect(deleted.done).toHaveLength(1);
    expect(await spool.stat(b)).toBeNull();
    // Left on the queue: only the notice, on its way to alice.
    expect((await json<{ queueId: string }[]>('GET', '/api/messages')).map((m) => m.queueId)).toEqual([bounced.notice]);
    expect(lines.filter((l) => l.startsWith('admin ') && !l.startsWith('admin API')).map((l) => l.split(' ')[1])).toEqual(['hold', 'release', 'retry', 'bounce', 'delete']);
  });

  it('serves the dashboard without the token and without data, and counts requests on /metrics', async () => {
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const html = await page.text();
    expect(html).toContain('<script src="/dashboard.js"');
    expect(html).not.toContain('@example');
    expect((await fetch(`${base}/messages/${a}`)).status).toBe(200);
    expect((await fetch(`${base}/dashboard.js`)).headers.get('content-type')).toContain('javascript');
    const metrics = await (await fetch(`${base}/metrics`)).text();
    // Refused requests are counted under the guard's pattern, answered ones under their route's.
    expect(metrics).toMatch(/mailway_admin_requests_total\{route="GET \/api\/\*",status="401",agent="admin"\} 3/);
    expect(metrics).toMatch(/mailway_admin_requests_total\{route="POST \/api\/messages\/:id\/bounce",status="200",agent="admin"\} 1/);
  });
});
