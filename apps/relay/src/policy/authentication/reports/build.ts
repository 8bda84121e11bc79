/**
 * A DMARC aggregate report (RFC 7489 §7.2, appendix C): the XML feedback document for one
 * policy domain and one period, gzipped and sent as a MIME message (§7.2.1.1: the file
 * `receiver!policy-domain!begin!end.xml.gz`, the subject `Report Domain: … Submitter: …
 * Report-ID: …`). Pure: the sender (send.ts) gives it the rows and hands the result off.
 */
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { PublishedPolicy, ReportRow } from './store.js';

export interface ReportFacts {
  /** The reporting organisation (RELAY_DMARC_REPORT_ORG) and its contact address. */
  readonly org: string;
  readonly email: string;
  /** This host's name: the receiver in the file name and Message-ID. */
  readonly hostname: string;
  readonly reportId: string;
  /** The period, seconds since the epoch (UTC). */
  readonly begin: number;
  readonly end: number;
  readonly policy: PublishedPolicy;
  readonly rows: readonly { readonly row: ReportRow; readonly count: number }[];
}

/** The feedback document. */
export function reportXml(facts: ReportFacts): string {
  const { policy } = facts;
  const records = facts.rows.map(({ row, count }) =>
    element('record', [
      element('row', [
        element('source_ip', row.ip),
        element('count', String(count)),
        element('policy_evaluated', [
          element('disposition', row.disposition),
          element('dkim', row.dkim),
          element('spf', row.spf),
          ...(row.reason === null ? [] : [element('reason', [element('type', row.reason), ...(row.comment === null ? [] : [element('comment', row.comment)])])]),
        ]),
      ]),
      element('identifiers', [element('header_from', row.headerFrom), ...(row.envelopeFrom === '' ? [] : [element('envelope_from', row.envelopeFrom)])]),
      element('auth_results', [
        ...row.dkimResults.map((d) => element('dkim', [element('domain', d.domain), ...(d.selector === '' ? [] : [element('selector', d.selector)]), element('result', d.result)])),
        element('spf', [element('domain', row.spfResult.domain), element('scope', row.spfResult.scope), element('result', row.spfResult.result)]),
      ]),
    ]),
  );
  const feedback = element('feedback', [
    element('version', '1.0'),
    element('report_metadata', [
      element('org_name', facts.org),
      element('email', facts.email),
      element('report_id', facts.reportId),
      element('date_range', [element('begin', String(facts.begin)), element('end', String(facts.end))]),
    ]),
    element('policy_published', [
      element('domain', policy.domain),
      element('adkim', policy.adkim),
      element('aspf', policy.aspf),
      element('p', policy.p),
      element('sp', policy.sp),
      element('pct', String(policy.pct)),
    ]),
    ...records,
  ]);
  return `<?xml version="1.0" encoding="UTF-8"?>\n${feedback}\n`;
}

/** The report as a message from `facts.email` to `to`, ready for the spool. */
export function reportMessage(facts: ReportFacts, to: readonly string[], date: Date): Buffer {
  const file = `${facts.hostname}!${facts.policy.domain}!${facts.begin}!${facts.end}.xml.gz`;
  const attachment = gzipSync(Buffer.from(reportXml(facts), 'utf8')).toString('base64').replace(/.{1,76}/g, '$&\r\n');
  const boundary = `=_mailway_${randomBytes(12).toString('hex')}`;
  const header = [
    `From: ${facts.email}`,
    `To: ${to.join(', ')}`,
    `Subject: Report Domain: ${facts.policy.domain} Submitter: ${facts.org} Report-ID: <${facts.reportId}>`,
    `Date: ${date.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${facts.reportId}@${facts.hostname}>`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
  ];
  const text = `This is a DMARC aggregate report for ${facts.policy.domain} from ${facts.org}, for ${new Date(facts.begin * 1000).toISOString()} to ${new Date(facts.end * 1000).toISOString()}.`;
  return Buffer.from(
    [
      ...header,
      '',
      `--${boundary}`,
      'Content-Type: text/plain; charset=utf-8',
      '',
      text,
      `--${boundary}`,
      `Content-Type: application/gzip; name="${file}"`,
      `Content-Disposition: attachment; filename="${file}"`,
      'Content-Transfer-Encoding: base64',
      '',
      attachment.trimEnd(),
      `--${boundary}--`,
      '',
    ].join('\r\n'),
    'utf8',
  );
}

/** `<name>text</name>` (escaped), or `<name>` around children, indented. */
function element(name: string, content: string | readonly string[]): string {
  if (typeof content === 'string') return `<${name}>${escape(content)}</${name}>`;
  return `<${name}>\n${content.map((child) => child.replace(/^/gm, '  ')).join('\n')}\n</${name}>`;
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
