/**
 * Delivery jobs that carry their message (a small message for one local recipient, queued by
 * the intake without the spool): the real delivery agent stores it byte-exact behind
 * Return-Path and Delivered-To without touching the spool; a failure notice returns it from the
 * job; an alias expansion writes it to the spool once, for its targets' jobs; an operator's
 * retry of the failed job finds it still there. Nothing is left in the spool that no job owns.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMaildir } from '@mailway/mailbox';
import { type TransferJob, transferJobId } from '@mailway/queue/jobs';
import { parseDsn } from '@mailway/testing/dsn-parse';
import { deliver } from '../src/deliver.js';
import { type Harness, message, startDelivery } from './support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startDelivery();
});
afterAll(async () => {
  await h.close();
});

/** The messages in a user's Maildir/new. */
async function newMessages(local: string): Promise<Buffer[]> {
  const dir = join(h.root, 'example.org', local, 'Maildir', 'new');
  const names = await readdir(dir).catch(() => [] as string[]);
  return Promise.all(names.map((name) => readFile(join(dir, name))));
}

/** The spool ids that have anything stored. */
async function spooled(): Promise<string[]> {
  const keys = await h.redis.keys(`${h.config.redis.prefix}spool:*`);
  return [...new Set(keys.map((key) => key.slice(key.indexOf('{') + 1, key.indexOf('}'))))].sort();
}

describe('a delivery job that carries its message', () => {
  it('is stored byte-exact behind Return-Path and Delivered-To, and the spool is never used', async () => {
    // Octets above 0x7f and a bare CR travel as they are.
    const content = Buffer.concat([message('carried'), Buffer.from([0xe9, 0x0d, 0x41, 0x0d, 0x0a])]);
    const before = (await newMessages('bob')).length;
    const { queueId, jobIds } = await h.enqueue(content, ['bob@example.org'], { carried: true });
    expect(await h.settle(jobIds[0]!)).toBe('completed');
    const stored = (await newMessages('bob')).find((m) => m.includes(queueId) || m.subarray(m.length - content.length).equals(content));
    expect(stored?.subarray(stored.length - content.length).equals(content)).toBe(true);
    expect(stored?.toString('latin1')).toMatch(/^Return-Path: <alice@remote\.example>\r\nDelivered-To: bob@example\.org\r\nFrom: /);
    expect(await newMessages('bob')).toHaveLength(before + 1);
    expect(await spooled()).not.toContain(queueId);
  });

  it('returns the message from the job in a failure notice, and parks nothing in the spool', async () => {
    const { queueId, jobIds } = await h.enqueue(message('carried to nobody'), ['nobody@example.org'], { carried: true, from: 'carried-sender@remote.example' });
    expect(await h.settle(jobIds[0]!)).toBe('failed');
    const notices = (await h.transfer.queue.getJobs(['waiting'], 0, -1, true)).filter((job) => job.data.envelope.recipients[0]?.address === 'carried-sender@remote.example');
    expect(notices).toHaveLength(1);
    const dsn = await parseDsn(await h.spool.readAll(notices[0]!.data.spoolId));
    expect(dsn.perRecipient[0]).toMatchObject({ 'Final-Recipient': 'rfc822; nobody@example.org', Status: '5.1.1' });
    expect(dsn.returned).toContain('Subject: carried to nobody');
    // The original is in the failed job, and only there; the notice's own entry is its job's.
    expect(await spooled()).not.toContain(queueId);
    expect((await h.delivery.queue.getJob(jobIds[0]!))?.data.content).toContain('Subject: carried to nobody');

    // Retried by an operator once the user exists: delivered from the job.
    await h.agent.directory.addUser('nobody@example.org', 'nobody-secret');
    await (await h.delivery.queue.getJob(jobIds[0]!))?.retry();
    expect(await h.settle(jobIds[0]!)).toBe('completed');
    expect((await newMessages('nobody')).some((m) => m.toString('latin1').includes('Subject: carried to nobody'))).toBe(true);
    expect(await spooled()).not.toContain(queueId);
  });

  it('an alias expanded from it gets the message spooled once, one reference per target', async () => {
    const { queueId, jobIds } = await h.enqueue(message('carried to the team'), ['team@example.org'], { carried: true });
    expect(await h.settle(jobIds[0]!)).toBe('completed');
    const transfer = await h.transfer.queue.getJob(transferJobId(queueId, jobIds[0]!));
    expect((transfer?.data as TransferJob | undefined)?.envelope.recipients.map((r) => r.address)).toEqual(['bob@example.org', 'carol@example.org', 'dave@remote.example']);
    expect(transfer?.data.spoolId).toBe(queueId);
    expect(await h.spool.stat(queueId)).toMatchObject({ refs: 3, size: transfer?.data.size });
    expect((await h.spool.readAll(queueId)).toString('latin1')).toContain('Subject: carried to the team');

    // The targets' jobs deliver from the spool and release it: nothing left.
    const routed = await h.route(transfer!.id!);
    for (const id of routed.slice(0, 2)) expect(await h.settle(id)).toBe('completed');
    await h.spool.releaseOnce(queueId, 'dave-delivered-elsewhere');
    expect(await h.spool.stat(queueId)).toBeNull();
  });

  it('an expansion run again after a crash writes the entry once and keeps its references', async () => {
    const { queueId, jobIds } = await h.enqueue(message('expanded twice'), ['team@example.org'], { carried: true });
    expect(await h.settle(jobIds[0]!)).toBe('completed');
    const transfer = await h.transfer.queue.getJob(transferJobId(queueId, jobIds[0]!));
    // The same job run again with the transfer job gone (the crash came before it was added).
    await transfer!.remove();
    const data = { ...transfer!.data };
    const job = { queueId, spoolId: queueId, size: data.size, messageId: null, from: data.envelope.from, recipient: { address: 'team@example.org', notify: null, orcpt: null }, origin: data.origin, content: (await h.spool.readAll(queueId)).toString('latin1') };
    const targets = { directory: h.agent.directory, spool: h.spool, transfer: h.transfer, store: createMaildir(), format: 'maildir' as const, root: h.root, subaddressFolders: true, junkFolder: 'Junk', hopCountLimit: 50, notices: { hostname: 'mda.test.example', returnLimit: 100_000 } };
    expect(await deliver(targets, job, jobIds[0]!, true)).toMatchObject({ kind: 'expanded' });
    expect(await h.spool.stat(queueId)).toMatchObject({ refs: 3 });
    for (const target of ['bob', 'carol', 'dave']) await h.spool.releaseOnce(queueId, target);
    expect(await h.spool.stat(queueId)).toBeNull();
  });
});
