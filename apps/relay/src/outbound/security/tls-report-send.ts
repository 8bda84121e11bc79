/**
 * SMTP TLS Reporting (RFC 8460), the sending half: once a UTC day is over, each domain counted
 * that day (tls-report.ts) whose `_smtp._tls` TXT record names report addresses gets its report,
 * gzipped JSON (RFC 8460 §5.1):
 * - `mailto:` — a multipart/report (report-type tlsrpt) message from the null sender, handed to
 *   Mailway's own intake and routed like any other mail (§5.3); from `<>` it is never bounced,
 *   and one report per domain per day is all a day's sessions can cause: no loop.
 * - `https:` — an HTTP POST of the gzipped report, `application/tlsrpt+gzip` (§5.4).
 *
 * One relay process sends a day's reports: it claims the day in Redis first
 * (`<prefix>outbound:tlsrpt:<day>:claimed`, expiring with the counts). A domain's counts are
 * deleted once its report is handed on, whether or not any address took it.
 *
 * Reads: the day's counts, DNS (TXT, and the addresses of https report hosts). Emits: report
 * messages on the transfer queue, HTTPS requests, one log line per report sent or not, metric
 * `relay_outbound_tls_reports_total{method,outcome}`.
 */
import { request } from 'node:https';
import { gzipSync } from 'node:zlib';
import type { HandoffTargets } from '@mailway/intake';
import { handOffOnce } from '@mailway/intake';
import { newQueueId } from '@mailway/queue/jobs';
import { formatDate, generateMessageId } from '@mailway/smtp/message';
import type { Logger } from '@mailway/runtime';
import { lookupThrough } from './mta-sts-fetch.js';
import type { StsDns } from './mta-sts.js';
import { type ReportSender, type TlsReportStoreOptions, buildTlsReport, dayKey, dayOf, domainsKey, parseTlsRptRecord } from './tls-report.js';

export interface TlsReportSenderOptions {
  readonly store: TlsReportStoreOptions;
  readonly dns: StsDns;
  readonly targets: HandoffTargets;
  readonly sender: ReportSender;
  /** Trusted roots for https report addresses; Node's bundled roots when unset. */
  readonly ca?: readonly string[];
  readonly timeout: number;
  readonly logger: Logger;
  readonly metrics?: { inc(labels: { method: string; outcome: string }): void };
}

/** Sends the reports of `day` (`YYYY-MM-DD`); resolves with how many report addresses took one. */
export async function sendDayReports(options: TlsReportSenderOptions, day: string): Promise<number> {
  const { redis, prefix } = options.store;
  const { logger } = options;
  let sent = 0;
  for (const domain of await redis.smembers(domainsKey(prefix, day))) {
    const key = dayKey(prefix, day, domain);
    const report = buildTlsReport(day, domain, await redis.hgetall(key), options.sender);
    const addresses = report === null ? null : await reportAddresses(options.dns, domain);
    if (report !== null && addresses === null) logger.debug({ domain, day }, 'TLS report not sent: the domain publishes no _smtp._tls record');
    if (report !== null && addresses !== null) {
      const json = Buffer.from(JSON.stringify(report));
      const gzipped = gzipSync(json);
      for (const address of addresses) {
        const method = address.startsWith('mailto:') ? 'mailto' : 'https';
        try {
          if (method === 'mailto') await mailReport(options, address.slice(7), domain, day, report, gzipped);
          else await postReport(options, address, gzipped);
          sent += 1;
          options.metrics?.inc({ method, outcome: 'sent' });
          logger.info({ domain, day, to: address, reportId: report['report-id'], octets: gzipped.length }, 'TLS report sent');
        } catch (error) {
          options.metrics?.inc({ method, outcome: 'failed' });
          logger.warn({ domain, day, to: address, err: error }, 'TLS report not taken');
        }
      }
    }
    // Handed on (or nobody to hand it to): the counts have served.
    await redis.multi().del(key).srem(domainsKey(prefix, day), domain).exec();
  }
  return sent;
}

/** Sends yesterday's reports from one process of all those sharing Redis: every `everyMs`, whoever claims the day first. */
export function scheduleTlsReports(options: TlsReportSenderOptions, everyMs: number): { stop(): void } {
  const { redis, prefix, retentionMs } = options.store;
  const run = async (): Promise<void> => {
    const day = dayOf(new Date(Date.now() - 86_400_000));
    const claimed = await redis.set(`${prefix}outbound:tlsrpt:${day}:claimed`, String(process.pid), 'PX', 86_400_000 + retentionMs, 'NX');
    if (claimed === 'OK') await sendDayReports(options, day);
  };
  const timer = setInterval(() => run().catch((error: unknown) => options.logger.warn({ err: error }, 'TLS reports could not be sent')), everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

async function reportAddresses(dns: StsDns, domain: string): Promise<string[] | null> {
  try {
    return parseTlsRptRecord(await dns.resolveTxt(`_smtp._tls.${domain}`));
  } catch {
    return null;
  }
}

/** The report as a message (RFC 8460 §5.3) handed to the intake, from the null sender. */
async function mailReport(options: TlsReportSenderOptions, to: string, domain: string, day: string, report: Record<string, unknown>, gzipped: Buffer): Promise<void> {
  const { hostname } = options.sender;
  const start = Date.parse(`${day}T00:00:00Z`) / 1000;
  const filename = `${hostname}!${domain}!${start}!${start + 86_399}.json.gz`;
  const boundary = `tlsrpt-${newQueueId()}`;
  const base64 = gzipped.toString('base64').replace(/.{1,76}/g, '$&\r\n');
  const message = [
    `From: TLS reporting <postmaster@${hostname}>`,
    `To: <${to}>`,
    `Subject: Report Domain: ${domain} Submitter: ${hostname} Report-ID: <${String(report['report-id'])}>`,
    `Date: ${formatDate(new Date(), 'utc')}`,
    `Message-ID: ${generateMessageId(hostname)}`,
    `TLS-Report-Domain: ${domain}`,
    `TLS-Report-Submitter: ${hostname}`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type="tlsrpt"; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=us-ascii',
    '',
    `The TLS report of ${hostname} for mail to ${domain} on ${day} (RFC 8460).`,
    `--${boundary}`,
    'Content-Type: application/tlsrpt+gzip',
    'Content-Transfer-Encoding: base64',
    `Content-Disposition: attachment; filename="${filename}"`,
    '',
    `${base64}--${boundary}--`,
    '',
  ].join('\r\n');
  await handOffOnce(
    options.targets,
    {
      queueId: newQueueId(),
      messageId: null,
      envelope: { from: '', recipients: [{ address: to, notify: null, orcpt: null }], body: '7BIT', smtputf8: false, ret: null, envid: null, requireTls: false },
      origin: { agent: 'relay', client: null, user: null, tls: null, receivedAt: new Date().toISOString() },
    },
    Buffer.from(message),
  );
}

/** The report POSTed to an https report address (RFC 8460 §5.4); any 2xx is taken. */
function postReport(options: TlsReportSenderOptions, uri: string, gzipped: Buffer): Promise<void> {
  const url = new URL(uri);
  return new Promise<void>((resolve, reject) => {
    const req = request({
      host: url.hostname,
      port: url.port === '' ? 443 : Number(url.port),
      path: `${url.pathname}${url.search}`,
      method: 'POST',
      servername: url.hostname,
      ...(options.ca === undefined ? {} : { ca: [...options.ca] }),
      lookup: lookupThrough(options.dns),
      agent: false,
      headers: { 'content-type': 'application/tlsrpt+gzip', 'content-length': gzipped.length },
      timeout: options.timeout,
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url.host} within ${options.timeout} ms`)));
    req.on('error', reject);
    req.on('response', (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) resolve();
      else reject(new Error(`${url.host} answered HTTP ${status}`));
    });
    req.end(gzipped);
  });
}
