/**
 * DMARC aggregate reports (RFC 7489 §7.2): messages evaluated on port 25 (sent by Python's
 * smtplib, checked against dnsmasq's records) are counted per domain in Redis; the report
 * sender queues, through Mailway's own intake, one gzipped XML report to the domain's rua (a
 * local mailbox of another domain, which agreed with a `_report._dmarc` record), skips a domain
 * whose rua never agreed, and leaves no key behind. Python's email, gzip and xml.etree read the
 * report back.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestDns, startDnsmasq } from '@mailway/testing/dns';
import { waitFor } from '@mailway/testing/wait';
import { type Harness, message, startRelay } from './support/harness.js';

const run = promisify(execFile);

const spf = 'v=spf1 ip4:127.0.0.2 -all';
let dns: TestDns;
let h: Harness;

beforeAll(async () => {
  dns = await startDnsmasq({
    txt: [
      ['aligned.test', spf],
      ['_dmarc.aligned.test', 'v=DMARC1; p=reject; aspf=s; rua=mailto:dmarc@reports.test'],
      ['aligned.test._report._dmarc.reports.test', 'v=DMARC1'],
      ['other.test', spf],
      ['_dmarc.other.test', 'v=DMARC1; p=none; rua=mailto:dmarc@unwilling.test'],
      ['quiet.test', spf],
      ['_dmarc.quiet.test', 'v=DMARC1; p=none'],
    ],
  });
  h = await startRelay({ env: { RELAY_DNS_SERVERS: dns.address, RELAY_DMARC_REPORTS: 'true', RELAY_DMARC_REPORT_ORG: 'Mailway Test', RELAY_DMARC_REPORT_FROM: 'dmarc-reports@local.example' } });
  await h.agent.directory.addDomain('reports.test');
  await h.agent.directory.addUser('dmarc@reports.test', 'reports-secret');
});

afterAll(async () => {
  await h?.close();
  await dns?.stop();
});

/** One message from `source` with smtplib; the reply to end of data (or to MAIL). */
async function send(source: string, from: string): Promise<number> {
  const script = [
    'import smtplib, sys, json',
    'args = json.loads(sys.argv[1])',
    "s = smtplib.SMTP('127.0.0.1', args['port'], local_hostname='mail.sender.test', source_address=(args['source'], 0))",
    's.ehlo()',
    "s.mail(args['from']); s.rcpt('bob@local.example')",
    'code, _ = s.data(sys.stdin.buffer.read())',
    's.quit(); print(code)',
  ].join('\n');
  const child = run('python3', ['-c', script, JSON.stringify({ port: h.agent.port, source, from })]);
  child.child.stdin?.end(message({ from }));
  return Number((await child).stdout.trim());
}

/** The report's fields, read by Python from the message as spooled. */
async function readReport(content: Buffer): Promise<Record<string, unknown>> {
  const script = [
    'import sys, json, gzip, email, email.policy',
    'import xml.etree.ElementTree as ET',
    'msg = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)',
    "part = next(p for p in msg.iter_attachments() if p.get_content_type() == 'application/gzip')",
    'root = ET.fromstring(gzip.decompress(part.get_content()))',
    't = lambda e, path: e.findtext(path)',
    'records = [{',
    "  'source_ip': t(r, 'row/source_ip'), 'count': int(t(r, 'row/count')),",
    "  'disposition': t(r, 'row/policy_evaluated/disposition'), 'dkim': t(r, 'row/policy_evaluated/dkim'), 'spf': t(r, 'row/policy_evaluated/spf'),",
    "  'header_from': t(r, 'identifiers/header_from'), 'envelope_from': t(r, 'identifiers/envelope_from'),",
    "  'spf_result': [t(r, 'auth_results/spf/domain'), t(r, 'auth_results/spf/scope'), t(r, 'auth_results/spf/result')],",
    "} for r in root.findall('record')]",
    'print(json.dumps({',
    "  'subject': msg['subject'], 'to': msg['to'], 'filename': part.get_filename(),",
    "  'org_name': t(root, 'report_metadata/org_name'), 'email': t(root, 'report_metadata/email'), 'report_id': t(root, 'report_metadata/report_id'),",
    "  'begin': int(t(root, 'report_metadata/date_range/begin')), 'end': int(t(root, 'report_metadata/date_range/end')),",
    "  'policy': {k: t(root, 'policy_published/' + k) for k in ['domain', 'adkim', 'aspf', 'p', 'sp', 'pct']},",
    "  'records': sorted(records, key=lambda r: r['source_ip']),",
    '}))',
  ].join('\n');
  const child = run('python3', ['-c', script]);
  child.child.stdin?.end(content);
  return JSON.parse((await child).stdout) as Record<string, unknown>;
}

describe('DMARC aggregate reports', () => {
  it('counts each evaluated message, queues one report per domain to its agreeing rua, and leaves nothing behind', async () => {
    // Two passes from the listed address, one failure (refused under p=reject, still counted); a domain without rua is not counted.
    expect(await send('127.0.0.2', 'sam@aligned.test')).toBe(250);
    expect(await send('127.0.0.2', 'sam@aligned.test')).toBe(250);
    expect(await send('127.0.0.3', 'sam@aligned.test')).toBe(550);
    expect(await send('127.0.0.3', 'sam@other.test')).toBe(250);
    expect(await send('127.0.0.3', 'sam@quiet.test')).toBe(250);
    const day = new Date().toISOString().slice(0, 10);
    const rowsKey = `${h.prefix}dmarc:rows:${day}:aligned.test`;
    await waitFor('three rows counted', async () => Object.values(await h.redis.hgetall(rowsKey)).reduce((sum, n) => sum + Number(n), 0) === 3);
    expect(await h.redis.exists(`${h.prefix}dmarc:rows:${day}:quiet.test`)).toBe(0);
    expect(await h.redis.pttl(rowsKey)).toBeGreaterThan(0);

    // Today is not due yet; asked to include it, the sender queues aligned.test's report only.
    expect(await h.agent.dmarcReports?.sendDue()).toBe(0);
    expect(await h.agent.dmarcReports?.sendDue(new Date(), day)).toBe(1);
    expect(await h.metric(/^mailway_relay_dmarc_reports_total\{outcome="no_destination"/)).toBe(1);
    const queued = h.logs.find((l) => l.msg === 'DMARC aggregate report queued');
    expect(queued).toMatchObject({ domain: 'aligned.test', to: ['dmarc@reports.test'], messages: 3 });
    const [job] = await h.waitForJobs('delivery', 1, String(queued?.queueId));
    expect(job?.data).toMatchObject({ from: 'dmarc-reports@local.example', recipient: { address: 'dmarc@reports.test' } });

    const report = await readReport(await h.spool.readAll(String(queued?.queueId)));
    const begin = Date.parse(`${day}T00:00:00Z`) / 1000;
    expect(report).toMatchObject({
      to: 'dmarc@reports.test',
      org_name: 'Mailway Test',
      email: 'dmarc-reports@local.example',
      begin,
      end: begin + 86_399,
      filename: `mx.local.example!aligned.test!${begin}!${begin + 86_399}.xml.gz`,
      policy: { domain: 'aligned.test', adkim: 'r', aspf: 's', p: 'reject', sp: 'reject', pct: '100' },
      records: [
        { source_ip: '127.0.0.2', count: 2, disposition: 'none', dkim: 'fail', spf: 'pass', header_from: 'aligned.test', envelope_from: 'aligned.test', spf_result: ['aligned.test', 'mfrom', 'pass'] },
        { source_ip: '127.0.0.3', count: 1, disposition: 'reject', dkim: 'fail', spf: 'fail', header_from: 'aligned.test', spf_result: ['aligned.test', 'mfrom', 'fail'] },
      ],
    });
    expect(String(report.subject)).toBe(`Report Domain: aligned.test Submitter: Mailway Test Report-ID: <${String(report.report_id)}>`);

    // Every report key is gone once its report is queued (or found without a destination).
    expect(await h.redis.keys(`${h.prefix}dmarc:*`)).toEqual([]);
  });
});
