/**
 * DANE (RFC 7672) through a whole relay agent against a real DNSSEC world: NSD serves the signed
 * zone `test.` (MX, addresses, TLSA, MTA-STS TXT records) and an unsigned child zone; unbound
 * validates it with a local trust anchor and is the relay's only resolver; nodemailer's
 * smtp-server receives the mail over STARTTLS.
 *
 * DANE-EE with a self-signed, expired certificate for another name is delivered; DANE-TA with
 * the CA in the chain is delivered; a certificate that matches no TLSA record defers the mail
 * (4.7.5) and sends nothing, even though it verifies under PKIX; a bogus TLSA answer leaves the
 * host; TLSA records in an unsigned zone are not used; DANE takes precedence over an MTA-STS
 * policy that would refuse the host; a resolver that does not validate turns DANE off with one
 * log line.
 */
import { X509Certificate, createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { generate } from 'selfsigned';
import { sharedPort } from '@mailway/testing/ports';
import { waitFor } from '@mailway/testing/wait';
import { type Harness, lastAttempt, sendThrough, settled, startOutboundRelay } from './support/harness.js';
import { type DnssecWorld, startDnssecWorld } from './support/dnssec.js';
import { type Peer, type PeerScript, startPeer } from './support/peers.js';
import { type PolicyServer, startPolicyServer } from './support/policy-server.js';
import { type TestCa, createTestCa } from './support/test-ca.js';

const addresses = { policy: '127.0.0.90', ee: '127.0.0.91', ta: '127.0.0.92', bad: '127.0.0.93', insecure: '127.0.0.94', both: '127.0.0.95', bogus: '127.0.0.96' } as const;

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const spkiHash = (pem: string): string => sha256(new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' }));
const certHash = (pem: string): string => sha256(new X509Certificate(pem).raw);

let ca: TestCa;
let dns: DnssecWorld;
let port: number;
let policyServer: PolicyServer;
/** Certificates each MX host presents. */
const certificates: Record<string, { key: string; cert: string }> = {};

beforeAll(async () => {
  ca = await createTestCa();
  port = await sharedPort(Object.values(addresses));
  const now = Date.now();
  // DANE-EE needs neither a CA, nor the right name, nor dates.
  const selfSigned = await generate([{ name: 'commonName', value: 'unrelated.example' }], { keyType: 'ec', algorithm: 'sha256', notBeforeDate: new Date(now - 3 * 86_400_000), notAfterDate: new Date(now - 86_400_000) });
  certificates.ee = { key: selfSigned.private, cert: selfSigned.cert };
  certificates.both = certificates.ee;
  const ta = await ca.issue(['mx.ta.test']);
  // DANE-TA: the server sends the CA's certificate after its own (RFC 7672 §3.1.2).
  certificates.ta = { key: ta.key, cert: `${ta.cert}\n${ca.cert}` };
  certificates.bad = await ca.issue(['mx.bad.test']);
  certificates.insecure = await ca.issue(['mx.insecure.test']);
  certificates.bogus = certificates.ee;
  const unrelated = '00'.repeat(32);
  const tlsa = (host: string, data: string, usage = 3, selector = 1) => `_${port}._tcp.${host} IN TLSA ${usage} ${selector} 1 ${data}`;

  dns = await startDnssecWorld(
    [
      ...(['ee', 'ta', 'bad', 'both', 'bogus'] as const).flatMap((name) => [`${name} IN MX 10 mx.${name}`, `mx.${name} IN A ${addresses[name]}`]),
      tlsa('mx.ee', spkiHash(selfSigned.cert)),
      tlsa('mx.ta', certHash(ca.cert), 2, 0),
      // The key of another certificate: mx.bad's own certificate verifies under PKIX, and matches nothing here.
      tlsa('mx.bad', spkiHash(ta.cert)),
      tlsa('mx.both', spkiHash(selfSigned.cert)),
      tlsa('mx.bogus', spkiHash(certificates.insecure.cert)),
      // An MTA-STS policy for both.test that names another MX host.
      '_mta-sts.both IN TXT "v=STSv1; id=1"',
      `mta-sts.both IN A ${addresses.policy}`,
    ],
    ['@ IN MX 10 mx', `mx IN A ${addresses.insecure}`, `_${port}._tcp.mx IN TLSA 3 1 1 ${unrelated}`],
    // mx.bogus's TLSA record changed after signing to match its certificate: the signature no longer holds.
    [[spkiHash(certificates.insecure.cert), spkiHash(selfSigned.cert)]],
  );
  policyServer = await startPolicyServer(addresses.policy, port, await ca.issue(['mta-sts.both.test']));
  policyServer.answers.set('mta-sts.both.test', { policy: 'version: STSv1\nmode: enforce\nmx: other.both.test\nmax_age: 86400\n' });
});
afterAll(async () => {
  await policyServer?.close();
  await dns?.stop();
  ca?.remove();
});

async function peer(name: keyof typeof addresses, script: PeerScript = {}): Promise<Peer> {
  const started = await startPeer(addresses[name], port, { certificate: certificates[name], ...script });
  onTestFinished(() => started.close());
  return started;
}

async function relay(env: Record<string, string> = {}): Promise<Harness> {
  const h = await startOutboundRelay(dns.resolver, port, {
    RELAY_OUTBOUND_DANE_PROBE: 'test.',
    RELAY_OUTBOUND_TLS_CA: ca.file,
    RELAY_OUTBOUND_MTA_STS_TEST_HTTPS_PORT: String(port),
    RELAY_OUTBOUND_MTA_STS_RECHECK: '0',
    ...env,
  });
  onTestFinished(() => h.close());
  return h;
}

describe('DANE', () => {
  it('DANE-EE: a self-signed, expired certificate for another name whose key matches is delivered over TLS', async () => {
    const mx = await peer('ee');
    const h = await relay();
    const queueId = await sendThrough(h, 'bob@local.example', ['x@ee.test']);
    await waitFor('delivered', settled(h, queueId));
    expect(mx.received.map((m) => m.tls)).toEqual([true]);
    expect(await h.metric(/^mailway_relay_outbound_tls_policy_total\{.*policy="dane",mode="enforce",result="success",/)).toBe(1);
  });

  it('DANE-TA: a certificate issued by the CA the TLSA record names is delivered', async () => {
    const mx = await peer('ta');
    const h = await relay();
    const queueId = await sendThrough(h, 'bob@local.example', ['x@ta.test']);
    await waitFor('delivered', settled(h, queueId));
    expect(mx.received.map((m) => m.tls)).toEqual([true]);
  });

  it('a certificate that matches no TLSA record defers the mail with 4.7.5 and sends nothing, though it verifies under PKIX', async () => {
    const mx = await peer('bad');
    const h = await relay();
    const queueId = await sendThrough(h, 'bob@local.example', ['x@bad.test']);
    const last = await lastAttempt(h, queueId);
    expect(last).toMatchObject({ state: 'deferred', status: '4.7.5' });
    expect(last.diagnostic).toContain('does not match its TLSA records');
    expect(mx.connections).toBeGreaterThanOrEqual(1);
    expect(mx.received).toEqual([]);
    expect(h.logs.some((l) => l.msg === 'DANE not met; host not used' && l.host === 'mx.bad.test')).toBe(true);
  });

  it('a bogus TLSA answer (its signature does not hold) leaves the host unused: 4.7.5, no connection', async () => {
    const mx = await peer('bogus');
    const h = await relay();
    const queueId = await sendThrough(h, 'bob@local.example', ['x@bogus.test']);
    const last = await lastAttempt(h, queueId);
    expect(last).toMatchObject({ state: 'deferred', status: '4.7.5' });
    expect(last.diagnostic).toContain('TLSA lookup');
    expect(mx.connections).toBe(0);
  });

  it('TLSA records in a zone without DNSSEC are not used: opportunistic TLS', async () => {
    const mx = await peer('insecure');
    const h = await relay();
    const queueId = await sendThrough(h, 'bob@local.example', ['x@insecure.test']);
    await waitFor('delivered', settled(h, queueId));
    expect(mx.received.map((m) => m.tls)).toEqual([true]);
    expect(await h.metric(/^mailway_relay_outbound_dane_lookups_total\{.*outcome="none",/)).toBe(1);
  });

  it('takes precedence over an MTA-STS policy (RFC 8461 §2), which without DANE leaves the host', async () => {
    const mx = await peer('both');
    const h = await relay();
    const queueId = await sendThrough(h, 'bob@local.example', ['x@both.test']);
    await waitFor('delivered', settled(h, queueId));
    expect(mx.received).toHaveLength(1);

    const withoutDane = await relay({ RELAY_OUTBOUND_DANE: 'off' });
    const refused = await sendThrough(withoutDane, 'bob@local.example', ['y@both.test']);
    expect(await lastAttempt(withoutDane, refused)).toMatchObject({ state: 'deferred', status: '4.7.5' });
    expect(mx.received).toHaveLength(1);
  });

  it('applies while the probe is unanswered (here the root, which this resolver cannot reach): the AD bit of each answer decides', async () => {
    const mx = await peer('bad');
    const h = await relay({ RELAY_OUTBOUND_DANE_PROBE: '.' });
    const queueId = await sendThrough(h, 'bob@local.example', ['x@bad.test']);
    expect(await lastAttempt(h, queueId)).toMatchObject({ state: 'deferred', status: '4.7.5' });
    expect(mx.received).toEqual([]);
  });

  it('is off, said once in the log, when the resolver does not validate (no AD bit)', async () => {
    const mx = await peer('bad');
    const h = await relay({ RELAY_OUTBOUND_DNSSEC_RESOLVER: dns.authority });
    const first = await sendThrough(h, 'bob@local.example', ['x@bad.test']);
    const second = await sendThrough(h, 'bob@local.example', ['y@bad.test']);
    await waitFor('delivered', settled(h, first));
    await waitFor('delivered', settled(h, second));
    expect(mx.received).toHaveLength(2);
    expect(h.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('DANE off'))).toHaveLength(1);
  });
});
