/**
 * `mailway trace` over the whole stack (`mailway start`): a message submitted by Python's
 * smtplib (STARTTLS, AUTH) to a local user and to a remote domain has its path recorded by every
 * agent it met — accepted by submission with the client, TLS and user; routed by the relay;
 * delivered by the delivery agent into the Maildir file that exists; and, for the remote
 * recipient, deferred with the reply of the next hop (Postfix's smtp-sink answering 4xx to RCPT).
 * An operator's action shows too; --json gives the events.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TraceEvent } from '@mailway/queue/trace';
import { type SinkProcess, smtpSinkPath, spawnSmtpSink } from '@mailway/testing/smtp-sink';
import { type Stack, freePort, run, startStack } from './support/stack.js';

let s: Stack;
let sink: SinkProcess;

beforeAll(async () => {
  if (smtpSinkPath === null) return;
  const sinkPort = await freePort();
  // The next hop for remote.test: every RCPT gets a temporary refusal.
  sink = await spawnSmtpSink('127.0.0.1', sinkPort, ['-r', 'RCPT']);
  s = await startStack({ RELAY_TRANSPORTS: `remote.test=smtp:[127.0.0.1]:${sinkPort}` });
  await s.mailway('domain', 'add', 'example.org');
  await s.mailway('user', 'add', 'alice@example.org', 'alice-secret');
  await s.mailway('user', 'add', 'bob@example.org', 'bob-secret');
}, 90_000);

afterAll(async () => {
  await s?.close();
  await sink?.stop();
});

/** Submits with smtplib (STARTTLS, AUTH PLAIN) and returns the queue id from the 250 reply. */
async function submit(to: string[]): Promise<string> {
  const script = [
    'import smtplib, ssl, sys',
    's = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="laptop.example.org")',
    's.starttls(context=ssl._create_unverified_context())',
    's.login("alice@example.org", "alice-secret")',
    's.mail("alice@example.org")',
    'for r in sys.argv[2:]: s.rcpt(r)',
    'code, reply = s.data(b"From: alice@example.org\\r\\nSubject: traced\\r\\n\\r\\nWhere did I go?\\r\\n")',
    'print(code, reply.decode())',
    's.quit()',
  ].join('\n');
  const { stdout } = await run('python3', ['-c', script, s.env.SUBMISSION_PORT ?? '', ...to]);
  const match = /^250 .*queued as ([0-9A-Z]+)/.exec(stdout);
  if (match === null) throw new Error(`not queued: ${stdout}`);
  return match[1]!;
}

const traceOf = async (queueId: string): Promise<TraceEvent[]> => JSON.parse(await s.mailway('trace', queueId, '--json')) as TraceEvent[];

describe.skipIf(smtpSinkPath === null)('mailway trace (skipped: smtp-sink is not installed)', () => {
  it('shows a message’s whole path: accepted, routed, delivered into its Maildir file, and deferred with the next hop’s reply', async () => {
    const queueId = await submit(['bob@example.org', 'carol@remote.test']);

    // Every agent has written its part once the remote attempt is over.
    const events = await s.waitFor('the whole trace', async () => {
      const found = await traceOf(queueId).catch(() => []);
      return found.some((e) => e.type === 'delivered') && found.some((e) => e.type === 'deferred') ? found : null;
    });
    const accepted = events[0]!;
    expect(accepted).toMatchObject({ type: 'accepted', agent: 'submission', client: '127.0.0.1', helo: 'laptop.example.org', user: 'alice@example.org', from: 'alice@example.org', recipients: ['bob@example.org', 'carol@remote.test'] });
    expect(accepted.tls).toMatch(/^TLSv1\.[23]$/);
    expect(events.filter((e) => e.type === 'routed').map((e) => [e.agent, e.recipient, e.route])).toEqual([
      ['relay', 'bob@example.org', 'local'],
      ['relay', 'carol@remote.test', 'remote.test'],
    ]);
    const delivered = events.find((e) => e.type === 'delivered')!;
    expect(delivered).toMatchObject({ agent: 'delivery', recipient: 'bob@example.org' });
    expect(delivered.file).toContain(join(s.home, 'mail', 'example.org', 'bob', 'Maildir', 'new'));
    expect(existsSync(delivered.file!)).toBe(true);
    expect((await readdir(join(s.home, 'mail', 'example.org', 'bob', 'Maildir', 'new'))).length).toBe(1);
    const deferred = events.find((e) => e.type === 'deferred')!;
    expect(deferred).toMatchObject({ agent: 'relay', recipient: 'carol@remote.test', remote: '127.0.0.1', attempt: 1, tls: null });
    expect(deferred.reply).toBe('450 4.3.0 Error: command failed');
    // In time order: accepted before routed before the outcomes.
    const order = events.map((e) => e.type);
    expect(order.indexOf('accepted')).toBe(0);
    expect(order.indexOf('routed')).toBeLessThan(order.indexOf('delivered'));
    expect(order.indexOf('routed')).toBeLessThan(order.indexOf('deferred'));

    // The human form: one line per event.
    const lines = (await s.mailway('trace', queueId)).trim().split('\n');
    expect(lines).toHaveLength(events.length);
    expect(lines[0]).toMatch(/submission\s+accepted\s+from <alice@example\.org> to bob@example\.org, carol@remote\.test; client \[127\.0\.0\.1\] \(laptop\.example\.org\), TLSv1\.[23], user alice@example\.org/);
    expect(lines.find((l) => l.includes('deferred'))).toMatch(/relay\s+deferred\s+carol@remote\.test via 127\.0\.0\.1 \(no TLS\), attempt 1: 450 4\.3\.0 Error: command failed$/);
    expect(lines.find((l) => l.includes(' delivered '))).toContain(`bob@example.org → ${delivered.file}`);

    // An operator's retry is part of the path too.
    await s.mailway('queue', 'retry', queueId);
    const after = await s.waitFor('the retry in the trace', async () => ((await traceOf(queueId)).some((e) => e.type === 'operator') ? traceOf(queueId) : null));
    expect(after.find((e) => e.type === 'operator')).toMatchObject({ agent: 'admin', action: 'retry', route: 'remote.test', recipients: ['carol@remote.test'] });
  });

  it('says when a message has no trace', async () => {
    const failed = await run(process.execPath, ['--import', 'tsx', '--conditions=@mailway/source', 'src/main.ts', 'trace', '01J00000000000000000'], { cwd: join(import.meta.dirname, '..'), env: s.env }).catch((e: { code: number; stderr: string }) => e);
    expect(failed).toMatchObject({ code: 1 });
    expect((failed as { stderr: string }).stderr).toContain('no trace of message 01J00000000000000000');
  });
});
