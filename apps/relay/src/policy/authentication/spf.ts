/**
 * SPF (RFC 7208) at MAIL FROM: the reverse-path's domain, or the HELO name for the null
 * reverse-path, asked whether it lets the client's address send for it. The result is kept
 * with the transaction for the DMARC evaluation at end of data and for Authentication-Results.
 *
 * With RELAY_SPF_REJECT_FAIL, a client that the domain's record explicitly forbids (`-all`,
 * result `fail`) is refused at once with `550 5.7.23` (RFC 7372), and a record that could not
 * be read (a DNS timeout or server failure) gets `451 4.7.24`, never a permanent refusal.
 * Softfail, neutral, none and permerror are only recorded.
 */
import { isIP } from 'node:net';
import type { SPFResult } from 'mailauth';
import type { Logger } from '@mailway/runtime';
import { unmappedAddress } from '@mailway/smtp/address';
import { type HookResult, defer, reject } from '@mailway/smtp/server';
import type { Address } from '@mailway/smtp/address';
import type { Session, Transaction } from '@mailway/smtp/server';
import type { AuthenticationMetrics } from './metrics.js';
import type { DnsResolver } from './resolver.js';

export type SpfResult = SPFResult;

/** Where the result waits in the transaction's locals. */
const local = 'spf';

/** The SPF result kept at MAIL FROM, if the check ran. */
export function spfOf(transaction: Transaction): SpfResult | undefined {
  return transaction.locals[local] as SpfResult | undefined;
}

export interface SpfFacts {
  readonly ip: string;
  readonly helo: string;
  /** The reverse-path; '' for the null sender (then the HELO name is checked). */
  readonly sender: string;
  /** This host, named in the result's comment. */
  readonly hostname: string;
}

/** Check SPF for one client and reverse-path. */
export async function checkSpf(facts: SpfFacts, resolver: DnsResolver): Promise<SpfResult> {
  // Loaded on first use, as in assess.ts.
  const { spf } = await import('mailauth');
  const ip = unmappedAddress(facts.ip);
  // mailauth checks postmaster@<HELO> when there is no sender; an address literal is bracketed.
  const helo = facts.helo === '' ? `[${ip}]` : isIP(facts.helo) === 0 ? facts.helo : `[${facts.helo}]`;
  return spf({ ip, helo, sender: facts.sender, mta: facts.hostname, resolver });
}

export interface SpfPolicy {
  readonly hostname: string;
  readonly resolver: DnsResolver;
  /** Does this session get checked, and refused on `fail`? */
  scope(session: Session): { readonly check: boolean; readonly enforce: boolean };
  readonly rejectFail: boolean;
  readonly logger: Logger;
  readonly metrics: AuthenticationMetrics;
  /** Counts a refusal (the relay's rejection metric). */
  refused(reason: 'spf_fail' | 'spf_temperror'): void;
}

/** The onMailFrom hook: check, keep, and refuse `fail` when asked to. */
export function spfMailFromHook(policy: SpfPolicy): (session: Session, transaction: Transaction, from: Address | null) => Promise<HookResult> {
  return async (session, transaction, from) => {
    const scope = policy.scope(session);
    if (!scope.check) return undefined;
    const sender = from === null ? '' : `${from.local}@${from.domain}`;
    const result = await checkSpf({ ip: session.remote.address, helo: session.helo?.name ?? '', sender, hostname: policy.hostname }, policy.resolver);
    transaction.locals[local] = result;
    const outcome = result.status.result;
    policy.metrics.results.inc({ method: 'spf', result: outcome });
    const log = { session: session.id, ip: session.remote.address, from: sender, domain: result.domain, spf: outcome };
    policy.logger.debug(log, 'SPF checked');

    // Only what the domain says for certain refuses; a lookup that failed may pass next time.
    if (!policy.rejectFail || !scope.enforce) return undefined;
    if (outcome === 'fail') {
      policy.refused('spf_fail');
      policy.logger.info(log, 'sender refused: SPF fail');
      return reject(550, '5.7.23', `SPF validation failed: ${result.domain} does not designate ${result['client-ip']} as a permitted sender`);
    }
    if (outcome === 'temperror') {
      policy.refused('spf_temperror');
      policy.logger.warn({ ...log, reason: result.status.comment ?? null }, 'sender deferred: SPF record could not be read');
      return defer(451, '4.7.24', 'Temporary SPF validation error, try again later');
    }
    return undefined;
  };
}
