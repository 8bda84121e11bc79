/**
 * A recipient the delivery agent fails for good is returned to the sender: an RFC 3464 notice
 * from the null sender, handed to the intake (a transfer job) and read back by an independent
 * parser (Python's email package). A mail loop (5.4.6), an unknown user (5.1.1), a mailbox full
 * to the last attempt (5.2.2); none for NOTIFY=NEVER or a null-sender message; the same notice
 * (one job) however often the failed job runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDsn } from '@mailway/testing/dsn-parse';
import { type Harness, message, startDelivery } from './support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startDelivery();
});
afterAll(async () => {
  await h.close();
});

/** The notices queued for `to`: the transfer jobs from the null sender, parsed. */
async function noticesTo(to: string): Promise<Array<{ id: string; dsn: Awaited<ReturnType<typeof parseDsn>> }>> {
  const jobs = await h.transfer.queue.getJobs(['waiting', 'delayed', 'prioritized', 'active', 'completed', 'failed'], 0, -1, true);
  const notices = jobs.filter((job) => job.data.envelope.from === '' && job.data.envelope.recipients[0]?.address === to);
  return Promise.all(notices.map(async (job) => ({ id: job.id ?? '', dsn: await parseDsn(await h.spool.readAll(job.data.spoolId)) })));
}

describe('failure notices from the delivery agent', () => {
  it('an unknown user: one notice to the sender, 5.1.1, with the original returned', async () => {
    const { queueId, jobIds } = await h.enqueue(message('to nobody'), ['nobody@example.org'], { from: 'sender1@remote.example' });
    expect(await h.settle(jobIds[0]!)).toBe('failed');
    const [notice, ...more] = await noticesTo('sender1@remote.example');
    expect(more).toEqual([]);
    expect(notice?.dsn.headers).toMatchObject({ From: 'Mail Delivery System <MAILER-DAEMON@mda.test.example>', Subject: 'Undelivered Mail Returned to Sender', 'Auto-Submitted': 'auto-replied' });
    expect(notice?.dsn.perMessage).toMatchObject({ 'Reporting-MTA': 'dns; mda.test.example', 'X-Mailway-Queue-ID': queueId });
    expect(notice?.dsn.perRecipient).toEqual([
      expect.objectContaining({ 'Final-Recipient': 'rfc822; nobody@example.org', Action: 'failed', Status: '5.1.1', 'Diagnostic-Code': 'X-Mailway; 550 5.1.1 No such user here' }),
    ]);
    expect(notice?.dsn.returned).toContain('Subject: to nobody');
    expect(h.logs.some((l) => l.msg === 'failure notice queued' && l.jobId === jobIds[0])).toBe(true);
  });

  it('a mail loop: 5.4.6', async () => {
    const content = Buffer.concat([Buffer.from('Delivered-To: bob@example.org\r\n'), message('looped')]);
    const { jobIds } = await h.enqueue(content, ['bob@example.org'], { from: 'sender2@remote.example' });
    expect(await h.settle(jobIds[0]!)).toBe('failed');
    const [notice] = await noticesTo('sender2@remote.example');
    expect(notice?.dsn.perRecipient[0]).toMatchObject({ 'Final-Recipient': 'rfc822; bob@example.org', Action: 'failed', Status: '5.4.6' });
  });

  it('a mailbox full to the last attempt: 5.2.2', async () => {
    const { jobIds } = await h.enqueue(message('big', `${'x'.repeat(2000)}\r\n`), ['carol@example.org'], { from: 'sender3@remote.example', attempts: 1 });
    expect(await h.settle(jobIds[0]!)).toBe('failed');
    const [notice] = await noticesTo('sender3@remote.example');
    expect(notice?.dsn.perRecipient[0]).toMatchObject({ 'Final-Recipient': 'rfc822; carol@example.org', Action: 'failed', Status: '5.2.2' });
  });

  it('none for a recipient that asked for none, nor for a message from the null sender', async () => {
    const { jobIds } = await h.enqueue(message('quiet'), ['nobody@example.org'], { from: 'sender4@remote.example', notify: 'NEVER' });
    expect(await h.settle(jobIds[0]!)).toBe('failed');
    expect(await noticesTo('sender4@remote.example')).toEqual([]);
    const bounce = await h.enqueue(message('a bounce'), ['nobody@example.org'], { from: '' });
    expect(await h.settle(bounce.jobIds[0]!)).toBe('failed');
    expect(await noticesTo('')).toEqual([]);
  });

  it('a failed job run again sends the same notice, not a second one', async () => {
    const { jobIds } = await h.enqueue(message('twice'), ['nobody@example.org'], { from: 'sender5@remote.example' });
    expect(await h.settle(jobIds[0]!)).toBe('failed');
    const [first] = await noticesTo('sender5@remote.example');
    await (await h.delivery.queue.getJob(jobIds[0]!))?.retry();
    expect(await h.settle(jobIds[0]!)).toBe('failed');
    const again = await noticesTo('sender5@remote.example');
    expect(again.map((n) => n.id)).toEqual([first?.id]);
  });
});
