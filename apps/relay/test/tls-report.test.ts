/**
 * SMTP TLS Reporting (RFC 8460) through a relay agent: sessions to MTA-STS domains are counted
 * per day in Redis; the day's reports go to the `rua` of each domain's `_smtp._tls` record:
 * as a multipart/report message through Mailway's own intake (here to a local mailbox), and as
 * an HTTPS POST to a real node HTTPS server. The reports are gunzipped and read back as JSON
 * with the fields RFC 8460 §4.4 requires; the counts are gone afterwards.
 */
import { gunzipSync } from 'node:zlib';
import type { IncomingMessage } from 'node:http';
import { createServer } from 'node:https';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { dnsmasqForTests, startDnsmasq } from '@mailway/testing/dns';
import { waitFor } from '@mailway/testing/wait';
import { bullPrefix, createMailQueue } from '@mailway/queue/queues';
import { createLogger } from '@mailway/runtime';
import { type TlsReportSenderOptions, scheduleTlsReports, sendDayReports } from '../src/outbound/security/tls-report-send.js';
import { dayKey, dayOf, domainsKey, parseTlsRptRecord, recordTlsResults } from '../src/outbound/security/tls-report.js';
import { type Harness, sendThrough, settled, startOutboundRelay } from './support/harness.js';
import { startPeer } from './support/peers.js';
import { type PolicyServer, startPolicyServer } from './support/policy-server.js';
import { type TestCa, createTestCa } from './support/test-ca.js';

const addresses = { policy: '127.0.0.100', rpt: '127.0.0.101', rpt2: '127.0.0.102', collector: '127.0.0.103' } as const;

const world = dnsmasqForTests(
  {
    mx: [
      ['rpt.test', 'mx.rpt.test', 10],
      ['rpt2.test', 'mx.rpt2.test', 10],
    ],
    hosts: [
      ['mx.rpt.test', addresses.rpt],
      ['mx.rpt2.test', addresses.rpt2],
      ['mta-sts.rpt.test', addresses.policy],
      ['mta-sts.rpt2.test', addresses.policy],
      ['reports.rpt2.test', addresses.collector],
    ],
    txt: [
      ['_mta-sts.rpt.test', 'v=STSv1; id=1'],
      ['_mta-sts.rpt2.test', 'v=STSv1; id=1'],
      ['_smtp._tls.rpt.test', 'v=TLSRPTv1; rua=mailto:bob@local.example'],
    ],
  },
  Object.values(addresses),
);

let ca: TestCa;
let policies: PolicyServer;
beforeAll(async () => {
  ca = await createTestCa();
  policies = await startPolicyServer(addresses.policy, world.port, await ca.issue(['mta-sts.rpt.test', 'mta-sts.rpt2.test']));
  policies.answers.set('mta-sts.rpt.test', { policy: 'version: STSv1\nmode: enforce\nmx: mx.rpt.test\nmax_age: 86400\n' });
  policies.answers.set('mta-sts.rpt2.test', { policy: 'version: STSv1\nmode: testing\nmx: mx.rpt2.test\nmax_age: 86400\n' });
});
afterAll(async () => {
  await policies?.close();
  ca?.remove();
});

/** A TLS report collector: POSTs to https://reports.rpt2.test/tlsrpt, kept. */
async function collector(): Promise<Array<{ type: string | undefined; body: Buffer }>> {
  const posts: Array<{ type: string | undefined; body: Buffer }> = [];
  const server = createServer(await ca.issue(['reports.rpt2.test']), (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/tlsrpt') posts.push({ type: req.headers['content-type'], body: Buffer.concat(chunks) });
      res.writeHead(req.method === 'POST' ? 201 : 405).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(world.port, addresses.collector, resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return posts;
}

/**
 * What the report sender needs, with DNS for the reports (a second dnsmasq: the https address
 * holds the collector's port, known only now): the mailto: record of rpt.test and the https:
 * one of rpt2.test.
 */
async function reportOptions(h: Harness, transfer: ReturnType<typeof createMailQueue<'transfer'>>): Promise<TlsReportSenderOptions> {
  const reportsDns = await startDnsmasq({
    hosts: [['reports.rpt2.test', addresses.collector]],
    txt: [
      ['_smtp._tls.rpt.test', 'v=TLSRPTv1; rua=mailto:bob@local.example'],
      ['_smtp._tls.rpt2.test', `v=TLSRPTv1; rua=https://reports.rpt2.test:${world.port}/tlsrpt`],
    ],
  });
  onTestFinished(() => reportsDns.stop());
  return {
    store: { redis: h.redis, prefix: h.prefix, retentionMs: 2 * 86_400_000 },
    dns: reportsDns.resolver(),
    targets: { spool: h.spool, transfer },
    sender: { organization: 'Mailway test', contact: 'postmaster@mx.local.example', hostname: 'mx.local.example' },
    ca: [ca.cert],
    timeout: 2_000,
    logger: createLogger({ name: 'relay', level: 'silent' }),
  };
}

describe('TLS reports (RFC 8460)', () => {
  it('parses the _smtp._tls record: one v=TLSRPTv1 record, mailto: and https: addresses', () => {
    expect(parseTlsRptRecord([['v=TLSRPTv1; rua=mailto:a@example.net,https://r.example.net/x']])).toEqual(['mailto:a@example.net', 'https://r.example.net/x']);
    expect(parseTlsRptRecord([['v=TLSRPTv1;rua=ftp://x.example']])).toBeNull();
    expect(parseTlsRptRecord([['v=TLSRPTv1; rua=mailto:a@example.net'], ['v=TLSRPTv1; rua=mailto:b@example.net']])).toBeNull();
    expect(parseTlsRptRecord([['v=spf1 -all']])).toBeNull();
  });

  it('counts sessions per domain, and sends each day’s report by mail through the intake and by HTTPS POST', async () => {
    const posts = await collector();
    const good = await startPeer(addresses.rpt, world.port, { certificate: await ca.issue(['mx.rpt.test']) });
    onTestFinished(() => good.close());
    const misnamed = await startPeer(addresses.rpt2, world.port, { certificate: await ca.issue(['someone-else.test']) });
    onTestFinished(() => misnamed.close());
    const h: Harness = await startOutboundRelay(world.dns.address, world.port, {
      RELAY_OUTBOUND_TLSRPT: 'true',
      RELAY_OUTBOUND_TLS_CA: ca.file,
      RELAY_OUTBOUND_MTA_STS_TEST_HTTPS_PORT: String(world.port),
      // One session per message: each is one session in the report.
      RELAY_OUTBOUND_SESSION_IDLE: '0',
    });
    onTestFinished(() => h.close());

    // Two sessions that met the enforced policy, one that did not meet the policy in testing.
    for (const to of ['x@rpt.test', 'y@rpt.test', 'z@rpt2.test']) {
      const queueId = await sendThrough(h, 'bob@local.example', [to]);
      await waitFor(`delivered to ${to}`, settled(h, queueId));
    }
    const day = dayOf(new Date());
    const counts = await waitFor('counts for rpt2.test', async () => {
      const found = await h.redis.hgetall(dayKey(h.prefix, day, 'rpt2.test'));
      return Object.keys(found).length > 0 ? found : null;
    });
    expect(counts).toMatchObject({ [`f:sts|certificate-host-mismatch|mx.rpt2.test|${addresses.rpt2}`]: '1' });
    expect(await h.redis.hget(dayKey(h.prefix, day, 'rpt.test'), 's:sts')).toBe('2');
    expect(await h.redis.pttl(dayKey(h.prefix, day, 'rpt.test'))).toBeGreaterThan(2 * 86_400_000 - 1);

    const transfer = createMailQueue('transfer', h.redis, { prefix: bullPrefix(h.prefix) });
    onTestFinished(() => transfer.close());
    const sent = await sendDayReports(await reportOptions(h, transfer), day);
    expect(sent).toBe(2);

    // The HTTPS report.
    expect(posts).toHaveLength(1);
    expect(posts[0]?.type).toBe('application/tlsrpt+gzip');
    const https = JSON.parse(gunzipSync(posts[0]?.body ?? Buffer.alloc(0)).toString('utf8')) as Record<string, unknown>;
    expect(https).toMatchObject({
      'organization-name': 'Mailway test',
      'date-range': { 'start-datetime': `${day}T00:00:00Z`, 'end-datetime': `${day}T23:59:59Z` },
      'contact-info': 'postmaster@mx.local.example',
      'report-id': expect.any(String),
      policies: [
        {
          policy: { 'policy-type': 'sts', 'policy-string': ['version: STSv1', 'mode: testing', 'mx: mx.rpt2.test', 'max_age: 86400'], 'policy-domain': 'rpt2.test', 'mx-host': ['mx.rpt2.test'] },
          summary: { 'total-successful-session-count': 0, 'total-failure-session-count': 1 },
          'failure-details': [{ 'result-type': 'certificate-host-mismatch', 'receiving-mx-hostname': 'mx.rpt2.test', 'receiving-ip': addresses.rpt2, 'failed-session-count': 1 }],
        },
      ],
    });

    // The mailed report: from <>, through the intake and the router into bob's delivery queue.
    const delivery = await waitFor('the report in the delivery queue', async () => (await h.jobs('delivery')).find((j) => j.data.from === '' && j.data.recipient.address === 'bob@local.example') ?? null);
    const text = (await h.spool.readAll(delivery.data.spoolId)).toString('latin1');
    expect(text).toMatch(/^Content-Type: multipart\/report; report-type="tlsrpt"; boundary="/m);
    expect(text).toMatch(/^TLS-Report-Domain: rpt\.test\r$/m);
    expect(text).toMatch(/^TLS-Report-Submitter: mx\.local\.example\r$/m);
    expect(text).toMatch(/^Subject: Report Domain: rpt\.test Submitter: mx\.local\.example Report-ID: </m);
    const attachment = /Content-Type: application\/tlsrpt\+gzip\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="mx\.local\.example!rpt\.test!\d+!\d+\.json\.gz"\r\n\r\n([A-Za-z0-9+/=\r\n]+?)--/.exec(text);
    expect(attachment).not.toBeNull();
    const mailed = JSON.parse(gunzipSync(Buffer.from(attachment?.[1] ?? '', 'base64')).toString('utf8')) as Record<string, unknown>;
    expect(mailed['policies']).toEqual([{ policy: expect.objectContaining({ 'policy-type': 'sts', 'policy-domain': 'rpt.test' }), summary: { 'total-successful-session-count': 2, 'total-failure-session-count': 0 } }]);
    expect(typeof mailed['report-id']).toBe('string');

    // The counts were the sender's to delete.
    expect(await h.redis.exists(dayKey(h.prefix, day, 'rpt.test'), dayKey(h.prefix, day, 'rpt2.test'), domainsKey(h.prefix, day))).toBe(0);
  });

  it('yesterday’s reports go once, from whichever process claims the day first', async () => {
    const posts = await collector();
    const h: Harness = await startOutboundRelay(world.dns.address, world.port, {});
    onTestFinished(() => h.close());
    const transfer = createMailQueue('transfer', h.redis, { prefix: bullPrefix(h.prefix) });
    onTestFinished(() => transfer.close());
    const options = await reportOptions(h, transfer);

    // Yesterday's counts, as the outbound worker wrote them.
    const yesterday = new Date(Date.now() - 86_400_000);
    const requirement = { kind: 'mta-sts', domain: 'rpt2.test', id: '1', policy: { mode: 'enforce', mx: ['mx.rpt2.test'], maxAge: 86400 } } as const;
    await recordTlsResults(options.store, 'rpt2.test', requirement, [{ policy: 'mta-sts', mode: 'enforce', host: 'mx.rpt2.test', address: addresses.rpt2, result: 'success', detail: null }], yesterday);

    // Two processes' schedules.
    const schedules = [scheduleTlsReports(options, 50), scheduleTlsReports(options, 50)];
    onTestFinished(() => schedules.forEach((schedule) => schedule.stop()));
    await waitFor('the report posted', async () => posts.length > 0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(posts).toHaveLength(1);
    const report = JSON.parse(gunzipSync(posts[0]?.body ?? Buffer.alloc(0)).toString('utf8')) as Record<string, unknown>;
    expect(report['date-range']).toEqual({ 'start-datetime': `${dayOf(yesterday)}T00:00:00Z`, 'end-datetime': `${dayOf(yesterday)}T23:59:59Z` });
    expect(await h.redis.pttl(`${h.prefix}outbound:tlsrpt:${dayOf(yesterday)}:claimed`)).toBeGreaterThan(0);
    expect(await h.redis.exists(dayKey(h.prefix, dayOf(yesterday), 'rpt2.test'))).toBe(0);
  });
});
