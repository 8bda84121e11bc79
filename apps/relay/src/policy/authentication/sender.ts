/**
 * Sender authentication on port 25, put together: SPF at MAIL FROM (spf.ts), DKIM, ARC and
 * DMARC at end of data (assess.ts), the policy's action (disposition.ts). Whose mail is
 * checked: every client when RELAY_VERIFY is on (recorded only); with RELAY_DMARC (the
 * default), clients that are neither authenticated nor in RELAY_NETWORKS, whose mail is also
 * held to the sending domain's policy:
 *
 *   reject      → 550 5.7.1 at end of data, nothing queued
 *   quarantine  → queued, marked for the recipient's Junk folder
 *   defer       → 451 4.7.0 (a lookup failed: the client tries again later)
 *
 * Emits one log line per evaluated message that is not simply accepted, the metrics of
 * metrics.ts, and each evaluation to `recorded` (the aggregate reports), when given.
 */
import type { Logger } from '@mailway/runtime';
import { type HookResult, defer, reject } from '@mailway/smtp/server';
import type { Session, Transaction } from '@mailway/smtp/server';
import type { RelayNetworks } from '../networks.js';
import { type Assessment, assess, summaryOf } from './assess.js';
import { type Disposition, dispositionOf } from './disposition.js';
import type { AuthenticationMetrics } from './metrics.js';
import type { DnsResolver } from './resolver.js';
import type { AuthenticationSettings } from './settings.js';
import { checkSpf, spfMailFromHook, spfOf } from './spf.js';

export interface SenderAuthenticationOptions {
  readonly hostname: string;
  readonly settings: AuthenticationSettings;
  /** RELAY_VERIFY: check and record for every client, trusted ones included. */
  readonly verifyAll: boolean;
  readonly networks: RelayNetworks;
  readonly resolver: DnsResolver;
  readonly logger: Logger;
  readonly metrics: AuthenticationMetrics;
  /** Counts a refusal in the relay's rejection metric. */
  readonly refused: (reason: 'spf_fail' | 'spf_temperror') => void;
  /** Told of every message whose DMARC was evaluated under policy (aggregate reports). */
  readonly recorded?: (evaluation: Evaluation) => void;
  /** For the pct sample; Math.random by default. */
  readonly random?: () => number;
}

/** One evaluated message, as the aggregate report needs it. */
export interface Evaluation {
  readonly ip: string;
  readonly assessment: Assessment;
  readonly disposition: Disposition;
  readonly envelopeFrom: string;
}

/** What end of data learns. */
export type DataOutcome =
  | { readonly kind: 'unchecked' }
  | {
      readonly kind: 'accept' | 'quarantine';
      /** This hop's ARC set (when sealing) and Authentication-Results field; none when the checks broke. */
      readonly fields: readonly string[];
      readonly logFields: Readonly<Record<string, unknown>>;
    }
  | { readonly kind: 'refused'; readonly reason: 'dmarc_reject' | 'dmarc_temperror'; readonly reply: HookResult; readonly logFields: Readonly<Record<string, unknown>> };

/** The checks for the relay's hooks: `mailFrom` (onMailFrom), `scope` and `atData` (end of data). */
export function createSenderAuthentication(options: SenderAuthenticationOptions) {
  const { settings, logger, metrics, resolver, hostname } = options;
  const random = options.random ?? Math.random;
  const seal = settings.arcSealKey === undefined || settings.arcSealDomain === undefined || settings.arcSealSelector === undefined ? null : { signingDomain: settings.arcSealDomain, selector: settings.arcSealSelector, privateKey: settings.arcSealKey };

  /** Is this session checked, and held to the sending domain's policy? */
  function scope(session: Session): { check: boolean; enforce: boolean } {
    const trusted = session.user !== null || options.networks.contains(session.remote.address);
    const enforce = settings.dmarc && !trusted;
    return { check: enforce || options.verifyAll, enforce };
  }

  const mailFrom = spfMailFromHook({ hostname, resolver, scope, rejectFail: settings.spfRejectFail, logger, metrics, refused: options.refused });

  /** The checks at end of data for `message` (as received, before this host's fields). */
  async function atData(message: Buffer, session: Session, transaction: Transaction, sender: string, log: Readonly<Record<string, unknown>>): Promise<DataOutcome> {
    const { check, enforce } = scope(session);
    if (!check) return { kind: 'unchecked' };
    let assessment: Assessment;
    try {
      const spf = spfOf(transaction) ?? (await checkSpf({ ip: session.remote.address, helo: session.helo?.name ?? '', sender, hostname }, resolver));
      assessment = await assess(message, spf, { hostname, sender, resolver, seal });
    } catch (error) {
      // A check that breaks: a client held to policy tries again; a trusted one's mail goes on unrecorded.
      logger.warn({ ...log, err: error }, 'sender authentication not checked');
      if (!enforce) return { kind: 'accept', fields: [], logFields: {} };
      return { kind: 'refused', reason: 'dmarc_temperror', reply: tempfail, logFields: {} };
    }
    count(assessment);
    const authResults = summaryOf(assessment);
    // This hop's ARC set goes above its Authentication-Results field.
    const fields = [...assessment.seal, assessment.field];
    if (!enforce) return { kind: 'accept', fields, logFields: { authResults } };

    // The sending domain's policy.
    const disposition = dispositionOf(assessment, { override: settings.dmarcOverride, trustedSealers: settings.arcTrustedSealers, random });
    metrics.dmarc.inc({ action: disposition.action, reason: disposition.reason });
    const dmarc = { domain: assessment.fromDomain, result: assessment.dmarc === false ? 'none' : assessment.dmarc.status.result, policy: disposition.policy, action: disposition.action, reason: disposition.reason, ...(disposition.sealer === undefined ? {} : { sealer: disposition.sealer }) };
    const logFields = { authResults, dmarc };
    if (assessment.dmarc !== false && assessment.dmarc.status.result !== 'none' && assessment.dmarc.status.result !== 'temperror') options.recorded?.({ ip: session.remote.address, assessment, disposition, envelopeFrom: sender });
    switch (disposition.action) {
      case 'reject':
        logger.info({ ...log, ...logFields }, 'message refused: DMARC policy reject');
        return { kind: 'refused', reason: 'dmarc_reject', reply: reject(550, '5.7.1', `Message rejected per DMARC policy of ${assessment.dmarc === false ? assessment.fromDomain : assessment.dmarc.domain}`), logFields };
      case 'defer':
        logger.warn({ ...log, ...logFields }, 'message deferred: DMARC could not be evaluated');
        return { kind: 'refused', reason: 'dmarc_temperror', reply: tempfail, logFields };
      case 'quarantine':
        return { kind: 'quarantine', fields, logFields };
      case 'accept':
        if (disposition.reason === 'local_policy' || disposition.reason === 'trusted_forwarder') logger.info({ ...log, ...logFields }, `DMARC failure accepted: ${disposition.reason === 'local_policy' ? 'domain in RELAY_DMARC_OVERRIDE_DOMAINS' : 'vouched for by a trusted ARC sealer'}`);
        return { kind: 'accept', fields, logFields };
    }
  }

  function count(assessment: Assessment): void {
    for (const signature of assessment.dkim) metrics.results.inc({ method: 'dkim', result: signature.status.result });
    metrics.results.inc({ method: 'arc', result: assessment.arc.status.result });
    metrics.results.inc({ method: 'dmarc', result: assessment.dmarc === false ? 'none' : assessment.dmarc.status.result });
  }

  return { scope, mailFrom, atData };
}

export type SenderAuthentication = ReturnType<typeof createSenderAuthentication>;

const tempfail = defer(451, '4.7.0', 'Temporary authentication failure, try again later');
