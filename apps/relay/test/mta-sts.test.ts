/**
 * MTA-STS (RFC 8461) against real peers: dnsmasq serves the `_mta-sts` TXT records, MX and
 * address records; node's HTTPS server serves the policy files with a certificate from a
 * private CA; nodemailer's smtp-server receives the mail over STARTTLS with certificates from
 * the same CA (or names that do not match); Redis holds the policy cache.
 *
 * First the discovery alone (fetch rules, cache, fallbacks), then mail through a whole relay
 * agent: enforce with a good certificate is delivered over TLS; a certificate for another name,
 * or an MX host the policy does not name, defers the mail and sends nothing; testing mode
 * delivers and logs; a cached policy still applies when its server is down.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { dnsmasqForTests } from '@mailway/testing/dns';
import { testRedis } from '@mailway/testing/redis';
import { waitFor } from '@mailway/testing/wait';
import { MtaStsPolicies } from '../src/outbound/security/mta-sts.js';
import { type Harness, lastAttempt, sendThrough, settled, startOutboundRelay } from './support/harness.js';
import { type Peer, startPeer } from './support/peers.js';
import { type PolicyServer, startPolicyServer } from './support/policy-server.js';
import { type TestCa, createTestCa } from './support/test-ca.js';

const addresses = { policy: '127.0.0.80', good: '127.0.0.81', badname: '127.0.0.82', unlisted: '127.0.0.83', testing: '127.0.0.84', cached: '127.0.0.85' } as const;
const policyDomains = ['good', 'badname', 'unlisted', 'testing', 'cached', 'redirect', 'badtype', 'big', 'invalid', 'down', 'changed', 'slow', 'optout'].map((name) => `${name}.test`);
const mxDomains = ['good', 'badname', 'unlisted', 'testing', 'cached'] as const;

const world = dnsmasqForTests(
  {
    mx: mxDomains.map((name) => [`${name}.test`, `mx.${name}.test`, 10] as const),
    hosts: [
      ...mxDomains.map((name) => [`mx.${name}.test`, addresses[name]] as const),
      ...policyDomains.map((domain) => [`mta-sts.${domain}`, addresses.policy] as const),
      ['mta-sts.nosts.test', addresses.policy],
    ],
    txt: [...policyDomains.map((domain) => [`_mta-sts.${domain}`, domain === 'changed.test' ? 'v=STSv1; id=2' : 'v=STSv1; id=1'] as const), ['_mta-sts.nosts.test', 'v=spf1 -all']],
  },
  Object.values(addresses),
);

const enforce = (mx: string, maxAge = 86400) => `version: STSv1\r\nmode: enforce\r\nmx: ${mx}\r\nmax_age: ${maxAge}\r\n`;

let ca: TestCa;
let server: PolicyServer;
beforeAll(async () => {
  ca = await createTestCa();
  server = await startPolicyServer(addresses.policy, world.port, await ca.issue([...policyDomains, 'nosts.test'].map((domain) => `mta-sts.${domain}`)));
});
afterAll(async () => {
  await server?.close();
  ca?.remove();
});

describe('policy discovery and cache', () => {
  // Its keys are deleted after the file.
  const { redis, prefix } = testRedis();
  const policies = () => new MtaStsPolicies({ redis, prefix, dns: world.dns.resolver(), lookAgainMs: 0, fetch: { port: world.port, timeout: 2_000, ca: [ca.cert] } });

  it('fetches the policy a TXT record announces, caches it in Redis for max_age, and uses the cache while the id stays', async () => {
    server.answers.set('mta-sts.good.test', { policy: enforce('*.good.test', 600) });
    const sts = policies();
    expect(await sts.policyFor('good.test')).toMatchObject({ kind: 'policy', id: '1', source: 'fetched', policy: { mode: 'enforce', mx: ['*.good.test'], maxAge: 600 } });
    const ttl = await redis.pttl(`${prefix}outbound:mta-sts:good.test`);
    expect(ttl).toBeGreaterThan(590_000);
    expect(ttl).toBeLessThanOrEqual(600_000);
    const before = server.requests.get('mta-sts.good.test');
    expect(await sts.policyFor('good.test')).toMatchObject({ kind: 'policy', source: 'cached' });
    expect(server.requests.get('mta-sts.good.test')).toBe(before);
  });

  it('fetches again when the TXT id differs from the cached policy’s', async () => {
    await redis.set(`${prefix}outbound:mta-sts:changed.test`, JSON.stringify({ id: '1', policy: { mode: 'testing', mx: ['old.changed.test'], maxAge: 600 }, fetchedAt: '' }), 'PX', 600_000);
    server.answers.set('mta-sts.changed.test', { policy: enforce('new.changed.test') });
    expect(await policies().policyFor('changed.test')).toMatchObject({ kind: 'policy', id: '2', source: 'fetched', policy: { mode: 'enforce', mx: ['new.changed.test'] } });
  });

  it('keeps using a cached policy when the fetch fails, and has none without one (RFC 8461 §5.1)', async () => {
    server.answers.set('mta-sts.down.test', { drop: true });
    expect(await policies().policyFor('down.test')).toMatchObject({ kind: 'none', source: 'failed' });
    await redis.set(`${prefix}outbound:mta-sts:down.test`, JSON.stringify({ id: '0', policy: { mode: 'enforce', mx: ['mx.down.test'], maxAge: 600 }, fetchedAt: '' }), 'PX', 600_000);
    expect(await policies().policyFor('down.test')).toMatchObject({ kind: 'policy', source: 'cached_after_failure', policy: { mode: 'enforce' } });
  });

  it('does not follow a redirect', async () => {
    server.answers.set('mta-sts.redirect.test', { redirect: `https://mta-sts.good.test:${world.port}/.well-known/mta-sts.txt` });
    expect(await policies().policyFor('redirect.test')).toMatchObject({ kind: 'none', detail: expect.stringContaining('redirect, not followed') });
  });

  it('takes only text/plain', async () => {
    server.answers.set('mta-sts.badtype.test', { policy: enforce('mx.badtype.test'), type: 'text/html' });
    expect(await policies().policyFor('badtype.test')).toMatchObject({ kind: 'none', detail: expect.stringContaining('not text/plain') });
  });

  it('refuses a policy larger than 64 KB', async () => {
    server.answers.set('mta-sts.big.test', { policy: `${enforce('mx.big.test')}${'x-padding: 0123456789abcdef\r\n'.repeat(2_500)}` });
    expect(await policies().policyFor('big.test')).toMatchObject({ kind: 'none', detail: expect.stringContaining('larger than 65536') });
  });

  it('gives up a fetch that takes longer than its time limit', async () => {
    server.answers.set('mta-sts.slow.test', { hang: true });
    const sts = new MtaStsPolicies({ redis, prefix, dns: world.dns.resolver(), lookAgainMs: 0, fetch: { port: world.port, timeout: 300, ca: [ca.cert] } });
    const started = Date.now();
    expect(await sts.policyFor('slow.test')).toMatchObject({ kind: 'none', source: 'failed', detail: expect.stringContaining('no complete answer within 300 ms') });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('caches a policy in mode none like any other', async () => {
    server.answers.set('mta-sts.optout.test', { policy: 'version: STSv1\nmode: none\nmax_age: 600\n' });
    expect(await policies().policyFor('optout.test')).toMatchObject({ kind: 'policy', source: 'fetched', policy: { mode: 'none', mx: [] } });
    expect(await policies().policyFor('optout.test')).toMatchObject({ kind: 'policy', source: 'cached', policy: { mode: 'none' } });
  });

  it('ignores an invalid policy', async () => {
    server.answers.set('mta-sts.invalid.test', { policy: 'version: STSv1\r\nmode: enforce\r\nmax_age: 600\r\n' });
    expect(await policies().policyFor('invalid.test')).toMatchObject({ kind: 'none', detail: expect.stringContaining('no mx field') });
  });

  it('needs the policy server’s certificate to chain to a trusted root', async () => {
    server.answers.set('mta-sts.good.test', { policy: enforce('*.good.test') });
    const untrusting = new MtaStsPolicies({ redis, prefix: `${prefix}other:`, dns: world.dns.resolver(), lookAgainMs: 0, fetch: { port: world.port, timeout: 2_000 } });
    expect(await untrusting.policyFor('good.test')).toMatchObject({ kind: 'none', source: 'failed', detail: expect.stringMatching(/certificate/i) });
  });

  it('has no policy without a v=STSv1 record', async () => {
    expect(await policies().policyFor('nosts.test')).toMatchObject({ kind: 'none', source: 'none' });
    expect(await policies().policyFor('unknown.test')).toMatchObject({ kind: 'none', source: 'none' });
  });
});

describe('mail to domains with an MTA-STS policy', () => {
  async function peer(address: string, names: readonly string[]): Promise<Peer> {
    const started = await startPeer(address, world.port, { certificate: await ca.issue(names) });
    onTestFinished(() => started.close());
    return started;
  }

  async function relay(env: Record<string, string> = {}): Promise<Harness> {
    const h = await startOutboundRelay(world.dns.address, world.port, {
      RELAY_OUTBOUND_TLS_CA: ca.file,
      RELAY_OUTBOUND_MTA_STS_TEST_HTTPS_PORT: String(world.port),
      RELAY_OUTBOUND_MTA_STS_RECHECK: '0',
      RELAY_OUTBOUND_MTA_STS_TIMEOUT: '2s',
      ...env,
    });
    onTestFinished(() => h.close());
    return h;
  }

  it('enforce, MX named and certificate good: delivered over TLS', async () => {
    server.answers.set('mta-sts.good.test', { policy: enforce('*.good.test') });
    const mx = await peer(addresses.good, ['mx.good.test']);
    const h = await relay();
    const queueId = await sendThrough(h, 'bob@local.example', ['x@good.test']);
    await waitFor('delivered', settled(h, queueId));
    expect(mx.received.map((m) => [m.to, m.tls])).toEqual([[['x@good.test'], true]]);
    expect(await h.metric(/^mailway_relay_outbound_tls_policy_total\{.*policy="mta-sts",mode="enforce",result="success",/)).toBe(1);
    expect(h.logs.some((l) => l.msg === 'MTA-STS policy fetched' && l.domain === 'good.test' && l.mode === 'enforce')).toBe(true);
  });

  it('enforce, certificate for another name: deferred with 4.7.5, nothing sent in plaintext', async () => {
    server.answers.set('mta-sts.badname.test', { policy: enforce('mx.badname.test') });
    const mx = await peer(addresses.badname, ['someone-else.test']);
    const h = await relay();
    const queueId = await sendThrough(h, 'bob@local.example', ['x@badname.test']);
    const last = await lastAttempt(h, queueId);
    expect(last).toMatchObject({ state: 'deferred', status: '4.7.5' });
    expect(last.diagnostic).toContain('certificate of mx.badname.test not verified');
    expect(mx.connections).toBeGreaterThanOrEqual(1);
    expect(mx.received).toEqual([]);
    expect(h.logs.some((l) => l.msg === 'MTA-STS policy not met; host not used' && l.result === 'certificate-host-mismatch')).toBe(true);
  });

  it('with RELAY_OUTBOUND_MTA_STS=false no policy is looked up: the certificate for another name is taken, as opportunistic TLS does', async () => {
    server.answers.set('mta-sts.badname.test', { policy: enforce('mx.badname.test') });
    const mx = await peer(addresses.badname, ['someone-else.test']);
    const h = await relay({ RELAY_OUTBOUND_MTA_STS: 'false' });
    const queueId = await sendThrough(h, 'bob@local.example', ['x@badname.test']);
    await waitFor('delivered', settled(h, queueId));
    expect(mx.received.map((m) => m.tls)).toEqual([true]);
    expect(await h.metric(/^mailway_relay_outbound_mta_sts_lookups_total\{/)).toBe(0);
  });

  it('enforce, MX host not named in the policy: deferred with 4.7.5, no connection made', async () => {
    server.answers.set('mta-sts.unlisted.test', { policy: enforce('mail.unlisted.test') });
    const mx = await peer(addresses.unlisted, ['mx.unlisted.test']);
    const h = await relay();
    const queueId = await sendThrough(h, 'bob@local.example', ['x@unlisted.test']);
    const last = await lastAttempt(h, queueId);
    expect(last).toMatchObject({ state: 'deferred', status: '4.7.5' });
    expect(last.diagnostic).toContain('named in its MTA-STS policy');
    expect(mx.connections).toBe(0);
    expect(await h.metric(/^mailway_relay_outbound_tls_policy_total\{.*policy="mta-sts",mode="enforce",result="validation-failure",/)).toBeGreaterThanOrEqual(1);
  });

  it('testing, certificate for another name: delivered as without a policy, and logged', async () => {
    server.answers.set('mta-sts.testing.test', { policy: 'version: STSv1\nmode: testing\nmx: mx.testing.test\nmax_age: 86400\n' });
    const mx = await peer(addresses.testing, ['someone-else.test']);
    const h = await relay();
    const queueId = await sendThrough(h, 'bob@local.example', ['x@testing.test']);
    await waitFor('delivered', settled(h, queueId));
    expect(mx.received.map((m) => m.tls)).toEqual([true]);
    expect(h.logs.some((l) => l.msg === 'MTA-STS policy (testing mode) not met; sent as without it' && l.result === 'certificate-host-mismatch' && l.host === 'mx.testing.test')).toBe(true);
    expect(await h.metric(/^mailway_relay_outbound_tls_policy_total\{.*policy="mta-sts",mode="testing",result="certificate-host-mismatch",/)).toBe(1);
  });

  it('a cached policy still applies when its server is down', async () => {
    server.answers.set('mta-sts.cached.test', { policy: enforce('mx.cached.test') });
    const good = await peer(addresses.cached, ['mx.cached.test']);
    const h = await relay();
    const first = await sendThrough(h, 'bob@local.example', ['x@cached.test']);
    await waitFor('delivered', settled(h, first));
    expect(good.received).toHaveLength(1);
    const key = `${h.prefix}outbound:mta-sts:cached.test`;
    expect(await h.redis.pttl(key)).toBeGreaterThan(0);

    // The domain has since announced a new id, and its policy server is down; its MX host now
    // shows a certificate for another name. Without the cached policy the mail would go.
    server.answers.set('mta-sts.cached.test', { drop: true });
    const cached = JSON.parse((await h.redis.get(key)) ?? '{}') as Record<string, unknown>;
    await h.redis.set(key, JSON.stringify({ ...cached, id: '0' }), 'KEEPTTL');
    await good.close();
    const impostor = await startPeer(addresses.cached, world.port, { certificate: await ca.issue(['someone-else.test']) });
    onTestFinished(() => impostor.close());

    const second = await sendThrough(h, 'bob@local.example', ['y@cached.test']);
    expect(await lastAttempt(h, second)).toMatchObject({ state: 'deferred', status: '4.7.5' });
    expect(impostor.received).toEqual([]);
    expect(h.logs.some((l) => l.msg === 'MTA-STS policy could not be refreshed; the cached one applies' && l.domain === 'cached.test')).toBe(true);
    expect(await h.metric(/^mailway_relay_outbound_mta_sts_lookups_total\{.*source="cached_after_failure",/)).toBeGreaterThanOrEqual(1);
  });
});
