/**
 * Success notices from the delivery agent (RFC 3461 §6.2.7, RFC 3464), read back by an
 * independent parser (Python's email package). A recipient given NOTIFY=SUCCESS whose message
 * is in its Maildir gets one "delivered" notice from the null sender (ENVID echoed, ORCPT as
 * Original-Recipient, the original's header only); a job run again sends no second one. None
 * without SUCCESS, none with NEVER, none for a null-sender message. An alias that is a list
 * answers with one "expanded" notice and sends its members on without SUCCESS, so no
 * "delivered" follows; an alias to one address passes NOTIFY on, and "delivered" comes from
 * its mailbox. Over LMTP, NOTIFY and ENVID from the client are honoured the same way; an mbox
 * counts as the Maildir does.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TransferJob, transferJobId } from '@mailway/queue/jobs';
import { parseDsn } from '@mailway/testing/dsn-parse';
import { type Harness, message, startDelivery } from './support/harness.js';

const run = promisify(execFile);

let h: Harness;
beforeAll(async () => {
  h = await startDelivery();
  await h.agent.directory.addUser('dora@example.org', 'dora-secret');
  await h.agent.directory.addAlias('list@example.org', ['bob@example.org', 'dora@example.org']);
  await h.agent.directory.addAlias('solo@example.org', ['dora@example.org']);
});
afterAll(() => h.close());

type Notice = { id: string; data: TransferJob; dsn: Awaited<ReturnType<typeof parseDsn>> };

/** The notices queued for `to` (by the agent of `harness`): the transfer jobs from the null sender, parsed. */
async function noticesTo(to: string, harness: Harness = h): Promise<Notice[]> {
  const jobs = await harness.transfer.queue.getJobs(['waiting', 'delayed', 'prioritized', 'active', 'completed', 'failed'], 0, -1, true);
  const notices = jobs.filter((job) => job.data.envelope.from === '' && job.data.envelope.recipients[0]?.address === to);
  return Promise.all(notices.map(async (job) => ({ id: job.id ?? '', data: job.data, dsn: await parseDsn(await harness.spool.readAll(job.data.spoolId)) })));
}

/** The messages in `user`'s Maildir (new/) whose Subject is `subject`. */
async function inMaildir(user: string, subject: string): Promise<string[]> {
  const dir = join(h.root, 'example.org', user, 'Maildir', 'new');
  const files = await readdir(dir).catch(() => []);
  const bodies = await Promise.all(files.map((file) => readFile(join(dir, file), 'utf8')));
  return bodies.filter((body) => body.includes(`\r\nSubject: ${subject}\r\n`));
}

const fullParams = { body: null, smtputf8: false, ret: 'FULL' as const, envid: 'env-17@remote.example', requireTls: false };

describe('"delivered" notices', () => {
  it('NOTIFY=SUCCESS: once the message is in the Maildir, one notice from <> with ENVID, ORCPT and the header only', async () => {
    const { queueId, jobIds } = await h.enqueue(message('stored', 'The body stays home.\r\n'), ['bob@example.org'], {
      from: 'ann@remote.example',
      notify: ['SUCCESS', 'FAILURE'],
      orcpt: { type: 'rfc822', address: 'Bob@Example.org' },
      mailParams: fullParams,
    });
    expect(await h.settle(jobIds[0]!)).toBe('completed');
    expect(await inMaildir('bob', 'stored')).toHaveLength(1);

    const [notice, ...more] = await noticesTo('ann@remote.example');
    expect(more).toEqual([]);
    expect(notice?.data.envelope).toMatchObject({ from: '', recipients: [{ address: 'ann@remote.example', notify: null, orcpt: null }], ret: null, envid: null });
    expect(notice?.data.origin.agent).toBe('delivery');
    const dsn = notice!.dsn;
    expect(dsn.headers).toMatchObject({ From: 'Mail Delivery System <MAILER-DAEMON@mda.test.example>', To: '<ann@remote.example>', Subject: 'Successful Mail Delivery Report', 'Auto-Submitted': 'auto-replied' });
    expect(dsn.contentType).toBe('multipart/report');
    expect(dsn.reportType).toBe('delivery-status');
    expect(dsn.perMessage).toMatchObject({ 'Reporting-MTA': 'dns; mda.test.example', 'X-Mailway-Queue-ID': queueId, 'Original-Envelope-Id': 'env-17@remote.example' });
    expect(dsn.perRecipient).toEqual([
      expect.objectContaining({ 'Final-Recipient': 'rfc822; bob@example.org', 'Original-Recipient': 'rfc822; Bob@Example.org', Action: 'delivered', Status: '2.0.0' }),
    ]);
    // RFC 3461 §4.3: a notice without a failure returns the header only, RET=FULL or not.
    expect(dsn.parts).toEqual(['text/plain', 'message/delivery-status', 'text/rfc822-headers']);
    expect(dsn.returned).toContain('Subject: stored');
    expect(dsn.returned).not.toContain('The body stays home.');
    expect(dsn.human).toContain('<bob@example.org>: delivered');
    expect(h.logs.find((l) => l.jobId === jobIds[0] && l.msg === 'delivered')).toMatchObject({ notice: notice?.id });
    // The content went once the notice had it.
    expect(await h.spool.stat(queueId)).toBeNull();
  });

  it('a job run again (its copy stored) sends no second notice, whether the content is still there or released', async () => {
    // nobody@ fails and keeps the content (it asked for no failure notice): bob's job runs again beside it.
    const kept = await h.enqueue(message('again, kept'), ['bob@example.org', 'nobody@example.org'], { from: 'ben@remote.example', notify: ['SUCCESS'] });
    expect(await h.settle(kept.jobIds[0]!)).toBe('completed');
    expect(await h.settle(kept.jobIds[1]!)).toBe('failed');
    const first = await noticesTo('ben@remote.example');
    expect(first).toHaveLength(1);
    await (await h.delivery.queue.getJob(kept.jobIds[0]!))!.retry('completed');
    expect(await h.settle(kept.jobIds[0]!)).toBe('completed');
    expect(await h.spool.stat(kept.queueId)).toMatchObject({ refs: 1 });
    expect((await noticesTo('ben@remote.example')).map((n) => n.id)).toEqual(first.map((n) => n.id));
    expect(await inMaildir('bob', 'again, kept')).toHaveLength(1);

    const released = await h.enqueue(message('again, released'), ['bob@example.org'], { from: 'bea@remote.example', notify: ['SUCCESS'] });
    expect(await h.settle(released.jobIds[0]!)).toBe('completed');
    expect(await h.spool.stat(released.queueId)).toBeNull();
    const once = await noticesTo('bea@remote.example');
    expect(once).toHaveLength(1);
    await (await h.delivery.queue.getJob(released.jobIds[0]!))!.retry('completed');
    expect(await h.settle(released.jobIds[0]!)).toBe('completed');
    expect((await noticesTo('bea@remote.example')).map((n) => n.id)).toEqual(once.map((n) => n.id));
    expect(await inMaildir('bob', 'again, released')).toHaveLength(1);
  });

  it('none for NOTIFY=NEVER, for no NOTIFY, for a list without SUCCESS, nor for a message from <>', async () => {
    const cases = [
      { subject: 'never', from: 'cat@remote.example', notify: 'NEVER' as const },
      { subject: 'default', from: 'cat@remote.example', notify: null },
      { subject: 'failures only', from: 'cat@remote.example', notify: ['FAILURE' as const, 'DELAY' as const] },
      { subject: 'a notice', from: '', notify: ['SUCCESS' as const] },
    ];
    for (const c of cases) {
      const { jobIds } = await h.enqueue(message(c.subject), ['bob@example.org'], { from: c.from, notify: c.notify });
      expect(await h.settle(jobIds[0]!)).toBe('completed');
      expect(await inMaildir('bob', c.subject)).toHaveLength(1);
    }
    expect(await noticesTo('cat@remote.example')).toEqual([]);
    expect(await noticesTo('')).toEqual([]);
  });
});

describe('aliases', () => {
  it('a list with NOTIFY=SUCCESS: one "expanded" notice; its members go on without SUCCESS and send no "delivered"', async () => {
    const { queueId, jobIds } = await h.enqueue(message('to the list'), ['list@example.org'], { from: 'dan@remote.example', notify: ['SUCCESS', 'FAILURE'], mailParams: fullParams });
    expect(await h.settle(jobIds[0]!)).toBe('completed');

    // The members keep FAILURE, lose SUCCESS, and name the list as their original recipient.
    const expansion = transferJobId(queueId, jobIds[0]);
    const transfer = await h.transfer.queue.getJob(expansion);
    expect(transfer?.data.envelope.recipients).toEqual([
      { address: 'bob@example.org', notify: ['FAILURE'], orcpt: { type: 'rfc822', address: 'list@example.org' } },
      { address: 'dora@example.org', notify: ['FAILURE'], orcpt: { type: 'rfc822', address: 'list@example.org' } },
    ]);
    const [notice, ...more] = await noticesTo('dan@remote.example');
    expect(more).toEqual([]);
    expect(notice?.dsn.perMessage).toMatchObject({ 'Original-Envelope-Id': 'env-17@remote.example', 'X-Mailway-Queue-ID': queueId });
    expect(notice?.dsn.perRecipient).toEqual([expect.objectContaining({ 'Final-Recipient': 'rfc822; list@example.org', Action: 'expanded', Status: '2.0.0' })]);
    expect(notice?.dsn.parts[2]).toBe('text/rfc822-headers');

    // Run again (its members not yet delivered), the expansion sends no second notice.
    await (await h.delivery.queue.getJob(jobIds[0]!))!.retry('completed');
    expect(await h.settle(jobIds[0]!)).toBe('completed');
    expect((await noticesTo('dan@remote.example')).map((n) => n.id)).toEqual([notice?.id]);

    // The members are delivered, and none of them reports success.
    const members = await h.route(expansion);
    for (const id of members) expect(await h.settle(id)).toBe('completed');
    expect(await inMaildir('bob', 'to the list')).toHaveLength(1);
    expect(await inMaildir('dora', 'to the list')).toHaveLength(1);
    expect((await noticesTo('dan@remote.example')).map((n) => n.id)).toEqual([notice?.id]);
    expect(await h.spool.stat(queueId)).toBeNull();

    // Run once more with the content gone (a worker that died before the job was marked done):
    // the members are on their way already, so nothing fails and nobody is told otherwise.
    await (await h.delivery.queue.getJob(jobIds[0]!))!.retry('completed');
    expect(await h.settle(jobIds[0]!)).toBe('completed');
    expect((await noticesTo('dan@remote.example')).map((n) => n.id)).toEqual([notice?.id]);
  });

  it('a list with NOTIFY=SUCCESS alone: its members go on with NOTIFY=NEVER', async () => {
    const { queueId, jobIds } = await h.enqueue(message('success only'), ['list@example.org'], { from: 'eve@remote.example', notify: ['SUCCESS'] });
    expect(await h.settle(jobIds[0]!)).toBe('completed');
    const transfer = (await h.transfer.queue.getJob(transferJobId(queueId, jobIds[0])))?.data as TransferJob | undefined;
    expect(transfer?.envelope.recipients.map((r) => r.notify)).toEqual(['NEVER', 'NEVER']);
    expect((await noticesTo('eve@remote.example')).map((n) => n.dsn.perRecipient[0]?.Action)).toEqual(['expanded']);
  });

  it('an alias to one address passes NOTIFY on: no "expanded", one "delivered" from the mailbox, the alias as Original-Recipient', async () => {
    const { queueId, jobIds } = await h.enqueue(message('to solo'), ['solo@example.org'], { from: 'fay@remote.example', notify: ['SUCCESS'], mailParams: fullParams });
    expect(await h.settle(jobIds[0]!)).toBe('completed');
    expect(await noticesTo('fay@remote.example')).toEqual([]);

    const expansion = transferJobId(queueId, jobIds[0]);
    expect((await h.transfer.queue.getJob(expansion))?.data.envelope.recipients).toEqual([{ address: 'dora@example.org', notify: ['SUCCESS'], orcpt: { type: 'rfc822', address: 'solo@example.org' } }]);
    const [member] = await h.route(expansion);
    expect(await h.settle(member!)).toBe('completed');
    expect(await inMaildir('dora', 'to solo')).toHaveLength(1);

    const notices = await noticesTo('fay@remote.example');
    expect(notices).toHaveLength(1);
    expect(notices[0]?.dsn.perMessage).toMatchObject({ 'Original-Envelope-Id': 'env-17@remote.example', 'X-Mailway-Queue-ID': queueId });
    expect(notices[0]?.dsn.perRecipient).toEqual([
      expect.objectContaining({ 'Final-Recipient': 'rfc822; dora@example.org', 'Original-Recipient': 'rfc822; solo@example.org', Action: 'delivered', Status: '2.0.0' }),
    ]);
  });
});

describe('over LMTP', () => {
  it('NOTIFY=SUCCESS and ENVID from the client: one "delivered" notice for that recipient only', async () => {
    const script = `
import smtplib, sys
lmtp = smtplib.LMTP('127.0.0.1', int(sys.argv[1]))
lmtp.ehlo_or_helo_if_needed()
assert lmtp.has_extn('dsn')
code, _ = lmtp.mail('gus@remote.example', ['ENVID=lmtp-9', 'RET=HDRS'])
assert code == 250
assert lmtp.rcpt('bob@example.org', ['NOTIFY=SUCCESS', 'ORCPT=rfc822;bob@example.org'])[0] == 250
assert lmtp.rcpt('dora@example.org')[0] == 250
lmtp.putcmd('data')
assert lmtp.getreply()[0] == 354
lmtp.send(b'Subject: over lmtp\\r\\n\\r\\nvia python\\r\\n.\\r\\n')
print(lmtp.getreply()[0], lmtp.getreply()[0])
lmtp.quit()`;
    const { stdout } = await run('python3', ['-c', script, String(h.agent.lmtpPort)]);
    expect(stdout.trim()).toBe('250 250');
    expect(await inMaildir('bob', 'over lmtp')).toHaveLength(1);
    expect(await inMaildir('dora', 'over lmtp')).toHaveLength(1);

    const [notice, ...more] = await noticesTo('gus@remote.example');
    expect(more).toEqual([]);
    expect(notice?.dsn.perMessage).toMatchObject({ 'Original-Envelope-Id': 'lmtp-9' });
    expect(notice?.dsn.perRecipient).toEqual([expect.objectContaining({ 'Final-Recipient': 'rfc822; bob@example.org', 'Original-Recipient': 'rfc822; bob@example.org', Action: 'delivered', Status: '2.0.0' })]);
  });
});

describe('into an mbox', () => {
  let m: Harness;
  beforeAll(async () => {
    m = await startDelivery({ env: { DELIVERY_MAILBOX_FORMAT: 'mbox' } });
  });
  afterAll(() => m.close());

  it('NOTIFY=SUCCESS: one "delivered" notice once the message is appended to the mbox', async () => {
    const { jobIds } = await m.enqueue(message('into mbox'), ['bob@example.org'], { from: 'hal@remote.example', notify: ['SUCCESS'] });
    expect(await m.settle(jobIds[0]!)).toBe('completed');
    expect(await readFile(join(m.root, 'example.org', 'bob', 'mbox'), 'utf8')).toContain('\nSubject: into mbox\r\n');
    const notices = await noticesTo('hal@remote.example', m);
    expect(notices.map((n) => n.dsn.perRecipient)).toEqual([[expect.objectContaining({ 'Final-Recipient': 'rfc822; bob@example.org', Action: 'delivered', Status: '2.0.0' })]]);
  });
});
