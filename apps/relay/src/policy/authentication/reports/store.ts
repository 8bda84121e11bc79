/**
 * What DMARC aggregate reports (RFC 7489 §7.2) are made of, kept in Redis: each message
 * evaluated under a policy that asks for reports (`rua=`) counts once in its row (client
 * address, what was done, the identifiers and results), per policy domain and UTC day.
 *
 * Keys, all expiring after RELAY_DMARC_REPORT_RETENTION, and deleted by the report sender
 * (send.ts) once the day's report is queued:
 *   `<prefix>dmarc:days`                   set of days with rows (`2026-12-07`)
 *   `<prefix>dmarc:domains:<day>`          set of policy domains with rows that day
 *   `<prefix>dmarc:policy:<day>:<domain>`  the policy as last published (JSON)
 *   `<prefix>dmarc:rows:<day>:<domain>`    hash: row (JSON) → count
 */
import type { Redis } from 'ioredis';
import type { Evaluation } from '../sender.js';

/** The policy as the domain published it, for `policy_published`. */
export interface PublishedPolicy {
  readonly domain: string;
  readonly adkim: 'r' | 's';
  readonly aspf: 'r' | 's';
  readonly p: string;
  readonly sp: string;
  readonly pct: number;
  /** The `rua` URIs as published. */
  readonly rua: readonly string[];
}

/** One row of a report: messages alike in all of this. */
export interface ReportRow {
  readonly ip: string;
  readonly disposition: 'none' | 'quarantine' | 'reject';
  /** DMARC-aligned results. */
  readonly dkim: 'pass' | 'fail';
  readonly spf: 'pass' | 'fail';
  readonly reason: string | null;
  readonly comment: string | null;
  readonly headerFrom: string;
  readonly envelopeFrom: string;
  readonly dkimResults: readonly { readonly domain: string; readonly selector: string; readonly result: string }[];
  readonly spfResult: { readonly domain: string; readonly scope: 'mfrom' | 'helo'; readonly result: string };
}

/** The UTC day of `at`, as the keys name it. */
export function dayOf(at: Date): string {
  return at.toISOString().slice(0, 10);
}

export function reportStore(redis: Redis, prefix: string, retentionMs: number) {
  const keys = {
    days: `${prefix}dmarc:days`,
    domains: (day: string) => `${prefix}dmarc:domains:${day}`,
    policy: (day: string, domain: string) => `${prefix}dmarc:policy:${day}:${domain}`,
    rows: (day: string, domain: string) => `${prefix}dmarc:rows:${day}:${domain}`,
  };

  return {
    keys,
    /** Count `evaluation` in today's row; nothing for a policy without `rua`. */
    async record(evaluation: Evaluation, at = new Date()): Promise<void> {
      const policy = publishedPolicy(evaluation);
      if (policy === null || policy.rua.length === 0) return;
      const day = dayOf(at);
      const row = rowOf(evaluation);
      await redis
        .multi()
        .sadd(keys.days, day)
        .pexpire(keys.days, retentionMs)
        .sadd(keys.domains(day), policy.domain)
        .pexpire(keys.domains(day), retentionMs)
        .set(keys.policy(day, policy.domain), JSON.stringify(policy), 'PX', retentionMs)
        .hincrby(keys.rows(day, policy.domain), JSON.stringify(row), 1)
        .pexpire(keys.rows(day, policy.domain), retentionMs)
        .exec();
    },
    /** Days with rows, oldest first. */
    async days(): Promise<string[]> {
      return (await redis.smembers(keys.days)).sort();
    },
    async domains(day: string): Promise<string[]> {
      return (await redis.smembers(keys.domains(day))).sort();
    },
    /** A domain's policy and rows with their counts for `day`; null when gone. */
    async read(day: string, domain: string): Promise<{ policy: PublishedPolicy; rows: { row: ReportRow; count: number }[] } | null> {
      const [policy, rows] = await Promise.all([redis.get(keys.policy(day, domain)), redis.hgetall(keys.rows(day, domain))]);
      if (policy === null) return null;
      return { policy: JSON.parse(policy) as PublishedPolicy, rows: Object.entries(rows).map(([row, count]) => ({ row: JSON.parse(row) as ReportRow, count: Number(count) })) };
    },
    /** Forget a domain's day (its report is queued); the day itself once it has no domain left. */
    async drop(day: string, domain: string): Promise<void> {
      await redis.multi().del(keys.policy(day, domain), keys.rows(day, domain)).srem(keys.domains(day), domain).exec();
      if ((await redis.scard(keys.domains(day))) === 0) await redis.srem(keys.days, day);
    },
  };
}

export type ReportStore = ReturnType<typeof reportStore>;

/** The policy record's tags, read from its text (mailauth keeps it as `rr`). */
function publishedPolicy(evaluation: Evaluation): PublishedPolicy | null {
  const { dmarc } = evaluation.assessment;
  if (dmarc === false || dmarc.rr === undefined) return null;
  const tags = new Map(
    dmarc.rr
      .split(';')
      .map((part) => part.trim())
      .filter((part) => part.includes('='))
      .map((part) => [part.slice(0, part.indexOf('=')).trim().toLowerCase(), part.slice(part.indexOf('=') + 1).trim()] as const),
  );
  const pct = Number(tags.get('pct') ?? '100');
  return {
    // Reports go by organizational domain (mailauth does not say whether a subdomain had a record of its own).
    domain: dmarc.domain.toLowerCase(),
    adkim: tags.get('adkim') === 's' ? 's' : 'r',
    aspf: tags.get('aspf') === 's' ? 's' : 'r',
    p: tags.get('p') ?? 'none',
    sp: tags.get('sp') ?? tags.get('p') ?? 'none',
    pct: Number.isInteger(pct) ? pct : 100,
    rua: (tags.get('rua') ?? '').split(',').map((uri) => uri.trim()).filter((uri) => uri !== ''),
  };
}

function rowOf(evaluation: Evaluation): ReportRow {
  const { assessment, disposition } = evaluation;
  const dmarc = assessment.dmarc;
  const aligned = dmarc === false ? { dkim: false, spf: false } : { dkim: Boolean(dmarc.alignment.dkim.result), spf: Boolean(dmarc.alignment.spf.result) };
  const reason = disposition.reason === 'local_policy' || disposition.reason === 'trusted_forwarder' || disposition.reason === 'sampled_out' ? disposition.reason : null;
  return {
    ip: evaluation.ip.replace(/^::ffff:/i, ''),
    disposition: disposition.action === 'quarantine' || disposition.action === 'reject' ? disposition.action : 'none',
    dkim: aligned.dkim ? 'pass' : 'fail',
    spf: aligned.spf ? 'pass' : 'fail',
    reason,
    comment: disposition.sealer === undefined ? null : `arc sealer ${disposition.sealer}`,
    headerFrom: assessment.fromDomain ?? '',
    envelopeFrom: evaluation.envelopeFrom.includes('@') ? (evaluation.envelopeFrom.split('@').pop() ?? '').toLowerCase() : '',
    dkimResults: assessment.dkim.filter((r) => r.signingDomain !== undefined && r.signingDomain !== '').map((r) => ({ domain: r.signingDomain, selector: r.selector ?? '', result: r.status.result })),
    spfResult: { domain: assessment.spf.domain, scope: evaluation.envelopeFrom === '' ? 'helo' : 'mfrom', result: assessment.spf.status.result },
  };
}
