/**
 * What a message's DMARC evaluation leads to (RFC 7489 §6.6): the one place that turns the
 * results into an action. Pure: the tables in disposition.test.ts hold every row.
 *
 *   no single From, no DMARC record, or pass   → accept
 *   record or identifier lookup failed          → defer (451 4.7.0): it may pass next time
 *   fail, p=none                                → accept (recorded only)
 *   fail, From domain in the local override     → accept, reason local_policy
 *   fail, trusted ARC sealer vouches for it     → accept, reason trusted_forwarder
 *   fail, not sampled by pct                    → one step milder (reject → quarantine → none), reason sampled_out
 *   fail, p=quarantine / p=reject               → quarantine / reject
 *
 * The policy is `sp` for a subdomain whose record was found at its organizational domain
 * (mailauth picks it). Reasons are RFC 7489's PolicyOverrideType names, for reports.
 */
import type { DMARCResult } from 'mailauth';
import type { DmarcAction } from './metrics.js';
import type { Assessment } from './assess.js';

export type DmarcReason = 'none' | 'pass' | 'policy' | 'temperror' | 'local_policy' | 'trusted_forwarder' | 'sampled_out';

export interface Disposition {
  readonly action: DmarcAction;
  readonly reason: DmarcReason;
  /** The published policy that applied (none, quarantine, reject), or null without a record. */
  readonly policy: Policy | null;
  /** The ARC sealer whose word was taken, for trusted_forwarder. */
  readonly sealer?: string;
}

type Policy = 'none' | 'quarantine' | 'reject';

export interface DispositionRules {
  /** From domains whose policy is not applied (each covers its subdomains). */
  readonly override: readonly string[];
  /** ARC sealers trusted to vouch for the original authentication. */
  readonly trustedSealers: readonly string[];
  /** A number in [0, 1) for the pct sample. */
  readonly random: () => number;
}

/** The action for `assessment` under `rules`. */
export function dispositionOf(assessment: Pick<Assessment, 'dmarc' | 'spf' | 'dkim' | 'arc' | 'fromDomain'>, rules: DispositionRules): Disposition {
  const { dmarc } = assessment;
  if (dmarc === false || dmarc.status.result === 'none') return { action: 'accept', reason: 'none', policy: null };
  if (dmarc.status.result === 'temperror') return { action: 'defer', reason: 'temperror', policy: null };
  const policy = policyOf(dmarc);
  if (dmarc.status.result === 'pass') return { action: 'accept', reason: 'pass', policy };

  // A failure: mild policies and anything that could still pass come first.
  if (policy === 'none') return { action: 'accept', reason: 'policy', policy };
  const unsure = assessment.spf.status.result === 'temperror' || assessment.dkim.some((r) => r.status.result === 'temperror');
  if (unsure) return { action: 'defer', reason: 'temperror', policy };
  const domain = assessment.fromDomain ?? '';
  if (rules.override.some((d) => within(domain, d))) return { action: 'accept', reason: 'local_policy', policy };
  const sealer = trustedSealer(assessment, rules.trustedSealers);
  if (sealer !== null) return { action: 'accept', reason: 'trusted_forwarder', policy, sealer };

  // pct (§6.6.4): a message outside the sample gets the next milder policy.
  const pct = typeof dmarc.pct === 'number' ? Math.max(0, Math.min(100, dmarc.pct)) : 100;
  const sampled = rules.random() * 100 < pct;
  if (!sampled) return policy === 'reject' ? { action: 'quarantine', reason: 'sampled_out', policy } : { action: 'accept', reason: 'sampled_out', policy };
  return { action: policy, reason: 'policy', policy };
}

/** The policy that applies; an unknown value is taken as none (§6.3: the record is then not a policy). */
function policyOf(dmarc: DMARCResult): Policy {
  const policy = String(dmarc.policy ?? '').toLowerCase();
  return policy === 'reject' || policy === 'quarantine' ? policy : 'none';
}

/**
 * The trusted sealer that vouches for the message, or null: the ARC chain validates, its newest
 * seal is by a trusted domain, and that hop's ARC-Authentication-Results says DMARC passed, or
 * that DKIM or SPF passed for a domain aligned with the From domain.
 */
function trustedSealer(assessment: Pick<Assessment, 'arc' | 'dmarc'>, trusted: readonly string[]): string | null {
  const { arc, dmarc } = assessment;
  if (arc.status.result !== 'pass' || dmarc === false) return null;
  const chain = arc.chain ?? [];
  const seal = chain[chain.length - 1]?.['arc-seal'] as { parsed?: { d?: { value?: string } } } | undefined;
  const sealer = seal?.parsed?.d?.value?.toLowerCase() ?? '';
  if (!trusted.some((domain) => within(sealer, domain))) return null;
  const results = (arc.authenticationResults ?? {}) as {
    dmarc?: { result?: string };
    dkim?: { result?: string; header?: { d?: string; i?: string } }[];
    spf?: { result?: string; smtp?: { mailfrom?: string } };
  };
  // Relaxed alignment (§3.1): within the From domain's organizational domain.
  const aligned = (domain: string | undefined): boolean => domain !== undefined && within(domain.replace(/^.*@/, '').toLowerCase(), dmarc.domain.toLowerCase());
  const vouched =
    results.dmarc?.result === 'pass' ||
    (results.dkim ?? []).some((d) => d.result === 'pass' && aligned(d.header?.d ?? d.header?.i)) ||
    (results.spf?.result === 'pass' && aligned(results.spf.smtp?.mailfrom));
  return vouched ? sealer : null;
}

/** Is `name` the domain `domain` or below it? */
function within(name: string, domain: string): boolean {
  return name === domain || name.endsWith(`.${domain}`);
}
