/**
 * The delivery agent's part of a message's trace: a stored copy is `delivered` with its mailbox
 * file, an alias `expanded` with its targets, a recipient over quota `deferred` while attempts
 * remain and `failed` on the last (with the reply it got); over LMTP (Python's smtplib.LMTP),
 * the message is `accepted` from the client and `delivered`.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TraceEvent, createTraceLog } from '@mailway/queue/trace';
import { type Harness, message, startDelivery } from './support/harness.js';

const run = promisify(execFile);
let h: Harness;
let read: (queueId: string) => Promise<TraceEvent[]>;

beforeAll(async () => {
  h = await startDelivery();
  const trace = createTraceLog(h.redis, { prefix: h.prefix, retentionMs: 60_000 });
  read = async (queueId) => (await trace.read(queueId)).map((e) => e.event);
});
afterAll(async () => {
  await h.close();
});

describe('the delivery agent traces', () => {
  it('a stored copy with its mailbox file, and an alias with its targets', async () => {
    const { queueId, jobIds } = await h.enqueue(message('traced'), ['bob@example.org', 'team@example.org']);
    for (const id of jobIds) expect(await h.settle(id)).toBe('completed');
    const events = await read(queueId);
    const delivered = events.find((e) => e.type === 'delivered')!;
    expect(delivered).toMatchObject({ agent: 'delivery', recipient: 'bob@example.org' });
    expect(delivered.file).toMatch(new RegExp(`^${h.root}/example\\.org/bob/Maildir/new/`));
    expect(existsSync(delivered.file!)).toBe(true);
    expect(events.find((e) => e.type === 'expanded')).toMatchObject({ agent: 'delivery', recipient: 'team@example.org', targets: ['bob@example.org', 'carol@example.org', 'dave@remote.example'] });
  });

  it('a recipient over quota: deferred while attempts remain, failed on the last, with its reply', async () => {
    const big = message('big', `${'x'.repeat(2000)}\r\n`);
    const later = await h.enqueue(big, ['carol@example.org'], { attempts: 3 });
    expect(await h.settle(later.jobIds[0]!, ['delayed', 'failed'])).toBe('delayed');
    expect(await read(later.queueId)).toEqual([expect.objectContaining({ type: 'deferred', agent: 'delivery', recipient: 'carol@example.org', attempt: 1, reply: expect.stringMatching(/^452 4\.2\.2 /) })]);
    const last = await h.enqueue(big, ['carol@example.org'], { attempts: 1 });
    expect(await h.settle(last.jobIds[0]!)).toBe('failed');
    expect((await read(last.queueId)).map((e) => e.type)).toContain('failed');
  });

  it('LMTP: accepted from the client, then delivered', async () => {
    const script = `
import smtplib, sys
lmtp = smtplib.LMTP('127.0.0.1', int(sys.argv[1]), local_hostname='mx.remote.example')
lmtp.ehlo('mx.remote.example')  # LHLO in smtplib.LMTP
lmtp.mail('alice@remote.example')
lmtp.rcpt('bob@example.org')
code, reply = lmtp.data(b'Subject: lmtp traced\\r\\n\\r\\nvia python\\r\\n')
print(code, reply.decode())
lmtp.quit()`;
    const { stdout } = await run('python3', ['-c', script, String(h.agent.lmtpPort)]);
    const queueId = /delivered as ([0-9A-Z]+)/.exec(stdout)![1]!;
    await expect.poll(async () => (await read(queueId)).map((e) => e.type)).toEqual(['accepted', 'delivered']);
    expect((await read(queueId))[0]).toMatchObject({ agent: 'delivery', client: '127.0.0.1', helo: 'mx.remote.example', tls: null, from: 'alice@remote.example', recipients: ['bob@example.org'] });
  });
});
