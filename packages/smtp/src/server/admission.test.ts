/**
 * Connection limits on a real server over loopback, with clients bound to distinct local
 * addresses (127.0.0.2 the greedy host, 127.0.0.3 an honest one): the connection over a limit
 * reads its 421 and is closed, never silently; everyone else is greeted and delivers mail.
 */
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../../test/support/server.js';
import type { RawClient } from '../../test/support/raw-client.js';
import { selfSignedCert } from '../../test/helpers/certs.js';
import type { Refusal, ServerOptions } from './index.js';

let current: TestServer | null = null;

afterEach(async () => {
  await current?.close();
  current = null;
});

async function start(options: ServerOptions): Promise<TestServer> {
  current = await startServer(options);
  return current;
}

/** A client from `from` that has read its greeting. */
async function greeted(server: TestServer, from: string, tls = false): Promise<RawClient> {
  const client = await server.connect(tls, from);
  expect(await client.line(10_000)).toBe('220 mx.test ESMTP ready');
  return client;
}

/** A client from `from` that reads exactly `reply` and is then closed by the server. */
async function refused(server: TestServer, from: string, reply: string, tls = false): Promise<void> {
  const client = await server.connect(tls, from);
  expect(await client.line(10_000)).toBe(reply);
  expect(await client.line(10_000)).toBeNull();
  await client.waitClosed(10_000);
}

/** EHLO, one message, QUIT; the server stored it. */
async function deliver(server: TestServer, client: RawClient, subject: string): Promise<void> {
  client.write('EHLO honest.test\r\n');
  let line = await client.line(10_000);
  while (line?.startsWith('250-')) line = await client.line(10_000);
  expect(line).toMatch(/^250 /);
  client.write('MAIL FROM:<a@honest.test>\r\nRCPT TO:<b@mx.test>\r\nDATA\r\n');
  expect(await client.line(10_000)).toBe('250 2.1.0 Sender OK');
  expect(await client.line(10_000)).toBe('250 2.1.5 Recipient OK');
  expect(await client.line(10_000)).toMatch(/^354 /);
  client.write(`Subject: ${subject}\r\n\r\nHello.\r\n.\r\nQUIT\r\n`);
  expect(await client.line(10_000)).toMatch(/^250 /);
  expect(await client.line(10_000)).toMatch(/^221 /);
  expect(server.received.some((m) => m.body.toString().includes(`Subject: ${subject}`))).toBe(true);
}

describe('connections per client', () => {
  it('answers the connections over the limit from 127.0.0.2 with 421 4.7.0, while 127.0.0.3 is greeted and delivers', async () => {
    const refusals: Refusal[] = [];
    const server = await start({ admission: { perClient: 3, onRefuse: (r) => refusals.push(r) } });
    const held = [];
    for (let i = 0; i < 3; i += 1) held.push(await greeted(server, '127.0.0.2'));
    for (let i = 0; i < 2; i += 1) await refused(server, '127.0.0.2', '421 4.7.0 mx.test Too many connections from your host');

    const honest = await greeted(server, '127.0.0.3');
    await deliver(server, honest, 'from the honest host');
    expect(refusals.map((r) => [r.kind, r.client, r.limit, r.repeat])).toEqual([
      ['client-sessions', '127.0.0.2', 3, 1],
      ['client-sessions', '127.0.0.2', 3, 2],
    ]);

    // One of the greedy host's sessions ends: its next connection has a place again.
    held[0]?.write('QUIT\r\n');
    await held[0]?.waitClosed(10_000);
    await waitFor(() => server.server.connections === 2);
    await greeted(server, '127.0.0.2');
  });
});

describe('new connections per client per minute', () => {
  it('refuses the fourth connection in a minute with 421 4.7.0, even after the first three closed', async () => {
    const server = await start({ admission: { perClientPerMinute: 3 } });
    for (let i = 0; i < 3; i += 1) {
      const client = await greeted(server, '127.0.0.2');
      client.write('QUIT\r\n');
      await client.waitClosed(10_000);
    }
    await refused(server, '127.0.0.2', '421 4.7.0 mx.test Too many new connections from your host, try again later');
    await deliver(server, await greeted(server, '127.0.0.3'), 'rate-limited neighbour');
  });
});

describe('session cap per listener', () => {
  it('answers 421 4.3.2 at once when the listener is full, whoever connects', async () => {
    const server = await start({ admission: { maxSessions: 2, perClient: 10 } });
    const first = await greeted(server, '127.0.0.2');
    await greeted(server, '127.0.0.3');
    await refused(server, '127.0.0.4', '421 4.3.2 mx.test Too busy, try later');
    await refused(server, '127.0.0.2', '421 4.3.2 mx.test Too busy, try later');
    first.write('QUIT\r\n');
    await first.waitClosed(10_000);
    await waitFor(() => server.server.connections === 1);
    await deliver(server, await greeted(server, '127.0.0.4'), 'after a place came free');
  });

  it('exempts networks from the per-client limit only', async () => {
    const server = await start({ admission: { perClient: 1, exempt: ['127.0.0.2/32'] } });
    await greeted(server, '127.0.0.2');
    await greeted(server, '127.0.0.2');
    await greeted(server, '127.0.0.3');
    await refused(server, '127.0.0.3', '421 4.7.0 mx.test Too many connections from your host');
  });
});

describe('implicit TLS', () => {
  it('writes the 421 inside TLS once the handshake is done, so the client can read it', async () => {
    const { key, cert } = await selfSignedCert();
    const server = await start({ tls: { key, cert }, secure: true, admission: { perClient: 1 } });
    const held = await greeted(server, '127.0.0.2', true);
    await refused(server, '127.0.0.2', '421 4.7.0 mx.test Too many connections from your host', true);
    await deliver(server, await greeted(server, '127.0.0.3', true), 'over implicit TLS');
    held.close();
    await waitFor(() => server.server.connections === 0);

    // A connection still in its handshake holds its place; once it goes, the place is free.
    const silent = connect({ port: server.port, host: '127.0.0.1', localAddress: '127.0.0.2' });
    await new Promise((resolve) => silent.once('connect', resolve));
    await refused(server, '127.0.0.2', '421 4.7.0 mx.test Too many connections from your host', true);
    silent.destroy();
    await waitFor(() => silent.destroyed);
    await retry(() => greeted(server, '127.0.0.2', true));
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Runs `attempt` until it succeeds (the server learns of a client's close a moment after it). */
async function retry<T>(attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
