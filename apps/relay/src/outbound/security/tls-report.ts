/**
 * SMTP TLS Reporting (RFC 8460), the counting half: each host checked against a receiving
 * domain's DANE or MTA-STS requirement counts as one session, successful or failed, in Redis per
 * UTC day and domain; a day's counts become one report per domain (RFC 8460 §4, JSON).
 *
 * Reads and writes `<prefix>outbound:tlsrpt:<day>:<domain>` (a hash: the policy applied, the
 * successful sessions, the failed ones by result type and host) and
 * `<prefix>outbound:tlsrpt:<day>:domains` (the set of domains counted). Both expire
 * `retentionMs` after their day ends; the report sender deletes a domain's counts once its
 * report is sent. Emits: the report object, and the parsed `_smtp._tls` record.
 */
import type { Redis } from 'ioredis';
import type { PolicyResult, TlsRequirement } from './tls-policy.js';

/** The policy part of a report (RFC 8460 §4.3): as applied, per type. */
export interface ReportedPolicy {
  readonly type: 'sts' | 'tlsa';
  readonly strings: readonly string[];
  readonly mxHosts: readonly string[];
}

export interface TlsReportStoreOptions {
  readonly redis: Redis;
  readonly prefix: string;
  /** How long a day's counts are kept after the day ends (ms). */
  readonly retentionMs: number;
}

/** The UTC day of `at`, `YYYY-MM-DD`. */
export function dayOf(at: Date): string {
  return at.toISOString().slice(0, 10);
}

export function dayKey(prefix: string, day: string, domain: string): string {
  return `${prefix}outbound:tlsrpt:${day}:${domain}`;
}

export function domainsKey(prefix: string, day: string): string {
  return `${prefix}outbound:tlsrpt:${day}:domains`;
}

/** The policy `requirement` stands for in a report; null for none. */
export function reportedPolicy(requirement: TlsRequirement): ReportedPolicy | null {
  if (requirement.kind === 'mta-sts') {
    const { policy } = requirement;
    return { type: 'sts', strings: ['version: STSv1', `mode: ${policy.mode}`, ...policy.mx.map((mx) => `mx: ${mx}`), `max_age: ${policy.maxAge}`], mxHosts: policy.mx };
  }
  if (requirement.kind === 'dane') {
    const strings: string[] = [];
    const hosts: string[] = [];
    for (const [host, rule] of requirement.hosts) {
      if (rule.kind !== 'tlsa') continue;
      hosts.push(host);
      for (const r of rule.records) strings.push(`${r.usage} ${r.selector} ${r.matchingType} ${r.data.toString('hex')}`);
    }
    return { type: 'tlsa', strings, mxHosts: hosts };
  }
  return null;
}

/** Counts `results` (one session each) for `domain` under its day. */
export async function recordTlsResults(options: TlsReportStoreOptions, domain: string, requirement: TlsRequirement, results: readonly PolicyResult[], at: Date = new Date()): Promise<void> {
  const policy = reportedPolicy(requirement);
  if (policy === null || results.length === 0) return;
  const day = dayOf(at);
  const key = dayKey(options.prefix, day, domain);
  const expireAt = Date.parse(`${day}T00:00:00Z`) + 86_400_000 + options.retentionMs;
  const multi = options.redis.multi().hset(key, `p:${policy.type}`, JSON.stringify(policy));
  for (const result of results) {
    if (result.result === 'success') multi.hincrby(key, `s:${policy.type}`, 1);
    else multi.hincrby(key, `f:${policy.type}|${result.result}|${result.host}|${result.address}`, 1);
  }
  await multi.pexpireat(key, expireAt).sadd(domainsKey(options.prefix, day), domain).pexpireat(domainsKey(options.prefix, day), expireAt).exec();
}

/** What a report says about its sender. */
export interface ReportSender {
  /** The organization (RFC 8460 §4.4 organization-name): this host's name unless configured. */
  readonly organization: string;
  /** contact-info: a mailbox. */
  readonly contact: string;
  /** The reporting host (the report id's right side, the Submitter). */
  readonly hostname: string;
}

/** The RFC 8460 §4.4 report for `domain` on `day` from its stored counts; null when there are none. */
export function buildTlsReport(day: string, domain: string, stored: Record<string, string>, sender: ReportSender): Record<string, unknown> | null {
  const policies: Array<Record<string, unknown>> = [];
  for (const type of ['tlsa', 'sts'] as const) {
    const descriptor = stored[`p:${type}`];
    if (descriptor === undefined) continue;
    const policy = JSON.parse(descriptor) as ReportedPolicy;
    const failures = Object.entries(stored)
      .filter(([field]) => field.startsWith(`f:${type}|`))
      .map(([field, count]) => {
        const [, result = '', host = '', address = ''] = field.split('|');
        return { 'result-type': result, 'receiving-mx-hostname': host, 'receiving-ip': address, 'failed-session-count': Number(count) };
      });
    policies.push({
      policy: { 'policy-type': type, 'policy-string': policy.strings, 'policy-domain': domain, 'mx-host': policy.mxHosts },
      summary: { 'total-successful-session-count': Number(stored[`s:${type}`] ?? 0), 'total-failure-session-count': failures.reduce((sum, f) => sum + f['failed-session-count'], 0) },
      ...(failures.length > 0 ? { 'failure-details': failures } : {}),
    });
  }
  if (policies.length === 0) return null;
  return {
    'organization-name': sender.organization,
    'date-range': { 'start-datetime': `${day}T00:00:00Z`, 'end-datetime': `${day}T23:59:59Z` },
    'contact-info': sender.contact,
    'report-id': `${day}.${domain}@${sender.hostname}`,
    policies,
  };
}

/**
 * The report addresses of a `_smtp._tls` TXT record (RFC 8460 §3): `v=TLSRPTv1;
 * rua=mailto:…,https://…`. Exactly one record starting with `v=TLSRPTv1` counts; addresses
 * other than mailto: and https: are ignored.
 */
export function parseTlsRptRecord(records: ReadonlyArray<readonly string[]>): string[] | null {
  const texts = records.map((chunks) => chunks.join('')).filter((text) => /^v=TLSRPTv1\s*(;|$)/.test(text));
  if (texts.length !== 1) return null;
  const rua = (texts[0] as string)
    .split(';')
    .map((field) => field.trim())
    .find((field) => field.startsWith('rua='));
  if (rua === undefined) return null;
  const uris = rua
    .slice(4)
    .split(',')
    .map((uri) => uri.trim())
    .filter((uri) => /^mailto:[^@\s]+@[^@\s]+$/i.test(uri) || /^https:\/\/\S+$/i.test(uri));
  return uris.length > 0 ? uris : null;
}
