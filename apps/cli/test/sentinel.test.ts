/**
 * The stack on Redis behind Sentinel (a primary, two replicas, three sentinels, all real
 * processes on loopback): `mailway start` and every `mailway` command find the primary through
 * REDIS_SENTINELS; Python's smtplib sends to the relay port without pause while the primary is
 * SIGKILLed. The agents must follow the failover (mail sent after it is accepted and delivered),
 * every message answered 250 must be in the Maildir exactly once (by Message-ID), a message
 * answered otherwise at most once, and nothing of an accepted message may be left in the queues
 * or the spool. Each 250 waited for a replica (WAIT, REDIS_WAIT_REPLICAS defaults to 1 behind
 * Sentinel), which is what keeps it through the failover. The figures are printed. Then, with
 * the primary's last replica killed, a message is answered 451 4.3.0 (WAIT falls short) instead
 * of 250, and 250 again once the replica is back.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRedis } from '@mailway/queue/redis';
import { type SentinelSetup, startSentinels } from '@mailway/testing/sentinel';
import { type Stack, run, startStack } from './support/stack.js';
import { type Sent, copiesInMaildir, failoverStackEnv, sendFor } from './support/traffic.js';

let sentinels: SentinelSetup;
let s: Stack;

beforeAll(async () => {
  sentinels = await startSentinels({ replicas: 2 });
  s = await startStack(failoverStackEnv(sentinels));
  // The CLI through the sentinels.
  await s.mailway('domain', 'add', 'example.org');
  await s.mailway('user', 'add', 'bob@example.org', 'bob-secret');
}, 120_000);

afterAll(async () => {
  await s?.close();
  await sentinels?.close();
});

it('runs mailway commands through the sentinels, and names the variable of a sentinel setting it cannot use', async () => {
  expect(await s.mailway('user', 'list')).toContain('bob@example.org');
  const cliDir = fileURLToPath(new URL('..', import.meta.url));
  const mailwayWith = (env: Record<string, string>) => run(process.execPath, ['--import', 'tsx', '--conditions=@mailway/source', 'src/main.ts', 'queue', 'list'], { cwd: cliDir, env: { ...s.env, ...env } });
  await expect(mailwayWith({ REDIS_SENTINELS: 'sentinel-a' })).rejects.toMatchObject({ stderr: expect.stringContaining('REDIS_SENTINELS="sentinel-a" (redis.sentinels): expected host:port') });
  await expect(mailwayWith({ REDIS_SENTINEL_NAME: '' })).rejects.toMatchObject({ stderr: expect.stringContaining('REDIS_SENTINEL_NAME="" (redis.sentinelName): required when REDIS_SENTINELS is set') });
});

it('keeps every 250 through a SIGKILL of the primary: each delivered exactly once, nothing left behind', async () => {
  // Traffic; the primary dies 4 s in. Sent for long enough that mail is taken again after the
  // failover even on a busy machine, where the remaining replica's resync with the new primary
  // (which a 250 waits for) can take ten seconds or more.
  const relayPort = Number(s.env.RELAY_PORT);
  const traffic = sendFor({ port: relayPort, seconds: 30, threads: 3 });
  await new Promise((resolve) => setTimeout(resolve, 4_000));
  const before = await sentinels.primaryPort();
  const killedAt = Date.now();
  await sentinels.kill(before);
  const after = await sentinels.failedOverFrom(before);
  const failedOverMs = Date.now() - killedAt;
  const sent = await traffic;

  // The agents followed: mail sent after the failover was accepted.
  const accepted = sent.filter((m) => m.code === 250);
  const notAccepted = sent.filter((m) => m.code !== 250);
  const acceptedAfter = accepted.filter((m) => m.at > killedAt + failedOverMs);
  const lastRefusal = Math.max(...notAccepted.map((m) => m.at), killedAt);
  const metrics = await (await fetch(`http://127.0.0.1:${s.env.RELAY_HTTP_PORT}/metrics`)).text();
  const waited = (name: string) => Number(new RegExp(`^mailway_redis_replica_wait_seconds_${name}\\{agent="relay"\\} (\\S+)`, 'm').exec(metrics)?.[1] ?? Number.NaN);
  console.log(
    `sentinel stack: ${sent.length} sent, ${accepted.length} answered 250 (${acceptedAfter.length} after the failover), ${notAccepted.length} not (${[...new Set(notAccepted.map((m) => m.code))].join(', ')}); primary :${before} → :${after} in ${failedOverMs} ms; last refusal ${lastRefusal - killedAt} ms after the kill; relay WAITs: ${waited('count')}, mean ${((waited('sum') / waited('count')) * 1000).toFixed(2)} ms`,
  );
  expect(accepted.length).toBeGreaterThan(20);
  expect(acceptedAfter.length).toBeGreaterThan(5);
  // Whatever was not accepted was refused with a temporary reply (or the session broke), never for good.
  for (const m of notAccepted) expect([0, 421, 451]).toContain(m.code);

  // Every 250 delivered; a job cut off by the failover may wait for its back-off (30 s).
  let missing: Sent[] = [];
  const copies = await s
    .waitFor(
      'every accepted message in the Maildir',
      async () => {
        const found = await copiesInMaildir(s.home);
        missing = accepted.filter((m) => (found.get(m.id) ?? 0) === 0);
        return missing.length === 0 ? found : null;
      },
      90_000,
    )
    .catch((error: unknown) => {
      throw new Error(`${missing.length} accepted messages missing from the Maildir: ${missing.map((m) => `${m.id} (${m.text})`).join(', ')}`, { cause: error });
    });
  // Exactly once: wait a little more for late copies, then count again.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const final = await copiesInMaildir(s.home);
  const duplicated = accepted.filter((m) => (final.get(m.id) ?? 0) !== 1).map((m) => `${m.id} ×${final.get(m.id) ?? 0}`);
  expect(duplicated).toEqual([]);
  for (const m of notAccepted) expect(final.get(m.id) ?? 0).toBeLessThanOrEqual(1);
  expect(final.size).toBeGreaterThanOrEqual(copies.size);

  // Nothing of an accepted message left in the queues or the spool.
  const queued = await s.waitFor('empty queues', async () => {
    const list = JSON.parse(await s.mailway('queue', 'list', '--json')) as unknown[];
    return list.length === 0 ? list : null;
  });
  expect(queued).toEqual([]);
  const redis = createRedis({ url: 'redis://127.0.0.1', sentinels: sentinels.sentinelPorts.map((port) => ({ host: '127.0.0.1', port })), sentinelName: sentinels.name }, { role: 'worker' });
  try {
    const acceptedIds = new Set(accepted.map((m) => /queued as (\S+)/.exec(m.text)?.[1]).filter((id) => id !== undefined));
    expect(acceptedIds.size).toBe(accepted.length);
    const spoolKeys = await redis.keys(`${s.env.MAILWAY_REDIS_PREFIX}spool:*`);
    const ofAccepted = spoolKeys.filter((key) => acceptedIds.has(/spool:\{([^}]+)\}/.exec(key)?.[1] ?? ''));
    expect(ofAccepted).toEqual([]);
    // A message refused after its content was written leaves an entry that expires on its own.
    for (const key of spoolKeys) expect(await redis.pttl(key)).toBeGreaterThan(0);
  } finally {
    redis.disconnect();
  }

  // The agents said they lost Redis and found it again.
  expect(s.output()).toContain('redis connection lost');
}, 240_000);

/** One message to bob on the relay port with smtplib; resolves with the reply to the end of data. */
async function sendOne(id: string): Promise<{ code: number; text: string }> {
  const script = [
    'import smtplib, sys',
    's = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="mx.remote.example", timeout=20)',
    's.ehlo(); s.mail("someone@remote.example")',
    'code, text = s.rcpt("bob@example.org")',
    'if code == 250: code, text = s.data(("From: someone@remote.example\\r\\nTo: bob@example.org\\r\\nMessage-ID: <%s>\\r\\n\\r\\nhi\\r\\n" % sys.argv[2]).encode())',
    'print(code, text.decode()); s.quit()',
  ].join('\n');
  const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) => {
    const child = spawn('python3', ['-c', script, s.env.RELAY_PORT ?? '', id], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => (code === 0 ? resolve({ stdout: out }) : reject(new Error(`smtplib exited ${code}`))));
  });
  const [code = '0', ...text] = stdout.trim().split(' ');
  return { code: Number(code), text: text.join(' ') };
}

it('answers 451 4.3.0, not 250, while no replica can confirm a message, and 250 once one is back', async () => {
  // The stack has taken mail again since the failover above.
  await s.waitFor('a 250 after the failover', async () => ((await sendOne(`sentinel.settled.${Date.now()}@remote.example`)).code === 250 ? true : null), 60_000);
  // The primary's one replica left goes away.
  const primary = await sentinels.primaryPort();
  const replicas = sentinels.serverPorts.filter((port) => port !== primary);
  for (const port of replicas) await sentinels.kill(port);

  const refused = await sendOne('sentinel.noreplica@remote.example');
  expect(refused).toEqual({ code: 451, text: '4.3.0 Temporary failure, message not safely stored; try again later' });
  const metrics = await (await fetch(`http://127.0.0.1:${s.env.RELAY_HTTP_PORT}/metrics`)).text();
  expect(metrics).toMatch(/^mailway_redis_replica_shortfalls_total{agent="relay"} [1-9]/m);
  await s.waitFor('the log line of the refusal', async () => (s.output().includes('message not confirmed by redis replicas') ? true : null), 5_000);

  // A replica back (the sentinels make it one): 250 again.
  for (const port of replicas) await sentinels.start(port);
  const accepted = await s.waitFor('a 250 with a replica back', async () => {
    const reply = await sendOne(`sentinel.replica-back.${Date.now()}@remote.example`);
    return reply.code === 250 ? reply : null;
  }, 30_000);
  expect(accepted.text).toMatch(/^2\.0\.0 Ok: queued as /);
}, 150_000);
