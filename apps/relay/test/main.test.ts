/**
 * The agent as a process, started from its entry point the way operators run it: a bad setting
 * stops start-up with one line naming the key (exit 78); a good configuration serves
 * /readyz and /metrics, and SIGTERM shuts it down cleanly (exit 0) without calling its own QUIT
 * a lost connection. Started while Redis is down, it does not give up: it listens at once,
 * greets with 421 4.3.2, answers /readyz 503 for as long as it takes (here past the 10 s after
 * which it used to exit), then serves; a SIGTERM during that wait ends it at once, exit 0.
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { durableRedis, freePort } from '@mailway/vitest-config/redis';
import { Dialog } from '@mailway/testing/dialog';
import { logged, startAgentMain } from '@mailway/testing/agent-process';

const appDir = fileURLToPath(new URL('..', import.meta.url));
const startMain = (env: Record<string, string>) => startAgentMain(appDir, env);

describe('relay main', () => {
  it('refuses an invalid setting with one line naming it, exit code 78', async () => {
    const started = startMain({ RELAY_PORT: 'smtp' });
    expect(await started.exit).toBe(78);
    const lines = started.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('RELAY_PORT="smtp"');
  });

  it.each([
    ['MAILWAY_FAILED_RETENTION', '0'],
    ['RELAY_QUEUE_LIFETIME', '5 days'],
    ['MAILWAY_SPOOL_SWEEP_INTERVAL', '10ms'],
  ])('refuses %s=%j, naming it', async (name, value) => {
    const started = startMain({ [name]: value });
    expect(await started.exit).toBe(78);
    expect(started.stderr()).toContain(`${name}=${JSON.stringify(value)}`);
  });

  it('serves /readyz and /metrics, and stops cleanly on SIGTERM', async () => {
    const prefix = `mailway-test:${randomUUID()}:`;
    const redisUrl = process.env.MAILWAY_TEST_REDIS_URL ?? '';
    const started = startMain({ REDIS_URL: redisUrl, MAILWAY_REDIS_PREFIX: prefix, RELAY_HOST: '127.0.0.1', RELAY_PORT: '0', RELAY_HTTP_PORT: '0', MAILWAY_HOSTNAME: 'mx.local.example' });
    try {
      const facts = await logged(started, 'relay listening');
      const httpPort = Number((await logged(started, 'started') as { http?: { port?: number } }).http?.port);
      expect((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status).toBe(200);

      const { dialog } = await Dialog.open(Number(facts.port));
      await dialog.command('EHLO probe.example');
      await dialog.command('MAIL FROM:<probe@remote.example>');
      expect((await dialog.command('RCPT TO:<carol@remote.example>')).status).toBe('554 5.7.1');
      await dialog.close();
      const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      expect(metrics).toMatch(/mailway_relay_connections_total\{[^}]*\} 1/);
      expect(metrics).toMatch(/mailway_relay_rejections_total\{[^}]*reason="relay_denied"[^}]*\} 1/);

      started.child.kill('SIGTERM');
      expect(await started.exit).toBe(0);
      expect(started.stdout()).toContain('"stopped"');
      // A clean stop quits Redis itself: nothing was lost.
      expect(started.stdout()).toContain('"redis connected"');
      expect(started.stdout()).not.toContain('redis connection lost');
    } finally {
      started.child.kill('SIGKILL');
      const redis = new Redis(redisUrl);
      const keys = [...(await redis.keys(`${prefix}*`)), ...(await redis.keys(`${prefix.slice(0, -1)}:*`))];
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });

  it('started while Redis is down, waits for it (421 4.3.2, /readyz 503), however long, then serves', async () => {
    const redis = await durableRedis();
    const [port, httpPort] = [await freePort(), await freePort()];
    const started = startMain({ REDIS_URL: redis.url, RELAY_HOST: '127.0.0.1', RELAY_PORT: String(port), RELAY_HTTP_PORT: String(httpPort), MAILWAY_HOSTNAME: 'mx.local.example' });
    try {
      await logged(started, 'relay listening');
      const { greeting } = await Dialog.open(port);
      expect(greeting.status).toBe('421 4.3.2');
      expect(greeting.text).toBe('mx.local.example Service not available, try again later');
      expect((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status).toBe(503);
      expect(await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text()).toMatch(/^mailway_redis_up\{[^}]*\} 0$/m);

      // Past the 10 s after which an agent used to give up: still there, still saying why.
      await new Promise((resolve) => setTimeout(resolve, 12_000));
      expect(started.child.exitCode).toBeNull();
      expect(started.stdout()).toContain('"waiting for redis; sessions get 421 until it answers"');
      expect((await Dialog.open(port)).greeting.code).toBe(421);

      await redis.start();
      await logged(started, 'started');
      expect((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status).toBe(200);
      expect(await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text()).toMatch(/^mailway_redis_up\{[^}]*\} 1$/m);
      const { dialog, greeting: again } = await Dialog.open(port);
      expect(again.code).toBe(220);
      await dialog.command('EHLO probe.example');
      expect((await dialog.command('MAIL FROM:<probe@remote.example>')).code).toBe(250);
      await dialog.close();

      started.child.kill('SIGTERM');
      expect(await started.exit).toBe(0);
    } finally {
      started.child.kill('SIGKILL');
      await redis.remove();
    }
  }, 60_000);

  it('Redis lost while it runs: SIGTERM still stops it within seconds, exit 0, saying its jobs in flight are left', async () => {
    const redis = await durableRedis();
    await redis.start();
    const started = startMain({ REDIS_URL: redis.url, RELAY_HOST: '127.0.0.1', RELAY_PORT: '0', RELAY_HTTP_PORT: '0', MAILWAY_HOSTNAME: 'mx.local.example' });
    try {
      await logged(started, 'relay ready');
      await redis.kill();
      await logged(started, 'redis connection lost; new messages get 451 until it is back');
      const asked = Date.now();
      started.child.kill('SIGTERM');
      expect(await started.exit).toBe(0);
      // Before, the workers waited for Redis until the 60 s stop limit ran out (exit 1).
      expect(Date.now() - asked).toBeLessThan(15_000);
      expect(started.stdout()).toContain('redis away at stop');
    } finally {
      started.child.kill('SIGKILL');
      await redis.remove();
    }
    // Started from its sources through tsx: on a busy machine start-up alone takes a while.
  }, 120_000);

  it('stopped while it waits for Redis, exits at once and cleanly', async () => {
    const port = await freePort();
    const started = startMain({ REDIS_URL: `redis://127.0.0.1:${await freePort()}`, RELAY_HOST: '127.0.0.1', RELAY_PORT: String(port), RELAY_HTTP_PORT: '0', MAILWAY_HOSTNAME: 'mx.local.example' });
    try {
      await logged(started, 'relay listening');
      started.child.kill('SIGTERM');
      expect(await started.exit).toBe(0);
      expect(started.stdout()).toContain('"stopped before start-up finished"');
    } finally {
      started.child.kill('SIGKILL');
    }
  });
});
