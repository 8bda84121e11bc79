/**
 * RFC 5321 §6.3 loop detection on port 25: a message that already carries more Received fields
 * than MAILWAY_HOPCOUNT_LIMIT allows (this hop's own included) is refused at end of data with
 * 554 5.4.6, and nothing is spooled or queued; one under the limit is queued with its hop count
 * on its delivery job (a message to one local recipient skips the transfer job).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dialog } from '@mailway/testing/dialog';
import { type Harness, message, queueIdOf, startRelay } from './support/harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startRelay({ env: { MAILWAY_HOPCOUNT_LIMIT: '10' } });
});
afterAll(async () => {
  await h.close();
});

/** `count` Received fields, newest first, as hops before this one would have added them. */
function received(count: number): string {
  return Array.from({ length: count }, (_, i) => `Received: from hop${count - i}.example by hop${count - i + 1}.example with ESMTP id H${i}; Wed, 25 Nov 2026 10:00:00 +0000`).join('\r\n');
}

/** Send `raw` from a remote MTA to bob; the reply to end of data. */
async function send(port: number, raw: string): Promise<{ status: string; text: string }> {
  const { dialog } = await Dialog.open(port);
  try {
    await dialog.command('EHLO mx.remote.example');
    expect((await dialog.command('MAIL FROM:<carol@remote.example>')).code).toBe(250);
    expect((await dialog.command('RCPT TO:<bob@local.example>')).code).toBe(250);
    const reply = await dialog.data(raw);
    return { status: reply.status, text: reply.text };
  } finally {
    await dialog.close();
  }
}

describe('hop count on port 25', () => {
  it('refuses a message with 51 Received fields with 554 5.4.6, spooling and queueing nothing', async () => {
    const relay = await startRelay();
    try {
      expect((await send(relay.agent.port, `${received(51)}\r\n${message()}`)).status).toBe('554 5.4.6');
      expect(await relay.jobs('transfer')).toHaveLength(0);
      expect(await relay.redis.keys(`${relay.prefix}spool:*`)).toHaveLength(0);
      expect(await relay.metric(/^mailway_relay_rejections_total\{.*reason="too_many_hops"/)).toBe(1);
    } finally {
      await relay.close();
    }
  });

  it('follows MAILWAY_HOPCOUNT_LIMIT: 10 refused, 9 queued with hops 10 on the delivery job', async () => {
    expect((await send(h.agent.port, `${received(10)}\r\n${message()}`)).status).toBe('554 5.4.6');
    const accepted = await send(h.agent.port, `${received(9)}\r\n${message()}`);
    expect(accepted.status).toBe('250 2.0.0');
    const queueId = queueIdOf(accepted.text);
    const [delivery] = await h.waitForJobs('delivery', 1, queueId);
    expect(delivery?.data.hops).toBe(10);
    expect(await h.jobs('transfer')).toHaveLength(0);
  });
});
