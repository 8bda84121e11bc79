/**
 * Redis goes away in the middle of a message: the reply to end of data is 451 4.3.0, and once
 * Redis is back (from its append-only file) there is no job and no spooled content; the next
 * message is accepted again. While Redis is away, RCPT is deferred (451 4.3.0), so that no
 * body is sent for nothing. An agent started while Redis is down listens at once, greets with
 * 421 4.3.2 and keeps waiting until Redis is there, then serves. Also: the agent refuses to start
 * on a Redis that may evict keys.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DurableRedis, durableRedis, freePort } from '@mailway/vitest-config/redis';
import { agentOnDurableRedis, redisKilledInData, withEvictingRedis } from '@mailway/testing/redis-outage';
import { waitFor } from '@mailway/testing/wait';
import { createLogger, createMetrics } from '@mailway/runtime';
import { createSubmissionAgent, loadSubmissionConfig } from '../src/index.js';
import { Dialog } from '@mailway/testing/dialog';
import { type Harness, alice, message, startSubmission } from './support/harness.js';

describe('Redis killed during DATA', () => {
  const on = agentOnDurableRedis((redisUrl) => startSubmission({ redisUrl }));

  it('answers 451 4.3.0, leaves no job and no content, and recovers', async () => {
    const { redis, agent: h } = on;
    const dialog = await startTransaction(h);
    expect((await dialog.command('DATA')).code).toBe(354);
    // Redis dies before the end of the data.
    expect((await redisKilledInData(dialog, redis, 'From: alice@example.org\r\nTo: carol@remote.example\r\nSubject: doomed\r\n')).status).toBe('451 4.3.0');

    // Back from its append-only file: nothing of that message is there.
    await redis.start();
    await waitFor('the agent to be ready', () => h.agent.ready(), { timeoutMs: 10_000 });
    expect(await h.jobs()).toEqual([]);
    expect(await h.redis.keys(`${h.prefix}spool:*`)).toEqual([]);

    // The same session can submit again.
    expect((await dialog.command('MAIL FROM:<alice@example.org>')).code).toBe(250);
    expect((await dialog.command('RCPT TO:<carol@remote.example>')).code).toBe(250);
    expect((await dialog.data(message())).status).toBe('250 2.0.0');
    expect(await h.jobs()).toHaveLength(1);
    await dialog.close();
    expect(h.logs.some((l) => l.msg === 'message not queued')).toBe(true);
  });
});

describe('started while Redis is down', () => {
  let redis: DurableRedis;
  let h: Harness | null = null;
  beforeAll(async () => {
    redis = await durableRedis();
  });
  afterAll(async () => {
    await h?.close().catch(() => {});
    await redis.remove();
  });

  it('greets with 421 4.3.2 and waits, then serves once Redis is there', async () => {
    const port = await freePort();
    const starting = startSubmission({ redisUrl: redis.url, env: { SUBMISSION_PORT: String(port) } });
    let settled = false;
    void starting.then(() => (settled = true), () => (settled = true));

    // Until the agent listens, the connection is refused: not yet.
    const greeting = await waitFor('a greeting', () => Dialog.open(port).then(({ greeting }) => greeting, () => null), { timeoutMs: 20_000 });
    expect(greeting.status).toBe('421 4.3.2');
    expect(greeting.text).toBe('msa.test.example Service not available, try again later');
    expect(settled).toBe(false);

    await redis.start();
    h = await starting;
    const { dialog, greeting: again } = await Dialog.open(port);
    expect(again.code).toBe(220);
    await dialog.close();
    expect(h.logs.some((l) => l.msg === 'redis connected')).toBe(true);
  });
});

describe('Redis away between messages', () => {
  // No rate limit: MAIL then needs no Redis round trip, so what is refused is up to RCPT alone.
  const on = agentOnDurableRedis((redisUrl) => startSubmission({ redisUrl, env: { SUBMISSION_MESSAGES_PER_HOUR: '0' } }));

  it('refuses at RCPT (451 4.3.0), before any message body, and recovers', async () => {
    const { redis, agent: h } = on;
    const dialog = await startTransaction(h);
    expect((await dialog.data(message())).status).toBe('250 2.0.0');

    await redis.kill();
    // The sender is known from the first message: MAIL needs no Redis.
    expect((await dialog.command('MAIL FROM:<alice@example.org>')).code).toBe(250);
    expect((await dialog.command('RCPT TO:<carol@remote.example>')).status).toBe('451 4.3.0');
    await dialog.command('RSET');

    // Back: the session goes on, and the first message is still queued (AOF).
    await redis.start();
    await waitFor('the agent to be ready', () => h.agent.ready(), { timeoutMs: 10_000 });
    await waitFor('MAIL to be accepted again', () => dialog.command('MAIL FROM:<alice@example.org>').then((r) => r.code === 250, () => false), { timeoutMs: 20_000 });
    expect((await dialog.command('RCPT TO:<carol@remote.example>')).code).toBe(250);
    expect((await dialog.data(message())).status).toBe('250 2.0.0');
    await dialog.close();
    expect(await h.jobs()).toHaveLength(2);
  });
});

describe('start-up checks', () => {
  it('refuses to start on a Redis whose maxmemory-policy can evict queued mail', async () => {
    await withEvictingRedis(async (redisUrl) => {
      const config = loadSubmissionConfig({ env: { REDIS_URL: redisUrl, SUBMISSION_PORT: '0', SUBMISSION_TLS_PORT: '0', SUBMISSION_HOST: '127.0.0.1' }, file: null });
      const context = { logger: createLogger({ name: 'submission', level: 'silent' }), metrics: createMetrics('submission') };
      await expect(createSubmissionAgent(config, context)).rejects.toThrow(/noeviction/);
    });
  });
});

/** Alice, logged in over implicit TLS, with MAIL and one RCPT accepted. */
async function startTransaction(h: Harness): Promise<Dialog> {
  const { dialog } = await Dialog.open(h.agent.ports.implicitTls, { tls: true });
  await dialog.command('EHLO client.example');
  expect((await dialog.authPlain(alice.user, alice.pass)).code).toBe(235);
  expect((await dialog.command('MAIL FROM:<alice@example.org>')).code).toBe(250);
  expect((await dialog.command('RCPT TO:<carol@remote.example>')).code).toBe(250);
  return dialog;
}
