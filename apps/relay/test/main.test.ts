/**
 * The agent as a process, started from its entry point the way operators run it: a bad setting
 * stops start-up with one line naming the key (exit 78); a good configuration serves
 * /readyz and /metrics, and SIGTERM shuts it down cleanly (exit 0).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Dialog } from '@mailway/testing/dialog';

const appDir = fileURLToPath(new URL('..', import.meta.url));

interface Started {
  readonly child: ChildProcess;
  readonly exit: Promise<number | null>;
  readonly stderr: () => string;
  readonly stdout: () => string;
}

/** Run src/main.ts with `env` on top of a clean environment. */
function startMain(env: Record<string, string>): Started {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@mailway/source', 'src/main.ts'], {
    cwd: appDir,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exit, stderr: () => stderr, stdout: () => stdout };
}

/** The first log record with message `msg`, once it has been logged. */
async function logged(started: Started, msg: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const line = started.stdout().split('\n').find((l) => l.includes(`"msg":"${msg}"`));
    if (line) return JSON.parse(line) as Record<string, unknown>;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no "${msg}" log line: ${started.stderr()}${started.stdout()}`);
}

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
    } finally {
      started.child.kill('SIGKILL');
      const redis = new Redis(redisUrl);
      const keys = [...(await redis.keys(`${prefix}*`)), ...(await redis.keys(`${prefix.slice(0, -1)}:*`))];
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });
});
