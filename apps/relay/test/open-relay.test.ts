/**
 * The open-relay probe suite: from an untrusted client (not authenticated, not in
 * RELAY_NETWORKS), every classic trick for getting mail relayed through a local domain is
 * refused with its exact reply, and the tricks that are accepted (they name a local mailbox)
 * are delivered locally: no outbound job is ever made.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dialog } from '@mailway/testing/dialog';
import { type Harness, message, queueIdOf, startRelay } from './support/harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startRelay();
});
afterAll(async () => {
  await h.close();
});

const denied = { status: '554 5.7.1', text: 'Relay access denied' };
const unknown = (address: string) => ({ status: '550 5.1.1', text: `<${address}>: Recipient address rejected: User unknown` });
const badSyntax = { status: '501 5.1.3', text: 'Bad recipient address syntax' };

const probes = [
  { trick: 'plain remote domain', rcpt: '<carol@remote.example>', expected: denied },
  { trick: 'remote domain, mixed case', rcpt: '<carol@Remote.Example>', expected: denied },
  { trick: 'percent hack', rcpt: '<carol%remote.example@local.example>', expected: unknown('carol%remote.example@local.example') },
  { trick: 'percent hack, upper-case local domain', rcpt: '<carol%remote.example@LOCAL.EXAMPLE>', expected: unknown('carol%remote.example@LOCAL.EXAMPLE') },
  { trick: 'percent hack naming a real user', rcpt: '<bob%remote.example@local.example>', expected: unknown('bob%remote.example@local.example') },
  { trick: 'bang path', rcpt: '<remote.example!carol@local.example>', expected: unknown('remote.example!carol@local.example') },
  { trick: 'bang path and percent hack', rcpt: '<remote.example!carol%other.example@local.example>', expected: unknown('remote.example!carol%other.example@local.example') },
  { trick: 'source route through a local domain', rcpt: '<@local.example:carol@remote.example>', expected: denied },
  { trick: 'source route with two hops', rcpt: '<@mx.local.example,@local.example:carol@remote.example>', expected: denied },
  { trick: 'quoted local part holding an @', rcpt: '<"carol@remote.example"@local.example>', expected: unknown('"carol@remote.example"@local.example') },
  { trick: 'quoted local part holding a %', rcpt: '<"carol%remote.example"@local.example>', expected: unknown('"carol%remote.example"@local.example') },
  { trick: 'quoted local part with an escaped @', rcpt: '<"carol\\@remote.example"@local.example>', expected: unknown('"carol\\@remote.example"@local.example') },
  { trick: 'IPv4 address literal', rcpt: '<carol@[192.0.2.1]>', expected: denied },
  { trick: 'address literal of this host', rcpt: '<bob@[127.0.0.1]>', expected: denied },
  { trick: 'IPv6 address literal', rcpt: '<carol@[IPv6:2001:db8::1]>', expected: denied },
  { trick: 'trailing dot, remote domain', rcpt: '<carol@remote.example.>', expected: badSyntax },
  { trick: 'trailing dot, local domain', rcpt: '<bob@local.example.>', expected: badSyntax },
  { trick: 'two @ signs', rcpt: '<carol@remote.example@local.example>', expected: badSyntax },
  { trick: 'a local domain as a subdomain of a remote one', rcpt: '<carol@local.example.remote.example>', expected: denied },
  { trick: 'a remote domain as a subdomain of a local one', rcpt: '<carol@remote.local.example>', expected: denied },
] as const;

describe('open-relay probes from an untrusted client', () => {
  it.each(probes)('$trick: RCPT TO:$rcpt → $expected.status', async ({ rcpt, expected }) => {
    const { dialog } = await Dialog.open(h.agent.port);
    await dialog.command('EHLO probe.example');
    expect((await dialog.command('MAIL FROM:<spammer@remote.example>')).code).toBe(250);
    const reply = await dialog.command(`RCPT TO:${rcpt}`);
    expect({ status: reply.status, text: reply.text }).toEqual(expected);
    // With no recipient accepted there is nothing to send.
    expect((await dialog.command('DATA')).status).toBe('554 5.5.1');
    await dialog.close();
  });

  it('delivers the accepted spellings of a local mailbox locally, and never makes an outbound job', async () => {
    const { dialog } = await Dialog.open(h.agent.port);
    await dialog.command('EHLO probe.example');
    await dialog.command('MAIL FROM:<spammer@remote.example>');
    // Case games name the local user; a source route is ignored (RFC 5321 appendix C).
    expect((await dialog.command('RCPT TO:<BOB@LOCAL.EXAMPLE>')).status).toBe('250 2.1.5');
    expect((await dialog.command('RCPT TO:<@remote.example:dave@second.example>')).status).toBe('250 2.1.5');
    for (const probe of probes) expect((await dialog.command(`RCPT TO:${probe.rcpt}`)).status).toBe(probe.expected.status);
    const reply = await dialog.data(message());
    expect(reply.status).toBe('250 2.0.0');
    await dialog.close();

    // The transfer worker routes both to local delivery.
    const queueId = queueIdOf(reply.text);
    const [transfer] = (await h.jobs('transfer')).filter((j) => j.data.queueId === queueId);
    expect(transfer?.data.envelope.recipients.map((r) => r.address)).toEqual(['BOB@LOCAL.EXAMPLE', 'dave@second.example']);
    const deliveries = await h.waitForJobs('delivery', 2, queueId);
    expect(deliveries.map((j) => j.data.recipient.address).sort()).toEqual(['BOB@LOCAL.EXAMPLE', 'dave@second.example']);
    expect(await h.jobs('outbound')).toEqual([]);
    expect(await h.metric(/^mailway_relay_rejections_total\{.*reason="relay_denied"/)).toBeGreaterThanOrEqual(probes.filter((p) => p.expected === denied).length);
  });
});
