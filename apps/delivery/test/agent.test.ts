import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMaildir } from '@mailway/mailbox';
import { type DeliveryJob, newQueueId, transferJobId } from '@mailway/queue/jobs';
import { deliver } from '../src/deliver.js';
import { Dialog } from '@mailway/testing/dialog';
import { durableRedis, freePort } from '@mailway/vitest-config/redis';
import { type Harness, message, startDelivery } from './support/harness.js';

const run = promisify(execFile);
const trace = (from: string, to: string): string => `Return-Path: <${from}>\r\nDelivered-To: ${to}\r\n`;

/** The files in a Maildir's new/. */
async function newFiles(maildir: string): Promise<string[]> {
  return (await readdir(join(maildir, 'new')).catch(() => [] as string[])).map((name) => join(maildir, 'new', name));
}

describe('delivery agent, Maildir', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startDelivery();
  });
  afterAll(() => h.close());
  const maildir = (local: string) => join(h.root, 'example.org', local, 'Maildir');

  it('stores a queued message byte-exact with Return-Path and Delivered-To, then releases the spool', async () => {
    const content = Buffer.concat([message('8-bit'), Buffer.from('Caf\xc3\xa9\r\n.\r\n..dots\r\n\x00\xff binary\r\n', 'latin1')]);
    const { queueId, jobIds } = await h.enqueue(content, ['bob@example.org']);
    expect(await h.settle(jobIds[0]!)).toBe('completed');
    const files = await newFiles(maildir('bob'));
    const stored = await Promise.all(files.map((f) => readFile(f)));
    const expected = Buffer.concat([Buffer.from(trace('alice@remote.example', 'bob@example.org')), content]);
    expect(stored.filter((b) => b.equals(expected))).toHaveLength(1);
    expect(await h.spool.stat(queueId)).toBeNull();
    const line = h.logs.find((l) => l.jobId === jobIds[0] && l.outcome === 'delivered');
    expect(line).toMatchObject({ queueId, recipient: 'bob@example.org', outcome: 'delivered' });
    expect(String(line?.file)).toContain(maildir('bob'));
  });

  it('puts user+tag into the tag folder, and a null sender as Return-Path: <>', async () => {
    const content = message('tagged');
    const { jobIds } = await h.enqueue(content, ['bob+lists@example.org'], { from: '' });
    expect(await h.settle(jobIds[0]!)).toBe('completed');
    const [file] = await newFiles(join(maildir('bob'), '.lists'));
    expect((await readFile(file!)).equals(Buffer.concat([Buffer.from(trace('', 'bob@example.org')), content]))).toBe(true);
    expect(await readdir(join(maildir('bob'), '.lists'))).toContain('maildirfolder');
  });

  it('expands an alias into a transfer job derived from the delivery job, keeping the refs right', async () => {
    const { queueId, jobIds } = await h.enqueue(message('team'), ['team@example.org', 'bob@example.org']);
    expect(await h.settle(jobIds[0]!)).toBe('completed');
    expect(await h.settle(jobIds[1]!)).toBe('completed');
    const job = await h.transfer.queue.getJob(transferJobId(queueId, jobIds[0]!));
    expect(job?.data).toMatchObject({
      queueId,
      spoolId: queueId,
      parent: jobIds[0],
      envelope: {
        from: 'alice@remote.example',
        recipients: [
          { address: 'bob@example.org', orcpt: { type: 'rfc822', address: 'team@example.org' } },
          { address: 'carol@example.org' },
          { address: 'dave@remote.example' },
        ],
      },
    });
    // 2 refs - bob - the alias + 3 targets = 3, one per target of the transfer job.
    expect(await h.spool.stat(queueId)).toMatchObject({ refs: 3, claimed: true });
  });

  it('an expanded alias passes the MAIL FROM parameters on: BODY, RET, ENVID, REQUIRETLS, SMTPUTF8', async () => {
    const mailParams = { body: '8BITMIME' as const, smtputf8: true, ret: 'HDRS' as const, envid: 'ENV-42', requireTls: true };
    const { queueId, jobIds } = await h.enqueue(message('params'), ['team@example.org'], { mailParams });
    expect(await h.settle(jobIds[0]!)).toBe('completed');
    const job = await h.transfer.queue.getJob(transferJobId(queueId, jobIds[0]!));
    expect(job?.data.envelope).toMatchObject(mailParams);
  });

  it('over quota: deferred while attempts remain, failed on the last, keeping the reference', async () => {
    const big = message('big', `${'x'.repeat(2000)}\r\n`);
    const later = await h.enqueue(big, ['carol@example.org'], { attempts: 3 });
    expect(await h.settle(later.jobIds[0]!, ['delayed', 'failed'])).toBe('delayed');
    const last = await h.enqueue(big, ['carol@example.org'], { attempts: 1 });
    expect(await h.settle(last.jobIds[0]!)).toBe('failed');
    expect(h.logs.find((l) => l.jobId === last.jobIds[0] && l.outcome === 'over_quota')).toMatchObject({ final: true });
    expect(h.logs.find((l) => l.jobId === later.jobIds[0] && l.outcome === 'over_quota')).toMatchObject({ final: false });
    expect(await h.spool.stat(last.queueId)).toMatchObject({ refs: 1 });
    expect(await newFiles(maildir('carol'))).toEqual([]);
  });

  it('a message the relay quarantined (DMARC p=quarantine) goes to the Junk folder, whatever its +tag', async () => {
    const { jobIds } = await h.enqueue(message('quarantined'), ['bob@example.org', 'bob+lists@example.org'], { quarantine: true });
    for (const id of jobIds) expect(await h.settle(id)).toBe('completed');
    const junk = await Promise.all((await newFiles(join(maildir('bob'), '.Junk'))).map((f) => readFile(f, 'latin1')));
    expect(junk.filter((c) => c.includes('Subject: quarantined'))).toHaveLength(2);
    expect(await readdir(join(maildir('bob'), '.Junk'))).toContain('maildirfolder');
    expect(h.logs.find((l) => l.jobId === jobIds[1] && l.outcome === 'delivered')).toMatchObject({ folder: 'Junk' });
  });

  it('a retried delivery finds its stored copy before the quota, which that copy now fills, could refuse it', async () => {
    const content = message('stored once', `${'y'.repeat(700)}\r\n`);
    const queueId = newQueueId();
    await h.spool.write(queueId, content, { refs: 2 });
    const job: DeliveryJob = {
      queueId,
      spoolId: queueId,
      size: content.length,
      messageId: null,
      from: 'alice@remote.example',
      recipient: { address: 'carol@example.org', notify: null, orcpt: null },
      origin: { agent: 'relay', client: null, user: null, tls: null, receivedAt: new Date().toISOString() },
    };
    const targets = { directory: h.agent.directory, spool: h.spool, transfer: h.transfer, store: createMaildir(), format: 'maildir' as const, root: h.root, subaddressFolders: true, junkFolder: 'Junk', hopCountLimit: 50, notices: { hostname: 'mda.test.example', returnLimit: 100_000 } };
    const before = (await newFiles(maildir('carol'))).length;
    const first = await deliver(targets, job, `retry-quota-${queueId}`, false);
    expect(first).toMatchObject({ kind: 'delivered', stored: true });
    // Carol (quota 1000 octets) now holds this copy: a second copy would not fit, and is not needed.
    expect(await deliver(targets, job, `retry-quota-${queueId}`, true)).toMatchObject({ kind: 'delivered', stored: false });
    expect(await newFiles(maildir('carol'))).toHaveLength(before + 1);
    // A different message still meets the quota.
    await expect(deliver(targets, job, `retry-quota-other-${queueId}`, true)).rejects.toThrow(/over quota/);
  });

  it('an unknown recipient fails at once, never retried, keeping the reference', async () => {
    const { queueId, jobIds } = await h.enqueue(message('nobody'), ['nobody@example.org'], { attempts: 5 });
    expect(await h.settle(jobIds[0]!)).toBe('failed');
    const job = await h.delivery.queue.getJob(jobIds[0]!);
    expect(job?.attemptsMade).toBe(1);
    expect(job?.failedReason).toMatch(/no local mailbox/);
    expect(await h.spool.stat(queueId)).toMatchObject({ refs: 1 });
  });

  it('a failed job parks its content as long as it is kept; retried by an operator and delivered, it releases it', async () => {
    const { queueId, jobIds } = await h.enqueue(message('late'), ['late@example.org']);
    expect(await h.settle(jobIds[0]!)).toBe('failed');
    const job = (await h.delivery.queue.getJob(jobIds[0]!))!;
    // Kept as long as the failed job (14 days from its failure), and a minute's grace at most.
    const kept = (await h.spool.stat(queueId))!;
    expect(kept).toMatchObject({ refs: 1, parked: 1 });
    const retention = 14 * 24 * 60 * 60 * 1000;
    expect(kept.expiresAt!.getTime()).toBeGreaterThanOrEqual(job.finishedOn! + retention);
    expect(kept.expiresAt!.getTime()).toBeLessThanOrEqual(job.finishedOn! + retention + 60_000);

    // The mailbox appears; an operator retries the job.
    await h.agent.directory.addUser('late@example.org', 'late-secret');
    await job.retry('failed');
    expect(await h.settle(jobIds[0]!)).toBe('completed');
    expect(await h.spool.stat(queueId)).toBeNull();
    expect(await newFiles(maildir('late'))).toHaveLength(1);
  });

  it('LMTP from Python smtplib.LMTP: the good recipient gets 250, the unknown one 550 5.1.1', async () => {
    const script = `
import smtplib, sys
lmtp = smtplib.LMTP('127.0.0.1', int(sys.argv[1]))
refused = lmtp.sendmail('alice@remote.example', ['bob@example.org', 'nobody@example.org'], b'Subject: lmtp\\r\\n\\r\\nvia python\\r\\n')
print(repr(refused))
lmtp.quit()`;
    const { stdout } = await run('python3', ['-c', script, String(h.agent.lmtpPort)]);
    expect(stdout.trim()).toBe("{'nobody@example.org': (550, b'5.1.1 No such user here')}");
    const bodies = await Promise.all((await newFiles(maildir('bob'))).map((f) => readFile(f, 'latin1')));
    expect(bodies.filter((b) => b === `${trace('alice@remote.example', 'bob@example.org')}Subject: lmtp\r\n\r\nvia python\r\n`)).toHaveLength(1);
  });

  it('LMTP answers once per recipient after the data: 250 for bob, 452 4.2.2 for carol over quota', async () => {
    const { dialog } = await Dialog.open(h.agent.lmtpPort!);
    try {
      expect((await dialog.command('LHLO client.example')).code).toBe(250);
      expect((await dialog.command('MAIL FROM:<alice@remote.example>')).code).toBe(250);
      expect((await dialog.command('RCPT TO:<bob@example.org>')).code).toBe(250);
      expect((await dialog.command('RCPT TO:<carol@example.org>')).code).toBe(250);
      expect((await dialog.command('RCPT TO:<someone@remote.example>')).status).toBe('550 5.1.1');
      const first = await dialog.data(`Subject: big\r\n\r\n${'y'.repeat(3000)}\r\n`);
      const second = await dialog.reply();
      expect([first.status, second.status]).toEqual(['250 2.0.0', '452 4.2.2']);
    } finally {
      await dialog.close();
    }
  });
});

describe('delivery agent, mbox and a UNIX socket', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startDelivery({ env: { DELIVERY_MAILBOX_FORMAT: 'mbox', DELIVERY_LMTP_SOCKET: join(process.env.TMPDIR ?? '/tmp', `mailway-lmtp-${process.pid}.sock`) } });
  });
  afterAll(() => h.close());

  it('appends queued messages to the mbox, From_ line first, From lines quoted', async () => {
    const content = message('mbox', 'From the start\r\n>From quoted\r\n');
    const { queueId, jobIds } = await h.enqueue(content, ['bob@example.org']);
    expect(await h.settle(jobIds[0]!)).toBe('completed');
    const mbox = await readFile(join(h.root, 'example.org', 'bob', 'mbox'), 'latin1');
    expect(mbox).toMatch(/^From alice@remote\.example [A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}\n/);
    const body = mbox.slice(mbox.indexOf('\n') + 1);
    expect(body).toBe(`${trace('alice@remote.example', 'bob@example.org')}${content.toString('latin1').replace('From the start', '>From the start').replace('>From quoted', '>>From quoted')}\n`);
    expect(await h.spool.stat(queueId)).toBeNull();
  });

  it('serves LMTP on the UNIX socket', async () => {
    expect(h.agent.lmtpPort).toBeNull();
    const script = `
import smtplib, sys
lmtp = smtplib.LMTP(sys.argv[1])
print(repr(lmtp.sendmail('alice@remote.example', ['bob+folder@example.org'], b'Subject: socket\\r\\n\\r\\nhi\\r\\n')))
lmtp.quit()`;
    const { stdout } = await run('python3', ['-c', script, h.agent.socket!]);
    expect(stdout.trim()).toBe('{}');
    const folder = await readFile(join(h.root, 'example.org', 'bob', 'mail', 'folder'), 'latin1');
    expect(folder).toContain('Delivered-To: bob@example.org\r\nSubject: socket\r\n\r\nhi\r\n\n');
  });
});

describe('delivery agent, started while Redis is down', () => {
  it('greets LMTP clients with 421 4.3.2 until Redis is there, then takes mail', async () => {
    const redis = await durableRedis();
    const port = await freePort();
    const starting = startDelivery({ env: { REDIS_URL: redis.url, DELIVERY_LMTP_PORT: String(port) } });
    let h: Harness | null = null;
    try {
      const greeting = await until(async () => (await Dialog.open(port)).greeting);
      expect(greeting.status).toBe('421 4.3.2');

      await redis.start();
      h = await starting;
      const { dialog, greeting: again } = await Dialog.open(port);
      expect(again.code).toBe(220);
      await dialog.command('LHLO mx.example');
      await dialog.command('MAIL FROM:<alice@remote.example>');
      expect((await dialog.command('RCPT TO:<bob@example.org>')).code).toBe(250);
      await dialog.close();
    } finally {
      await h?.close().catch(() => {});
      await redis.remove();
    }
  });
});

/** The probe's value once it gives one (errors count as not yet). */
async function until<T>(probe: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await probe();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
