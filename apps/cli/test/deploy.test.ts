/**
 * Production bundles: `pnpm --filter @mailway/<agent> deploy --prod` gives a folder with the
 * built agent and its production dependencies only (every workspace package it imports at run
 * time, such as @mailway/agent and @mailway/files, none of the tooling), and the agent starts
 * from it on plain node, becomes ready, and stops cleanly on SIGTERM.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { logged, startAgentMain } from '@mailway/testing/agent-process';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../..', import.meta.url));

/** Each agent: the environment that puts its listeners and endpoint on free loopback ports, and what it must bundle. */
const agents = {
  submission: { env: { SUBMISSION_HOST: '127.0.0.1', SUBMISSION_PORT: '0', SUBMISSION_TLS_PORT: '0', SUBMISSION_HTTP_PORT: '0' }, bundles: ['agent', 'directory', 'queue', 'runtime', 'smtp'] },
  relay: { env: { RELAY_HOST: '127.0.0.1', RELAY_PORT: '0', RELAY_HTTP_PORT: '0' }, bundles: ['agent', 'directory', 'queue', 'runtime', 'smtp'] },
  delivery: { env: { DELIVERY_LMTP_PORT: '0', DELIVERY_HTTP_PORT: '0' }, bundles: ['agent', 'directory', 'mailbox', 'queue', 'runtime', 'smtp'] },
} as const;

describe('production bundles', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  for (const [name, agent] of Object.entries(agents)) {
    it(`@mailway/${name} starts from its bundle and stops on SIGTERM`, async () => {
      const dir = await mkdtemp(join(tmpdir(), `mailway-deploy-${name}-`));
      dirs.push(dir);
      const bundle = join(dir, 'app');
      await run('pnpm', ['--filter', `@mailway/${name}`, 'deploy', '--prod', bundle], { cwd: root });
      const packages = await readdir(join(bundle, 'node_modules', '@mailway'));
      expect(packages).toEqual(expect.arrayContaining([...agent.bundles]));
      expect(packages).not.toContain('testing');
      expect(await readdir(join(bundle, 'node_modules', '.pnpm'))).toEqual(expect.arrayContaining([expect.stringMatching(/^@mailway\+files@/)]));

      const started = startAgentMain(bundle, {
        ...agent.env,
        REDIS_URL: process.env.MAILWAY_TEST_REDIS_URL!,
        MAILWAY_REDIS_PREFIX: `mailway-test:${randomUUID()}:`,
        MAILWAY_SPOOL: 'fs',
        MAILWAY_SPOOL_DIR: join(dir, 'spool'),
        DELIVERY_MAILBOX_ROOT: join(dir, 'mail'),
        NODE_ENV: 'production',
      }, { built: true });
      try {
        await logged(started, `${name} ready`);
        await logged(started, 'started');
        started.child.kill('SIGTERM');
        expect(await started.exit).toBe(0);
        await logged(started, 'stopped');
      } finally {
        started.child.kill('SIGKILL');
      }
    }, 120_000);
  }
});
