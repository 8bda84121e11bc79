/**
 * The agent as a process, started from its entry point the way operators run it: a bad setting
 * stops start-up with one line naming the key (exit 78); a good configuration serves
 * /readyz and /metrics, and SIGTERM shuts it down cleanly (exit 0).
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Dialog } from '@mailway/testing/dialog';
import { logged, startAgentMain } from '@mailway/testing/agent-process';

const appDir = fileURLToPath(new URL('..', import.meta.url));
const startMain = (env: Record<string, string>) => startAgentMain(appDir, env);

describe('submission main', () => {
  it('refuses an invalid setting with one line naming it, exit code 78', async () => {
    const started = startMain({ SUBMISSION_PORT: 'smtp', SUBMISSION_AUTH_FAILURE_WINDOW: 'soon' });
    expect(await started.exit).toBe(78);
    const lines = started.stderr().trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines.some((l) => l.includes('SUBMISSION_PORT="smtp"') && l.includes('submission.port'))).toBe(true);
    expect(lines.some((l) => l.includes('SUBMISSION_AUTH_FAILURE_WINDOW="soon"'))).toBe(true);
  });

  it('serves /readyz and /metrics, and stops cleanly on SIGTERM', async () => {
    const redisUrl = process.env.MAILWAY_TEST_REDIS_URL ?? '';
    const started = startMain({
      REDIS_URL: redisUrl,
      MAILWAY_REDIS_PREFIX: `mailway-test:${randomUUID()}:`,
      SUBMISSION_HOST: '127.0.0.1',
      SUBMISSION_PORT: '0',
      SUBMISSION_TLS_PORT: '0',
      SUBMISSION_HTTP_PORT: '0',
      MAILWAY_HOSTNAME: 'msa.test.example',
    });
    try {
      const facts = await logged(started, 'submission listening');
      const httpPort = Number(((await logged(started, 'started')) as { http?: { port?: number } }).http?.port);
      expect(httpPort).toBeGreaterThan(0);

      expect((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status).toBe(200);
      const { dialog } = await Dialog.open(Number(facts.starttls));
      await dialog.command('EHLO probe.example');
      await dialog.close();
      const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      expect(metrics).toMatch(/mailway_submission_connections_total\{[^}]*listener="starttls"[^}]*\} 1/);

      started.child.kill('SIGTERM');
      expect(await started.exit).toBe(0);
      expect(started.stdout()).toContain('"stopped"');
    } finally {
      started.child.kill('SIGKILL');
    }
  });
});
