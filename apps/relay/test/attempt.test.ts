/**
 * One delivery attempt against real receiving servers (nodemailer's smtp-server) on distinct
 * loopback addresses sharing one port, as the MX hosts of a domain do: the next host after a
 * refused connection, a 421 greeting or a broken-off message; each recipient's own answer;
 * a refused sender decided for all; STARTTLS that fails falling back to plaintext, recorded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { EnvelopeRecipient } from '@mailway/queue/jobs';
import { selfSignedCertificate } from '@mailway/runtime';
import { type AttemptOptions, type OutboundMessage, attemptDelivery } from '../src/outbound/attempt.js';
import type { NextHop } from '../src/outbound/mx.js';
import { OutboundSessions, type SessionCacheOptions } from '../src/outbound/sessions.js';
import { type Peer, type PeerScript, startPeer } from './support/peers.js';
import { sharedPort } from '@mailway/testing/ports';

const content = Buffer.from('From: a@origin.test\r\nTo: x@dest.test\r\nSubject: outbound\r\n\r\nHello.\r\n');
const recipient = (address: string): EnvelopeRecipient => ({ address, notify: null, orcpt: null });

function message(addresses: string[], overrides: Partial<OutboundMessage> = {}): OutboundMessage {
  return {
    from: 'a@origin.test',
    recipients: addresses.map(recipient),
    body: () => content,
    size: content.length,
    bodyType: null,
    smtputf8: false,
    ret: null,
    envid: null,
    requireTls: false,
    ...overrides,
  };
}

let peers: Peer[] = [];
afterEach(async () => {
  await Promise.all(peers.map((p) => p.close()));
  peers = [];
});

/** Peers on 127.0.0.41, .42, … with one script each (null: nothing listens there). */
async function mxHosts(scripts: Array<PeerScript | null>): Promise<{ hops: NextHop[]; port: number; peers: Array<Peer | null> }> {
  const addresses = scripts.map((_, i) => `127.0.0.${41 + i}`);
  const port = await sharedPort(addresses);
  const started = await Promise.all(scripts.map((script, i) => (script === null ? null : startPeer(addresses[i] as string, port, script))));
  peers.push(...started.filter((p): p is Peer => p !== null));
  const hops = addresses.map((address, i) => ({ host: `mx${i + 1}.dest.test`, address, preference: (i + 1) * 10 }));
  return { hops, port, peers: started };
}

const options = (port: number, overrides: Partial<AttemptOptions> = {}): AttemptOptions => ({
  port,
  helo: 'relay.origin.test',
  startTls: 'opportunistic',
  maxHosts: 5,
  timeouts: { connect: 2_000, greeting: 5_000, command: 5_000 },
  ...overrides,
});

const states = (result: Awaited<ReturnType<typeof attemptDelivery>>): string[] =>
  result.recipients.map((r) => `${r.recipient.address} ${r.verdict.state} ${r.verdict.status}`);

describe('a delivery attempt', () => {
  it('delivers to the first host, over STARTTLS, byte for byte', async () => {
    const { hops, port, peers: [first] } = await mxHosts([{}]);
    const result = await attemptDelivery(hops, message(['x@dest.test', 'y@dest.test']), options(port));
    expect(states(result)).toEqual(['x@dest.test delivered 2.0.0', 'y@dest.test delivered 2.0.0']);
    expect(result.recipients[0]?.remote).toEqual({ host: 'mx1.dest.test', address: '127.0.0.41', dsn: false });
    expect(result.recipients[0]?.tls).toMatch(/^TLSv1\.[23]$/);
    expect(first?.received).toEqual([{ from: 'a@origin.test', to: ['x@dest.test', 'y@dest.test'], body: content, tls: true }]);
  });

  it('goes on to the next host after a refused connection and a 421 greeting', async () => {
    const { hops, port, peers: found } = await mxHosts([null, { greeting: 421 }, {}]);
    const result = await attemptDelivery(hops, message(['x@dest.test']), options(port));
    expect(states(result)).toEqual(['x@dest.test delivered 2.0.0']);
    expect(result.recipients[0]?.remote?.address).toBe('127.0.0.43');
    expect(result.tried.map((t) => [t.address, t.failure === null ? 'ok' : t.failure.slice(0, 3)])).toEqual([
      ['127.0.0.41', 'con'],
      ['127.0.0.42', '421'],
      ['127.0.0.43', 'ok'],
    ]);
    expect(found[2]?.received).toHaveLength(1);
  });

  it('gives each recipient its own answer: delivered, deferred (452), failed (550)', async () => {
    const { hops, port, peers: [first, second] } = await mxHosts([{ rcpt: { 'busy@dest.test': 452, 'gone@dest.test': 550 } }, {}]);
    const result = await attemptDelivery(hops, message(['x@dest.test', 'busy@dest.test', 'gone@dest.test']), options(port));
    expect(states(result)).toEqual(['x@dest.test delivered 2.0.0', 'busy@dest.test deferred 4.0.0', 'gone@dest.test failed 5.0.0']);
    expect(result.recipients[2]?.verdict).toMatchObject({ remote: true, diagnostic: expect.stringMatching(/^550 /) });
    // The deferred recipient waits for the next attempt: it is not offered to the next host now.
    expect(first?.received.map((m) => m.to)).toEqual([['x@dest.test']]);
    expect(second?.received).toEqual([]);
  });

  it('a sender refused for good fails every recipient, without trying another host', async () => {
    const { hops, port, peers: [, second] } = await mxHosts([{ mail: 550 }, {}]);
    const result = await attemptDelivery(hops, message(['x@dest.test', 'y@dest.test']), options(port));
    expect(states(result)).toEqual(['x@dest.test failed 5.0.0', 'y@dest.test failed 5.0.0']);
    expect(second?.connections).toBe(0);
  });

  it('a sender refused for now is tried at the next host', async () => {
    const { hops, port } = await mxHosts([{ mail: 451 }, {}]);
    const result = await attemptDelivery(hops, message(['x@dest.test']), options(port));
    expect(states(result)).toEqual(['x@dest.test delivered 2.0.0']);
    expect(result.recipients[0]?.remote?.address).toBe('127.0.0.42');
  });

  it('a host that breaks off in the data is left for the next one, which delivers once', async () => {
    const { hops, port, peers: [first, second] } = await mxHosts([{ dropInData: true }, {}]);
    const result = await attemptDelivery(hops, message(['x@dest.test']), options(port));
    expect(states(result)).toEqual(['x@dest.test delivered 2.0.0']);
    expect(first?.received).toEqual([]);
    expect(second?.received).toHaveLength(1);
  });

  it('every host busy: deferred with the last reason, and no more hosts tried than the limit', async () => {
    const { hops, port, peers: found } = await mxHosts([{ greeting: 421 }, { greeting: 421 }, { greeting: 421 }]);
    const result = await attemptDelivery(hops, message(['x@dest.test']), options(port, { maxHosts: 2 }));
    expect(states(result)).toEqual(['x@dest.test deferred 4.0.0']);
    expect(found.map((p) => p?.connections)).toEqual([1, 1, 0]);
  });

  it('every host refusing this client at the greeting (554): deferred, never bounced', async () => {
    const { hops, port } = await mxHosts([{ greeting: 554 }, { greeting: 554 }]);
    const result = await attemptDelivery(hops, message(['x@dest.test']), options(port));
    expect(states(result)).toEqual(['x@dest.test deferred 4.0.0']);
  });

  it('one host refusing for good and another for now: deferred', async () => {
    const { hops, port } = await mxHosts([{ greeting: 554 }, { greeting: 421 }]);
    const result = await attemptDelivery(hops, message(['x@dest.test']), options(port));
    expect(states(result)).toEqual(['x@dest.test deferred 4.0.0']);
  });

  it('nothing listening anywhere: deferred 4.4.1', async () => {
    const { hops, port } = await mxHosts([null, null]);
    const result = await attemptDelivery(hops, message(['x@dest.test']), options(port));
    expect(states(result)).toEqual(['x@dest.test deferred 4.4.1']);
  });

  it('STARTTLS that fails is retried in plaintext on the same host, and the fallback recorded', async () => {
    const { hops, port, peers: [first] } = await mxHosts([{ brokenTls: true }]);
    const result = await attemptDelivery(hops, message(['x@dest.test']), options(port));
    expect(states(result)).toEqual(['x@dest.test delivered 2.0.0']);
    expect(result.recipients[0]?.tls).toBeNull();
    expect(result.tried.map((t) => ({ address: t.address, tlsFallback: t.tlsFallback, failed: t.failure !== null }))).toEqual([
      { address: '127.0.0.41', tlsFallback: false, failed: true },
      { address: '127.0.0.41', tlsFallback: true, failed: false },
    ]);
    expect(first?.received.map((m) => m.tls)).toEqual([false]);
  });

  it('with STARTTLS required, a failed handshake never falls back: deferred 4.7.5', async () => {
    const { hops, port, peers: [first] } = await mxHosts([{ brokenTls: true }]);
    const result = await attemptDelivery(hops, message(['x@dest.test']), options(port, { startTls: 'required' }));
    expect(states(result)).toEqual(['x@dest.test deferred 4.7.5']);
    expect(first?.received).toEqual([]);
  });

  it('a smart host refusing the login (535) defers: a wrong password must not return every message', async () => {
    const { hops, port, peers: [first] } = await mxHosts([{ auth: { user: 'relay-user', pass: 'relay-secret' } }]);
    const result = await attemptDelivery(hops, message(['x@dest.test']), options(port, { auth: { user: 'relay-user', pass: 'wrong' } }));
    expect(states(result)).toEqual(['x@dest.test deferred 4.7.0']);
    expect(result.recipients[0]?.verdict.diagnostic).toMatch(/^535 /);
    expect(first?.received).toEqual([]);
  });

  it('a smart host whose STARTTLS fails: the plaintext fallback never logs in, and the mail waits', async () => {
    const { hops, port, peers: [first] } = await mxHosts([{ brokenTls: true, auth: { user: 'relay-user', pass: 'relay-secret' } }]);
    const result = await attemptDelivery(hops, message(['x@dest.test']), options(port, { auth: { user: 'relay-user', pass: 'relay-secret' } }));
    expect(states(result)).toEqual(['x@dest.test deferred 4.7.0']);
    expect(first?.received).toEqual([]);
  });

  it('a host that greets with this host’s own name is a mail loop: 5.4.6, nothing sent (as Postfix)', async () => {
    const { hops, port, peers: [first, second] } = await mxHosts([{ name: 'relay.origin.test' }, { name: 'other.dest.test' }]);
    const result = await attemptDelivery(hops, message(['x@dest.test']), options(port, { ownNames: ['relay.origin.test'] }));
    expect(states(result)).toEqual(['x@dest.test delivered 2.0.0']);
    expect(first?.received).toEqual([]);
    expect(result.tried[0]).toMatchObject({ address: '127.0.0.41', failure: expect.stringMatching(/loops back to this host/) });
    expect(second?.received).toHaveLength(1);

    const alone = await attemptDelivery(hops.slice(0, 1), message(['x@dest.test']), options(port, { ownNames: ['Relay.Origin.Test'] }));
    expect(states(alone)).toEqual(['x@dest.test failed 5.4.6']);
    expect(first?.received).toEqual([]);
  });

  it('a REQUIRETLS message is never sent over TLS whose certificate does not verify, nor in plaintext (RFC 8689 §4.2.1)', async () => {
    const { hops, port, peers: [first] } = await mxHosts([{ requireTls: true }]);
    const result = await attemptDelivery(hops, message(['x@dest.test'], { requireTls: true }), options(port));
    expect(states(result)).toEqual(['x@dest.test deferred 4.7.5']);
    expect(result.tried.map((t) => t.tlsFallback)).toEqual([false]);
    expect(first?.received).toEqual([]);
    // The same host takes other mail over opportunistic TLS.
    expect(states(await attemptDelivery(hops, message(['x@dest.test']), options(port)))).toEqual(['x@dest.test delivered 2.0.0']);
  });

  it('a REQUIRETLS message goes on past a host without REQUIRETLS to one with it, over verified TLS; refused by all: 5.7.30 (RFC 8689 §5)', async () => {
    const [one, two] = await Promise.all([selfSignedCertificate('mx1.dest.test'), selfSignedCertificate('mx2.dest.test')]);
    const { hops, port, peers: [first, second] } = await mxHosts([{ certificate: one }, { certificate: two, requireTls: true }]);
    const trusted = options(port, { tls: { ca: `${one.cert}\n${two.cert}` } });
    const result = await attemptDelivery(hops, message(['x@dest.test'], { requireTls: true }), trusted);
    expect(states(result)).toEqual(['x@dest.test delivered 2.0.0']);
    expect(first?.received).toEqual([]);
    expect(second?.received.map((m) => m.tls)).toEqual([true]);

    const refused = await attemptDelivery(hops.slice(0, 1), message(['x@dest.test'], { requireTls: true }), trusted);
    expect(states(refused)).toEqual(['x@dest.test failed 5.7.30']);
  });

  it('a REQUIRETLS message to a host whose STARTTLS fails is not retried in plaintext', async () => {
    const { hops, port, peers: [first] } = await mxHosts([{ brokenTls: true, requireTls: true }]);
    const result = await attemptDelivery(hops, message(['x@dest.test'], { requireTls: true }), options(port));
    expect(states(result)).toEqual(['x@dest.test deferred 4.7.5']);
    expect(first?.connections).toBe(1);
    expect(first?.received).toEqual([]);
  });

  it('an 8-bit message to a host without 8BITMIME fails 5.6.3 without sending it', async () => {
    const { hops, port, peers: [first] } = await mxHosts([{ hide8BitMime: true }]);
    const result = await attemptDelivery(hops, message(['x@dest.test'], { bodyType: '8BITMIME' }), options(port));
    expect(states(result)).toEqual(['x@dest.test failed 5.6.3']);
    expect(first?.received).toEqual([]);
  });
});

describe('sessions kept between messages', () => {
  const cache = (overrides: Partial<SessionCacheOptions> = {}): OutboundSessions => new OutboundSessions({ perDestination: 20, idleTimeout: 5_000, maxAge: 300_000, maxMessages: 100, ...overrides });
  let sessions: OutboundSessions[] = [];
  afterEach(async () => {
    await Promise.all(sessions.map((s) => s.close()));
    sessions = [];
  });
  const kept = (overrides: Partial<SessionCacheOptions> = {}): OutboundSessions => {
    const made = cache(overrides);
    sessions.push(made);
    return made;
  };

  it('a second message to a host goes over the first one’s session; past the message limit a new one opens', async () => {
    const { hops, port, peers: [first] } = await mxHosts([{}]);
    const cached = kept({ maxMessages: 2 });
    for (const to of ['x@dest.test', 'y@dest.test', 'z@dest.test']) {
      const result = await attemptDelivery(hops, message([to]), options(port, { sessions: cached }));
      expect(states(result)).toEqual([`${to} delivered 2.0.0`]);
      // Still encrypted when reused: the session's TLS is recorded for every message.
      expect(result.recipients[0]?.tls).toMatch(/^TLSv1\.[23]$/);
    }
    expect(first?.received.map((m) => m.to)).toEqual([['x@dest.test'], ['y@dest.test'], ['z@dest.test']]);
    expect(first?.connections).toBe(2);
    expect(cached.counts).toEqual({ opened: 2, reused: 1 });
  });

  it('a session the peer closed while idle is not used; one it closes as it is used is replaced at once', async () => {
    const script: PeerScript = {};
    const { hops, port, peers: [first] } = await mxHosts([script]);
    const cached = kept();
    await attemptDelivery(hops, message(['x@dest.test']), options(port, { sessions: cached }));
    expect(cached.idleCount).toBe(1);

    // Closed by the peer and seen closed: a new session.
    first?.drop();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await attemptDelivery(hops, message(['y@dest.test']), options(port, { sessions: cached })).then((result) => expect(states(result)).toEqual(['y@dest.test delivered 2.0.0']));
    expect(first?.connections).toBe(2);

    // Closed as MAIL is sent on it: the message goes over a new session, and the host is not
    // left (no failure recorded against it).
    script.dropAtMail = 1;
    const result = await attemptDelivery(hops, message(['z@dest.test']), options(port, { sessions: cached }));
    expect(states(result)).toEqual(['z@dest.test delivered 2.0.0']);
    expect(result.tried.map((t) => t.failure)).toEqual([null]);
    expect(first?.received.map((m) => m.to)).toEqual([['x@dest.test'], ['y@dest.test'], ['z@dest.test']]);
  });

  it('a host whose STARTTLS failed gets plaintext at once for the memory time, recorded as a fallback', async () => {
    const { hops, port, peers: [first] } = await mxHosts([{ brokenTls: true }]);
    // No idle sessions kept: each message opens its own, so the memory is what decides.
    const cached = kept({ idleTimeout: 0, tlsFailureMemory: 60_000 });
    const firstTry = await attemptDelivery(hops, message(['x@dest.test']), options(port, { sessions: cached }));
    expect(firstTry.tried.map((t) => t.tlsFallback)).toEqual([false, true]);
    const connections = first?.connections ?? 0;

    const next = await attemptDelivery(hops, message(['y@dest.test']), options(port, { sessions: cached }));
    expect(states(next)).toEqual(['y@dest.test delivered 2.0.0']);
    // One connection, in plaintext, no failed handshake first.
    expect(next.tried.map((t) => ({ tlsFallback: t.tlsFallback, failed: t.failure !== null }))).toEqual([{ tlsFallback: true, failed: false }]);
    expect(first?.connections).toBe(connections + 1);

    // Without the memory, every message pays the failed handshake again.
    const forgetful = kept({ idleTimeout: 0, tlsFailureMemory: 0 });
    await attemptDelivery(hops, message(['z@dest.test']), options(port, { sessions: forgetful }));
    const again = await attemptDelivery(hops, message(['w@dest.test']), options(port, { sessions: forgetful }));
    expect(again.tried.map((t) => t.tlsFallback)).toEqual([false, true]);
  });

  it('an idle session is closed after the idle time', async () => {
    const { hops, port, peers: [first] } = await mxHosts([{}]);
    const cached = kept({ idleTimeout: 100 });
    // In plaintext: the peer's count of open sockets does not follow a socket upgraded to TLS.
    await attemptDelivery(hops, message(['x@dest.test']), options(port, { sessions: cached, startTls: 'never' }));
    expect(first?.open()).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(cached.idleCount).toBe(0);
    expect(first?.open()).toBe(0);
  });

  it('a REQUIRETLS message never goes over a shared session', async () => {
    const { hops, port, peers: [first] } = await mxHosts([{}]);
    const cached = kept();
    await attemptDelivery(hops, message(['x@dest.test']), options(port, { sessions: cached }));
    const result = await attemptDelivery(hops, message(['y@dest.test'], { requireTls: true }), options(port, { sessions: cached }));
    // Refused (the peer's certificate does not verify), and not over the cached session.
    expect(result.recipients[0]?.verdict.state).not.toBe('delivered');
    expect(cached.counts.reused).toBe(0);
    expect(first?.received).toHaveLength(1);
  });
});
