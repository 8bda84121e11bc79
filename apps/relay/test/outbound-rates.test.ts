/**
 * Destination rate limits (RELAY_OUTBOUND_DESTINATION_RATES): messages to a paced destination
 * arrive no faster than its rate, each once, while mail for other destinations is not held up
 * behind them. The receiving servers are nodemailer's smtp-server, noting when each message came.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { dnsmasqForTests } from '@mailway/testing/dns';
import { waitFor } from '@mailway/testing/wait';
import { sendThrough, settled, startOutboundRelay } from './support/harness.js';
import { startPeer } from './support/peers.js';

const addresses = { paced: '127.0.0.63', fast: '127.0.0.64' } as const;
const world = dnsmasqForTests(
  {
    mx: [
      ['paced.test', 'mx.paced.test', 10],
      ['fast.test', 'mx.fast.test', 10],
    ],
    hosts: [
      ['mx.paced.test', addresses.paced],
      ['mx.fast.test', addresses.fast],
    ],
  },
  Object.values(addresses),
);

describe('destination rate limits', () => {
  it('sends to a paced destination no faster than its rate, without holding up other destinations', async () => {
    const paced = await startPeer(addresses.paced, world.port, { timed: true });
    const fast = await startPeer(addresses.fast, world.port, { timed: true });
    onTestFinished(async () => {
      await Promise.all([paced.close(), fast.close()]);
    });
    // 120 a minute: one every 500 ms.
    // One session per message, so that every message's trip from its send time to the server is alike.
    const h = await startOutboundRelay(world.dns.address, world.port, { RELAY_OUTBOUND_TLS: 'never', RELAY_OUTBOUND_SESSION_IDLE: '0', RELAY_OUTBOUND_DESTINATION_RATES: 'paced.test=120/min' });
    onTestFinished(() => h.close());

    const count = 6;
    const sentAt = Date.now();
    const queueIds = await Promise.all(Array.from({ length: count }, (_, i) => sendThrough(h, 'bob@local.example', [`user${i}@paced.test`])));
    // Sent after the paced mail, to a destination without a limit.
    await sendThrough(h, 'bob@local.example', ['someone@fast.test']);
    await waitFor(`${count} paced messages`, () => (paced.received.length >= count ? true : null), { timeoutMs: 30_000 });
    await waitFor('the other message', () => (fast.received.length >= 1 ? true : null));

    const times = paced.received.map((m) => m.at ?? 0).sort((a, b) => a - b);
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    console.log(`destination rate: ${count} messages over ${(times.at(-1) as number) - (times[0] as number)} ms, gaps ${gaps.join(' ')} ms; other domain after ${(fast.received[0]?.at ?? 0) - sentAt} ms`);
    expect(paced.received.flatMap((m) => m.to).sort()).toEqual(Array.from({ length: count }, (_, i) => `user${i}@paced.test`).sort());
    // Send times reserved 500 ms apart in Redis; each trip to the server takes its own few tens of ms.
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(380);
    expect((times.at(-1) as number) - (times[0] as number)).toBeGreaterThanOrEqual((count - 1) * 500 - 100);
    // The other domain's message did not wait for the paced ones.
    expect(fast.received[0]?.at ?? Infinity).toBeLessThan(times.at(-1) as number);
    expect(await h.metric(/^mailway_relay_outbound_paced_total/)).toBeGreaterThanOrEqual(count - 2);
    // Each sent once, and its content released.
    for (const queueId of queueIds) await waitFor(`${queueId} settled`, settled(h, queueId));
  }, 60_000);
});
