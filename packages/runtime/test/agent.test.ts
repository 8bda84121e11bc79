import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type Fixture, startFixture } from './support/child.js';

const started: Fixture[] = [];
afterEach(() => {
  for (const fixture of started.splice(0)) if (fixture.process.exitCode === null) fixture.process.kill('SIGKILL');
});

/** Starts the agent fixture; killed after the test if still running. */
function agent(env: Record<string, string> = {}): Fixture {
  const fixture = startFixture('agent', { FIXTURE_HTTP_HOST: '127.0.0.1', FIXTURE_HTTP_PORT: '0', ...env });
  started.push(fixture);
  return fixture;
}

/** The endpoint URL from the `started` record. */
function baseUrl(record: Record<string, unknown>): string {
  const { host, port } = record['http'] as { host: string; port: number };
  return `http://${host}:${port}`;
}

describe('runAgent', () => {
  it('starts, serves health and metrics, and stops cleanly on SIGTERM', async () => {
    const fixture = agent();
    const startedRecord = await fixture.waitForLog('started');
    expect(startedRecord).toMatchObject({ level: 'info', agent: 'fixture', pid: fixture.process.pid });
    const url = baseUrl(startedRecord);

    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^mailway_fixture_starts_total\{agent="fixture"\} 1$/m);

    fixture.process.kill('SIGTERM');
    expect(await fixture.exited).toEqual({ code: 0, signal: null });
    const messages = fixture.records().map((record) => record['msg']);
    expect(messages).toEqual(['started', 'stopping', 'fixture stop ran', 'stopped']);
    expect(fixture.records().find((record) => record['msg'] === 'stopping')).toMatchObject({ signal: 'SIGTERM' });
  });

  it('exits 78 with the bad key on stderr and no stack trace for a config error', async () => {
    const fixture = agent({ FIXTURE_HTTP_PORT: '99x' });
    expect(await fixture.exited).toEqual({ code: 78, signal: null });
    expect(fixture.stderr()).toBe('invalid configuration: FIXTURE_HTTP_PORT="99x" (port): expected a port number 0-65535\n');
    expect(fixture.lines).toEqual([]);
  });

  it('exits 1 with a fatal line when start fails', async () => {
    const fixture = agent({ FIXTURE_MODE: 'fail-start' });
    expect(await fixture.exited).toEqual({ code: 1, signal: null });
    expect(fixture.records()).toEqual([
      expect.objectContaining({ level: 'fatal', agent: 'fixture', msg: 'start failed: cannot bind port 25: permission denied' }),
    ]);
  });

  it('exits 1 when the HTTP port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const fixture = agent({ FIXTURE_HTTP_PORT: String((blocker.address() as AddressInfo).port) });
      expect(await fixture.exited).toEqual({ code: 1, signal: null });
      expect(fixture.records()).toEqual([expect.objectContaining({ level: 'fatal', msg: expect.stringMatching(/^cannot start the HTTP endpoint: .*EADDRINUSE/) })]);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('exits 1 when stop() outlasts the shutdown timeout', async () => {
    const fixture = agent({ FIXTURE_MODE: 'hang-stop', FIXTURE_SHUTDOWN_TIMEOUT_MS: '300' });
    await fixture.waitForLog('started');
    fixture.process.kill('SIGTERM');
    expect(await fixture.exited).toEqual({ code: 1, signal: null });
    const last = fixture.records().at(-1);
    expect(last).toMatchObject({ level: 'error', msg: 'stop did not finish within 300 ms', timeoutMs: 300 });
    expect(fixture.records().map((record) => record['msg'])).not.toContain('stopped');
  });

  it('turns /readyz to 503 while stopping, and exits at once on a second signal', async () => {
    const fixture = agent({ FIXTURE_MODE: 'hang-stop' });
    const url = baseUrl(await fixture.waitForLog('started'));
    fixture.process.kill('SIGTERM');
    await fixture.waitForLog('fixture stop ran');

    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toBe('not ready\n');
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    fixture.process.kill('SIGINT');
    expect(await fixture.exited).toEqual({ code: 1, signal: null });
    expect(fixture.records().at(-1)).toMatchObject({ level: 'warn', msg: 'second signal while stopping: exiting now', signal: 'SIGINT' });
  });

  it('logs an uncaught exception as fatal and exits 1', async () => {
    const fixture = agent();
    await fixture.waitForLog('started');
    fixture.process.kill('SIGUSR2');
    expect(await fixture.exited).toEqual({ code: 1, signal: null });
    expect(fixture.records().at(-1)).toMatchObject({ level: 'fatal', msg: 'uncaught exception: boom' });
  });
});
