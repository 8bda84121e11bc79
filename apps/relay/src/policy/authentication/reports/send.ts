/**
 * The daily DMARC aggregate reports (RFC 7489 §7.2): for every UTC day before today that has
 * rows (store.ts), one report per policy domain, handed to Mailway's own intake (spool and
 * `transfer` job, as any message) addressed to the domain's `mailto:` rua URIs. A rua outside
 * the policy domain gets reports only when its domain agrees to take them (§7.1: a
 * `<policy-domain>._report._dmarc.<rua-domain>` TXT record starting `v=DMARC1`). A domain's
 * rows are deleted once its report is queued; a lock in Redis keeps two relay processes from
 * sending the same report.
 *
 * Loop-bounded: reports come from RELAY_DMARC_REPORT_FROM through the intake, never through
 * port 25, so a report is never itself evaluated and reported.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { type HandoffTargets, handOff } from '@mailway/intake';
import { newQueueId } from '@mailway/queue/jobs';
import type { Logger } from '@mailway/runtime';
import { type DnsResolver, isAbsent } from '../resolver.js';
import { reportMessage } from './build.js';
import { type ReportStore, dayOf } from './store.js';

export interface ReportSenderOptions {
  readonly store: ReportStore;
  readonly redis: Redis;
  readonly prefix: string;
  readonly targets: HandoffTargets;
  readonly resolver: DnsResolver;
  readonly hostname: string;
  readonly org: string;
  /** The reports' sender (From and reverse-path). */
  readonly from: string;
  readonly logger: Logger;
  /** Counts each report queued (or skipped: no usable rua). */
  readonly counted: (outcome: 'sent' | 'no_destination') => void;
}

const dayMs = 24 * 3_600_000;

export function createReportSender(options: ReportSenderOptions) {
  const { store, logger } = options;

  /** The `mailto:` addresses of `rua` that may be sent to for `domain`. */
  async function destinations(domain: string, rua: readonly string[]): Promise<string[]> {
    const addresses: string[] = [];
    for (const uri of rua) {
      const match = /^mailto:([^!]+@([^!]+))(!.*)?$/i.exec(uri);
      if (match === null) continue;
      const address = decodeURIComponent(match[1] ?? '');
      const target = (match[2] ?? '').toLowerCase();
      if (target === domain || target.endsWith(`.${domain}`) || (await agrees(domain, target))) addresses.push(address);
      else logger.info({ domain, rua: uri }, 'DMARC report destination outside the domain has not agreed to take its reports: skipped');
    }
    return addresses;
  }

  /** §7.1: has `target` published that it takes reports for `domain`? A DNS failure is a no, for today. */
  async function agrees(domain: string, target: string): Promise<boolean> {
    try {
      const records = (await options.resolver(`${domain}._report._dmarc.${target}`, 'TXT')) as string[][];
      return records.some((strings) => /^v=DMARC1\b/i.test(strings.join('')));
    } catch (error) {
      if (!isAbsent(error)) logger.warn({ domain, target, err: error }, 'DMARC report destination could not be checked');
      return false;
    }
  }

  /** Queue `day`'s report for `domain`; false when another process has it or nothing is left. */
  async function sendOne(day: string, domain: string, now: Date): Promise<boolean> {
    const lock = `${options.prefix}dmarc:sending:${day}:${domain}`;
    if ((await options.redis.set(lock, '1', 'PX', 600_000, 'NX')) !== 'OK') return false;
    try {
      const found = await store.read(day, domain);
      if (found === null) return false;
      const to = await destinations(domain, found.policy.rua);
      if (to.length === 0) {
        options.counted('no_destination');
        await store.drop(day, domain);
        return false;
      }
      const begin = Date.parse(`${day}T00:00:00Z`) / 1000;
      const reportId = `${day}.${domain}.${randomUUID()}`;
      const content = reportMessage({ org: options.org, email: options.from, hostname: options.hostname, reportId, begin, end: begin + dayMs / 1000 - 1, policy: found.policy, rows: found.rows }, to, now);
      const queueId = newQueueId();
      await handOff(options.targets, {
        queueId,
        messageId: `<${reportId}@${options.hostname}>`,
        envelope: { from: options.from, recipients: to.map((address) => ({ address, notify: null, orcpt: null })), body: null, smtputf8: false, ret: null, envid: null, requireTls: false },
        origin: { agent: 'relay', client: null, user: null, tls: null, receivedAt: now.toISOString() },
        hops: 0,
      }, content);
      await store.drop(day, domain);
      options.counted('sent');
      logger.info({ queueId, domain, day, to, rows: found.rows.length, messages: found.rows.reduce((sum, r) => sum + r.count, 0) }, 'DMARC aggregate report queued');
      return true;
    } finally {
      await options.redis.del(lock);
    }
  }

  return {
    /** Queue the reports of every day before `now`'s (UTC) still holding rows; `through` includes that day too (tests, operators). */
    async sendDue(now = new Date(), through?: string): Promise<number> {
      const last = through ?? dayOf(new Date(now.getTime() - dayMs));
      let sent = 0;
      for (const day of await store.days()) {
        if (day > last) continue;
        for (const domain of await store.domains(day)) if (await sendOne(day, domain, now)) sent += 1;
      }
      return sent;
    },
  };
}

export type ReportSender = ReturnType<typeof createReportSender>;
