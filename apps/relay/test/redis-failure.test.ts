/**
 * Redis goes away in the middle of a message: the reply to end of data is 451 4.3.0, and once
 * Redis is back (from its append-only file) there is no job and no spooled content; the next
 * message is accepted again and routed. A RCPT while Redis is down is deferred (451 4.3.0),
 * never refused. A clean stop, which quits Redis itself, is not logged as a lost connection.
 * Also: the agent refuses to start on a Redis that may evict keys.
 */
import { describe, expect, it } from 'vitest';
import { agentOnDurableRedis, redisKilledInData, withEvictingRedis } from '@mailway/testing/redis-outage';
import { waitFor } from '@mailway/testing/wait';
import { createLogger, createMetrics } from '@mailway/runtime';
import { createRelayAgent, loadRelayConfig } from '../src/index.js';
import { Dialog } from '@mailway/testing/dialog';
import { message, queueIdOf, startRelay } from './support/harness.js';

describe('Redis killed during DATA', () => {
  const on = agentOnDurableRedis((redisUrl) => startRelay({ redisUrl }));

  it('answers 451 4.3.0, leaves no job and no content, and recovers', async () => {
    const { redis, agent: h } = on;
    const { dialog } = await Dialog.open(h.agent.port);
    await dialog.command('EHLO sender.remote.example');
    expect((await dialog.command('MAIL FROM:<carol@remote.example>')).code).toBe(250);
    expect((await dialog.command('RCPT TO:<bob@local.example>')).code).toBe(250);
    expect((await dialog.command('DATA')).code).toBe(354);
    // Redis dies before the end of the data.
    expect((await redisKilledInData(dialog, redis, 'From: carol@remote.example\r\nTo: bob@local.example\r\nSubject: doomed\r\n')).status).toBe('451 4.3.0');

    // Recipients cannot be looked up now: deferred, not refused.
    expect((await dialog.command('MAIL FROM:<carol@remote.example>')).code).toBe(250);
    expect((await dialog.command('RCPT TO:<bob@local.example>')).status).toBe('451 4.3.0');
    await dialog.command('RSET');

    // Back from its append-only file: nothing of that message is there.
    await redis.start();
    await waitFor('the agent to be ready', () => h.agent.ready(), { timeoutMs: 10_000 });
    expect(await h.jobs('transfer')).toEqual([]);
    expect(await h.redis.keys(`${h.prefix}spool:*`)).toEqual([]);

    // The same session can send again, and the worker routes it.
    expect((await dialog.command('MAIL FROM:<carol@remote.example>')).code).toBe(250);
    expect((await dialog.command('RCPT TO:<bob@local.example>')).code).toBe(250);
    const reply = await dialog.data(message());
    expect(reply.status).toBe('250 2.0.0');
    await dialog.close();
    expect(await h.waitForJobs('delivery', 1, queueIdOf(reply.text))).toHaveLength(1);
    expect(h.logs.some((l) => l.msg === 'message not queued')).toBe(true);
  });
});

describe('a clean stop', () => {
  it('is not logged as a lost Redis connection', async () => {
    const h = await startRelay();
    expect(h.logs.some((l) => l.msg === 'redis connected')).toBe(true);
    await h.close();
    // The socket closes after QUIT is answered: give its events time to arrive.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(h.logs.filter((l) => String(l.msg).includes('connection lost'))).toEqual([]);
  });
});

describe('start-up checks', () => {
  it('refuses to start on a Redis whose maxmemory-policy can evict queued mail', async () => {
    await withEvictingRedis(async (redisUrl) => {
      const config = loadRelayConfig({ env: { REDIS_URL: redisUrl, RELAY_PORT: '0', RELAY_HOST: '127.0.0.1' }, file: null });
      const context = { logger: createLogger({ name: 'relay', level: 'silent' }), metrics: createMetrics('relay') };
      await expect(createRelayAgent(config, context)).rejects.toThrow(/noeviction/);
    });
  });

  it('refuses a RELAY_NETWORKS entry that is not a network', async () => {
    const config = loadRelayConfig({ env: { REDIS_URL: process.env.MAILWAY_TEST_REDIS_URL ?? '', RELAY_PORT: '0', RELAY_HOST: '127.0.0.1', RELAY_NETWORKS: '10.0.0.0/8, 192.0.2.0/99' }, file: null });
    const context = { logger: createLogger({ name: 'relay', level: 'silent' }), metrics: createMetrics('relay') };
    await expect(createRelayAgent(config, context)).rejects.toThrow('RELAY_NETWORKS: "192.0.2.0/99" is not a network');
  });
});
