/**
 * The outbound worker's view of transport security: for a destination domain reached through
 * its MX records, the TLS requirement to apply, and what each attempt's checks came to, logged
 * and counted. DANE first: where the domain's MX hosts have DNSSEC-secure TLSA records, DANE
 * governs and MTA-STS is not looked at (RFC 8461 §2); otherwise its MTA-STS policy, if any.
 *
 * Reads: TLSA records (dane.ts), the domain's MTA-STS policy (mta-sts.ts). Emits: a
 * `TlsRequirement` per attempt; one log line per policy lookup that found or lost something
 * and per host that did not meet a policy; metrics
 * `relay_outbound_mta_sts_lookups_total{source}`, `relay_outbound_dane_lookups_total{outcome}`
 * and `relay_outbound_tls_policy_total{policy,mode,result}`.
 */
import type { Logger } from '@mailway/runtime';
import type { NextHop } from '../mx.js';
import type { DaneLookup } from './dane.js';
import type { MtaStsPolicies } from './mta-sts.js';
import { type PolicyResult, type TlsRequirement, noRequirement } from './tls-policy.js';
import { type TlsReportStoreOptions, recordTlsResults } from './tls-report.js';

export interface SecurityMetrics {
  readonly lookups: { inc(labels: { source: string }): void };
  readonly dane?: { inc(labels: { outcome: string }): void };
  readonly results: { inc(labels: { policy: string; mode: string; result: string }): void };
}

export interface TransportSecurity {
  /** The requirement for mail to `domain` over its MX hosts. */
  requirementFor(domain: string, hops: readonly NextHop[], context: { readonly queueId: string }): Promise<TlsRequirement>;
  /** Log and count what an attempt's checks came to (and keep them for TLS reports). */
  report(domain: string, requirement: TlsRequirement, results: readonly PolicyResult[], context: { readonly queueId: string }): void;
}

export interface TransportSecurityOptions {
  /** MTA-STS policies; null when RELAY_OUTBOUND_MTA_STS is off. */
  readonly mtaSts: MtaStsPolicies | null;
  /** TLSA lookups; null when RELAY_OUTBOUND_DANE is off. */
  readonly dane?: DaneLookup | null;
  /** Where sessions are counted for TLS reports (RFC 8460); null when RELAY_OUTBOUND_TLSRPT is off. */
  readonly reports?: TlsReportStoreOptions | null;
  readonly logger: Logger;
  readonly metrics?: SecurityMetrics;
}

export function transportSecurity(options: TransportSecurityOptions): TransportSecurity {
  const { mtaSts, logger, metrics } = options;
  const dane = options.dane ?? null;
  return {
    async requirementFor(domain, hops, context) {
      if (domain.startsWith('[')) return noRequirement;

      // DANE, where the MX hosts publish secure TLSA records.
      if (dane !== null) {
        const found = await dane.requirementFor(domain, hops);
        metrics?.dane?.inc({ outcome: found === null ? 'none' : 'applies' });
        if (found !== null) {
          logger.debug({ queueId: context.queueId, domain, hosts: Object.fromEntries([...found.hosts].map(([host, rule]) => [host, rule.kind])) }, 'DANE applies');
          return { kind: 'dane', ...found };
        }
      }

      // Else MTA-STS.
      if (mtaSts === null) return noRequirement;
      const found = await mtaSts.policyFor(domain);
      metrics?.lookups.inc({ source: found.source });
      const line = { queueId: context.queueId, domain, source: found.source, detail: found.detail };
      if (found.source === 'fetched' && found.kind === 'policy') logger.info({ ...line, id: found.id, mode: found.policy.mode, mx: found.policy.mx, maxAge: found.policy.maxAge }, 'MTA-STS policy fetched');
      else if (found.source === 'cached_after_failure') logger.warn(line, 'MTA-STS policy could not be refreshed; the cached one applies');
      else if (found.source === 'failed') logger.warn(line, 'MTA-STS policy announced but not usable; sending as without one');
      if (found.kind !== 'policy' || found.policy.mode === 'none') return noRequirement;
      return { kind: 'mta-sts', domain, id: found.id, policy: { ...found.policy, mode: found.policy.mode } };
    },

    report(domain, requirement, results, context) {
      if (options.reports != null && results.length > 0) {
        recordTlsResults(options.reports, domain, requirement, results).catch((error: unknown) => logger.warn({ queueId: context.queueId, domain, err: error }, 'TLS report counts not written'));
      }
      for (const result of results) {
        metrics?.results.inc({ policy: result.policy, mode: result.mode, result: result.result });
        if (result.result === 'success') continue;
        const line = { queueId: context.queueId, domain, policy: result.policy, mode: result.mode, host: result.host, address: result.address, result: result.result, detail: result.detail };
        if (result.policy === 'dane') logger.warn(line, 'DANE not met; host not used');
        else if (result.mode === 'enforce') logger.warn(line, 'MTA-STS policy not met; host not used');
        else logger.warn(line, 'MTA-STS policy (testing mode) not met; sent as without it');
      }
    },
  };
}
