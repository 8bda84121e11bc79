/**
 * RFC 5321 §6.3 loop detection at submission: a message that already carries more Received
 * fields than MAILWAY_HOPCOUNT_LIMIT allows (this hop's own included) is refused at end of data
 * with 554 5.4.6, and nothing is spooled or queued; one under the limit is queued with its hop
 * count on the job.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dialog } from '@mailway/testing/dialog';
import { type Harness, alice, message, startSubmission } from './support/harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startSubmission();
});
afterAll(async () => {
  await h.close();
});

/** `count` Received fields, newest first, as hops before this one would have added them. */
function received(count: number): string {
  return Array.from({ length: count }, (_, i) => `Received: from hop${count - i}.example by hop${count - i + 1}.example with ESMTP id H${i}; Wed, 25 Nov 2026 10:00:00 +0000`).join('\r\n');
}

/** Submit `raw` as alice to a remote recipient (so that it takes a transfer job); the reply to end of data. */
async function submit(raw: string): Promise<string> {
  const { dialog } = await Dialog.open(h.agent.ports.starttls);
  try {
    await dialog.startTls();
    expect((await dialog.authPlain(alice.user, alice.pass)).status).toBe('235 2.7.0');
    expect((await dialog.command('MAIL FROM:<alice@example.org>')).code).toBe(250);
    expect((await dialog.command('RCPT TO:<bob@example.net>')).code).toBe(250);
    return (await dialog.data(raw)).status;
  } finally {
    await dialog.close();
  }
}

describe('hop count at submission', () => {
  it('refuses a message with 51 Received fields with 554 5.4.6, spooling and queueing nothing', async () => {
    expect(await submit(`${received(51)}\r\n${message({ from: 'alice@example.org' })}`)).toBe('554 5.4.6');
    expect(await h.jobs()).toHaveLength(0);
    expect(await h.redis.keys(`${h.prefix}spool:*`)).toHaveLength(0);
    expect(h.logs.some((l) => l.msg === 'message refused: too many hops (routing loop)' && l.hops === 52)).toBe(true);
  });

  it('queues one with 49, this hop making 50, and the job carries hops 50', async () => {
    expect(await submit(`${received(49)}\r\n${message({ from: 'alice@example.org' })}`)).toBe('250 2.0.0');
    const jobs = await h.jobs();
    expect(jobs).toHaveLength(1);
    expect(jobs[0]?.hops).toBe(50);
  });
});
