/**
 * The relay agent as a process with a low open-file limit (`prlimit --nofile=256:256`), flooded
 * by several hosts holding far more connections than it has descriptors: every connection,
 * and a new client arriving during the flood, gets either the greeting or a 421 — never silence
 * and never a close without a word — and once the flood lets go, the agent is still up and takes
 * mail. Also: a session cap that cannot fit under the limit stops start-up, naming its key.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type Socket, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dialog } from '@mailway/testing/dialog';
import { logged, startAgentMain } from '@mailway/testing/agent-process';
import { message } from './support/harness.js';

const appDir = fileURLToPath(new URL('..', import.meta.url));
const hasPrlimit = spawnSync('prlimit', ['--version']).status === 0;
const openFiles = 256;
const startMain = (env: Record<string, string>) => startAgentMain(appDir, env, { openFiles });

/** What one flooding connection saw first: the greeting, a refusal, or nothing at all. */
interface Outcome {
  readonly socket: Socket;
  readonly first: Promise<string>;
}

/** Connects from `localAddress` and reads the first line; `silent close` or `no reply` if none comes. */
function flood(port: number, localAddress: string): Outcome {
  const socket = connect({ port, host: '127.0.0.1', localAddress });
  socket.setEncoding('latin1');
  socket.on('error', () => {});
  const first = new Promise<string>((resolve) => {
    let text = '';
    const timer = setTimeout(() => resolve(`no reply within 30 s: ${JSON.stringify(text)}`), 30_000);
    socket.on('data', (chunk: string) => {
      text += chunk;
      const end = text.indexOf('\r\n');
      if (end !== -1) {
        clearTimeout(timer);
        resolve(text.slice(0, end));
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text.includes('\r\n') ? text.slice(0, text.indexOf('\r\n')) : `silent close: ${JSON.stringify(text)}`);
    });
  });
  return { socket, first };
}

const redisUrl = process.env.MAILWAY_TEST_REDIS_URL ?? '';
const prefix = `mailway-test:${randomUUID()}:`;
let dir = '';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mailway-flood-'));
  writeFileSync(join(dir, 'seed.json'), JSON.stringify({ domains: ['local.example'], users: [{ address: 'bob@local.example', password: 'bob-secret' }] }));
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  const redis = new Redis(redisUrl);
  const keys = [...(await redis.keys(`${prefix}*`)), ...(await redis.keys(`${prefix.slice(0, -1)}:*`))];
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

const env = (): Record<string, string> => ({
  REDIS_URL: redisUrl,
  MAILWAY_REDIS_PREFIX: prefix,
  MAILWAY_HOSTNAME: 'mx.local.example',
  MAILWAY_DIRECTORY_SEED: join(dir, 'seed.json'),
  RELAY_HOST: '127.0.0.1',
  RELAY_PORT: '0',
  RELAY_HTTP_PORT: '0',
});

describe.skipIf(!hasPrlimit)('the relay agent under a connection flood, with 256 open files', () => {
  it('answers every connection with a greeting or a 421, stays up, and takes mail once the flood stops', async () => {
    const started = startMain(env());
    const floods: Outcome[] = [];
    try {
      const limits = await logged(started, 'open-file limit read; session cap set below it', 30_000);
      expect(limits).toMatchObject({ openFiles: { soft: openFiles, hard: openFiles }, maxSessions: openFiles - 128 });
      const port = Number((await logged(started, 'relay listening', 30_000)).port);
      // Flood only once it serves: before Redis is reached every session is told 421 4.3.2.
      await logged(started, 'relay ready', 30_000);

      // Eight hosts, 60 connections each: more than the per-client limit (50) and, together,
      // more than the session cap and the descriptors the process has.
      for (let host = 10; host < 18; host += 1) {
        for (let i = 0; i < 60; i += 1) floods.push(flood(port, `127.0.0.${host}`));
      }
      const firsts = await Promise.all(floods.map((f) => f.first));
      const tally = new Map<string, number>();
      for (const line of firsts) {
        const kind = line.startsWith('220 ') ? 'greeted' : line.startsWith('421 4.3.2 ') ? 'busy' : line.startsWith('421 4.7.0 ') ? 'per client' : line;
        tally.set(kind, (tally.get(kind) ?? 0) + 1);
      }
      expect([...tally.keys()].filter((k) => !['greeted', 'busy', 'per client'].includes(k))).toEqual([]);
      expect(tally.get('greeted')).toBe(openFiles - 128);
      expect(tally.get('busy')).toBeGreaterThan(0);

      // A newcomer during the flood is told, not ignored.
      const newcomer = flood(port, '127.0.0.30');
      expect(await newcomer.first).toBe('421 4.3.2 mx.local.example Too busy, try later');

      // The flood lets go; the agent is still there and takes mail.
      for (const f of floods) f.socket.destroy();
      const deadline = Date.now() + 30_000;
      let dialog: Dialog | null = null;
      while (dialog === null) {
        const { dialog: d, greeting } = await Dialog.open(port, { localAddress: '127.0.0.30' });
        if (greeting.code === 220) dialog = d;
        else if (Date.now() > deadline) throw new Error(`still refused: ${greeting.status} ${greeting.text}`);
        else await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await dialog.command('EHLO honest.example');
      expect((await dialog.command('MAIL FROM:<carol@remote.example>')).status).toBe('250 2.1.0');
      expect((await dialog.command('RCPT TO:<bob@local.example>')).status).toBe('250 2.1.5');
      expect((await dialog.data(message({ subject: 'after the flood' }))).status).toBe('250 2.0.0');
      await dialog.close();
      expect(started.child.exitCode).toBeNull();
      // One log line per refused host, not per refused connection.
      const refusalLines = started.stdout().split('\n').filter((l) => l.includes('"msg":"connection refused'));
      expect(refusalLines.length).toBeLessThanOrEqual(9 * 2);
    } finally {
      for (const f of floods) f.socket.destroy();
      started.child.kill('SIGKILL');
      await started.exit;
    }
  }, 120_000);

  it('refuses a session cap that cannot fit under the open-file limit, naming the key (exit 78)', async () => {
    const started = startMain({ ...env(), RELAY_MAX_SESSIONS: '1000' });
    expect(await started.exit).toBe(78);
    const lines = started.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('RELAY_MAX_SESSIONS="1000" (relay.connections.maxSessions)');
    expect(lines[0]).toContain('at most 128');
  }, 60_000);
});
