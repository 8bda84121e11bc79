/**
 * Adaptive destination concurrency against a receiving server with a lower connection limit
 * than ours: nodemailer's smtp-server with maxClients 3, which greets a fourth connection with
 * "421 Too many connected clients". The relay may open 20 sessions to the destination and starts
 * at 8; each refusal lowers its window by one and keeps it below the level refused, so after
 * the first few refusals the rest of the mail goes without any, and every message arrives once.
 * With the window off (RELAY_OUTBOUND_INITIAL_CONCURRENCY=0) the same mail meets a refusal for
 * every session over the server's limit, again and again.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { dnsmasqForTests } from '@mailway/testing/dns';
import { waitFor } from '@mailway/testing/wait';
import { type Harness, sendThrough, startOutboundRelay } from './support/harness.js';
import { type Peer, startPeer } from './support/peers.js';

const mxAddress = '127.0.0.61';
const world = dnsmasqForTests({ mx: [['narrow.test', 'mx.narrow.test', 10]], hosts: [['mx.narrow.test', mxAddress]] }, [mxAddress]);

const messages = 40;

/** Sends `messages` messages, one recipient each, to narrow.test through a relay with `env`; returns the peer and relay once all arrived. */
async function run(env: Record<string, string>): Promise<{ peer: Peer; h: Harness }> {
  const peer = await startPeer(mxAddress, world.port, { maxClients: 3, rcptDelay: [40, 80] });
  onTestFinished(() => peer.close());
  const h = await startOutboundRelay(world.dns.address, world.port, {
    RELAY_OUTBOUND_TLS: 'never',
    RELAY_OUTBOUND_DESTINATION_CONCURRENCY: '20',
    // One session per message: every attempt meets the server's connection limit afresh.
    RELAY_OUTBOUND_SESSION_IDLE: '0',
    RELAY_OUTBOUND_DOWN_TIME: '0',
    ...env,
  });
  onTestFinished(() => h.close());
  await Promise.all(Array.from({ length: messages }, (_, i) => sendThrough(h, 'bob@local.example', [`user${i}@narrow.test`])));
  await waitFor(`${messages} messages at the server`, () => (peer.received.length >= messages ? true : null), { timeoutMs: 60_000 });
  return { peer, h };
}

describe('adaptive destination concurrency', () => {
  it('lowers the window on "421 too many connections" and then sends within the server limit', async () => {
    const { peer, h } = await run({ RELAY_OUTBOUND_INITIAL_CONCURRENCY: '8' });
    const refused = peer.accepted - peer.connections;
    const recipients = peer.received.flatMap((m) => m.to).sort();
    console.log(`adaptive concurrency: ${messages} messages, ${peer.accepted} connections, ${refused} turned away, peak ${peer.peak.connections} open`);
    expect(recipients).toEqual(Array.from({ length: messages }, (_, i) => `user${i}@narrow.test`).sort());
    // Started at 8 against a limit of 3: some refusals before the window came down, few after.
    expect(refused).toBeGreaterThan(0);
    expect(refused).toBeLessThanOrEqual(10);
    expect(await h.metric(/^mailway_relay_outbound_concurrency_feedback_total\{.*signal="congestion"/)).toBe(refused);
    expect(h.logs.some((line) => typeof line.msg === 'string' && line.msg.includes('attempts at once lowered to'))).toBe(true);
  }, 90_000);

  it('without the window, every session over the server limit is turned away', async () => {
    const { peer } = await run({ RELAY_OUTBOUND_INITIAL_CONCURRENCY: '0' });
    const refused = peer.accepted - peer.connections;
    console.log(`fixed concurrency: ${messages} messages, ${peer.accepted} connections, ${refused} turned away`);
    expect(refused).toBeGreaterThan(20);
  }, 90_000);
});
