/**
 * Delivery status notifications, parsed back by an independent parser (Python's `email`
 * package, which reads message/delivery-status into one block per recipient): the report's
 * structure, every field, and the original returned whole or as its header.
 */
import { describe, expect, it } from 'vitest';
import { type DsnRecipient, type DsnReport, buildDsn } from '@mailway/intake/notices';
import { parseDsn as parse } from '@mailway/testing/dsn-parse';

const original = Buffer.from('From: Alice <alice@origin.test>\r\nTo: bob@dest.test\r\nSubject: Quarterly figures\r\nMessage-ID: <q1@origin.test>\r\n\r\nThe figures are attached.\r\n');

const gone: DsnRecipient = {
  address: 'bob@dest.test',
  orcpt: { type: 'rfc822', address: 'bob@dest.test' },
  action: 'failed',
  status: '5.1.1',
  remoteMta: 'mx1.dest.test',
  remoteReply: '550 5.1.1 <bob@dest.test>: Recipient address rejected: User unknown',
  detail: 'the recipient does not exist',
  lastAttempt: new Date('2026-12-06T10:00:00Z'),
  willRetryUntil: null,
};

const report = (overrides: Partial<DsnReport> = {}): DsnReport => ({
  reportingMta: 'relay.origin.test',
  to: 'alice@origin.test',
  queueId: 'Q1A2B3C4D5',
  envid: 'alice-42',
  arrivalDate: new Date('2026-12-06T09:58:00Z'),
  recipients: [gone],
  original,
  ret: null,
  returnLimit: 100_000,
  now: new Date('2026-12-06T10:00:01Z'),
  ...overrides,
});

describe('a failure notification (bounce)', () => {
  it('is a multipart/report with a notice, a delivery-status and the original message', async () => {
    const parsed = await parse(buildDsn(report()));
    expect(parsed.contentType).toBe('multipart/report');
    expect(parsed.reportType).toBe('delivery-status');
    expect(parsed.parts).toEqual(['text/plain', 'message/delivery-status', 'message/rfc822']);
    expect(parsed.headers).toMatchObject({
      From: 'Mail Delivery System <MAILER-DAEMON@relay.origin.test>',
      To: '<alice@origin.test>',
      Subject: 'Undelivered Mail Returned to Sender',
      'Auto-Submitted': 'auto-replied',
      'MIME-Version': '1.0',
    });
    expect(parsed.headers['Message-ID']).toMatch(/^<[a-z0-9.]+@relay\.origin\.test>$/);
    expect(parsed.returned.replace(/\r\n/g, '\n')).toBe(original.toString().replace(/\r\n/g, '\n'));
  });

  it('says per message and per recipient what happened, as RFC 3464 fields', async () => {
    const second: DsnRecipient = { ...gone, address: 'carol@other.test', orcpt: null, status: '5.4.4', remoteMta: null, remoteReply: null, detail: 'no MX host of other.test has an address' };
    const parsed = await parse(buildDsn(report({ recipients: [gone, second] })));
    expect(parsed.perMessage).toEqual({
      'Reporting-MTA': 'dns; relay.origin.test',
      'X-Mailway-Queue-ID': 'Q1A2B3C4D5',
      'Original-Envelope-Id': 'alice-42',
      'Arrival-Date': expect.stringMatching(/^Sun, 0?6 Dec 2026 \d\d:58:00 [+-]\d{4}$/),
    });
    expect(parsed.perRecipient).toEqual([
      {
        'Final-Recipient': 'rfc822; bob@dest.test',
        'Original-Recipient': 'rfc822; bob@dest.test',
        Action: 'failed',
        Status: '5.1.1',
        'Remote-MTA': 'dns; mx1.dest.test',
        'Diagnostic-Code': 'smtp; 550 5.1.1 <bob@dest.test>: Recipient address rejected: User unknown',
        'Last-Attempt-Date': expect.stringMatching(/^Sun, 0?6 Dec 2026 /),
      },
      {
        'Final-Recipient': 'rfc822; carol@other.test',
        Action: 'failed',
        Status: '5.4.4',
        'Diagnostic-Code': 'X-Mailway; no MX host of other.test has an address',
        'Last-Attempt-Date': expect.stringMatching(/^Sun, 0?6 Dec 2026 /),
      },
    ]);
    expect(parsed.human).toContain('<bob@dest.test>: failed');
    expect(parsed.human).toContain('mx1.dest.test said: 550 5.1.1');
    expect(parsed.human).toContain('no MX host of other.test has an address');
  });

  it('returns only the header when the sender asked RET=HDRS, or the message is over the limit', async () => {
    for (const overrides of [{ ret: 'HDRS' as const }, { returnLimit: 50 }]) {
      const parsed = await parse(buildDsn(report(overrides)));
      expect(parsed.parts[2]).toBe('text/rfc822-headers');
      expect(parsed.returned).toContain('Subject: Quarterly figures');
      expect(parsed.returned).not.toContain('The figures are attached.');
    }
  });
});

describe('the transfer encoding', () => {
  it('is 7bit for a notice that is (so no hop needs 8BITMIME for it), 8bit once anything in it is not', async () => {
    const ascii = buildDsn(report());
    expect(ascii.every((octet) => octet < 0x80)).toBe(true);
    expect((await parse(ascii)).headers['Content-Transfer-Encoding']).toBe('7bit');
    const utf8 = buildDsn(report({ original: Buffer.from('Subject: Grüße\r\n\r\nHallo.\r\n') }));
    expect((await parse(utf8)).headers['Content-Transfer-Encoding']).toBe('8bit');
  });
});

describe('other notifications', () => {
  it('a delay notice: Action delayed, Will-Retry-Until, the header only', async () => {
    const waiting: DsnRecipient = { ...gone, action: 'delayed', status: '4.4.1', remoteMta: null, remoteReply: null, detail: 'connection refused by mx1.dest.test', willRetryUntil: new Date('2026-12-11T09:58:00Z') };
    const parsed = await parse(buildDsn(report({ recipients: [waiting] })));
    expect(parsed.headers.Subject).toBe('Delayed Mail (still being retried)');
    expect(parsed.perRecipient[0]).toMatchObject({ Action: 'delayed', Status: '4.4.1', 'Will-Retry-Until': expect.stringMatching(/^Fri, 11 Dec 2026 /) });
    expect(parsed.parts[2]).toBe('text/rfc822-headers');
    expect(parsed.human).toContain('Mailway keeps trying');
  });

  it('a success report: Action delivered, the header only even with RET=FULL (RFC 3461 §4.3)', async () => {
    const delivered: DsnRecipient = { ...gone, action: 'delivered', status: '2.0.0', remoteReply: '250 2.0.0 Ok: queued as 123' };
    const parsed = await parse(buildDsn(report({ recipients: [delivered], ret: 'FULL' })));
    expect(parsed.headers.Subject).toBe('Successful Mail Delivery Report');
    expect(parsed.perRecipient[0]).toMatchObject({ Action: 'delivered', Status: '2.0.0' });
    expect(parsed.parts[2]).toBe('text/rfc822-headers');
    expect(parsed.returned).toContain('Subject: Quarterly figures');
    expect(parsed.returned).not.toContain('The figures are attached.');
  });

  it('a report with a failure beside a success returns the whole message with RET=FULL', async () => {
    const delivered: DsnRecipient = { ...gone, address: 'carol@dest.test', action: 'relayed', status: '2.0.0' };
    const parsed = await parse(buildDsn(report({ recipients: [gone, delivered], ret: 'FULL' })));
    expect(parsed.parts[2]).toBe('message/rfc822');
    expect(parsed.returned).toContain('The figures are attached.');
  });

  it('UTF-8 addresses use the global types of RFC 6533', async () => {
    const parsed = await parse(buildDsn(report({ to: 'jörg@origin.test', recipients: [{ ...gone, address: 'ümit@dest.test', orcpt: null }] })));
    expect(parsed.reportType).toBe('global-delivery-status');
    expect(parsed.parts).toEqual(['text/plain', 'message/global-delivery-status', 'message/global']);
  });
});
