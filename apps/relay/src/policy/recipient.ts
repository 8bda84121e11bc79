/**
 * The RCPT policy of inbound SMTP: never an open relay.
 *
 *   local domain, user or alias       → 250 (after greylisting, when on)
 *   local domain, nobody of that name → 550 5.1.1 "<addr>: Recipient address rejected: User unknown"
 *   a held domain (RELAY_HOLD_DOMAINS) → 250 (after greylisting, when on): this host is its
 *                                       site's relay, and keeps its mail until the site asks
 *   any other destination             → 250 only for an authenticated client or one in
 *                                       RELAY_NETWORKS, else 554 5.7.1 "Relay access denied"
 *
 * The domain is what the parser found after the local part: a source route is ignored
 * (RFC 5321 appendix C), an address literal is never local, and `%`, `!` or a quoted `@` in
 * the local part are looked up as part of the name, never routed. Directory trouble answers
 * 451 4.3.0; the peer never learns more than "unknown" or "denied".
 */
import { type Directory, DirectoryError, type Resolution } from '@mailway/directory';
import type { Logger } from '@mailway/runtime';
import { type HookResult, defer, reject } from '@mailway/smtp/server';
import type { Recipient, Session, Transaction } from '@mailway/smtp/server';
import { isAddressLiteral, routingDomain } from '@mailway/intake';
import { envelopeAddress } from '../address.js';
import type { RejectionReason, RelayMetrics } from '../metrics.js';
import type { Greylist } from './greylist.js';
import type { RelayNetworks } from './networks.js';

export interface RecipientPolicy {
  readonly hostname: string;
  readonly directory: Directory;
  readonly networks: RelayNetworks;
  /** null when greylisting is off. */
  readonly greylist: Greylist | null;
  readonly maxRecipients: number;
  /** Domains whose mail this host keeps for their sites (RELAY_HOLD_DOMAINS); none when unset. */
  readonly holds?: (domain: string) => boolean;
  readonly logger: Logger;
  readonly metrics: RelayMetrics;
}

const relayDenied = reject(554, '5.7.1', 'Relay access denied');
const tooManyRecipients = defer(452, '4.5.3', 'Too many recipients');
const greylisted = defer(451, '4.7.1', 'Greylisted, please try again later');
const lookupFailed = defer(451, '4.3.0', 'Temporary lookup failure, try again later');

/** May this session relay to any domain? */
export function mayRelay(session: Session, networks: RelayNetworks): boolean {
  return session.user !== null || networks.contains(session.remote.address);
}

/** The onRcptTo hook. */
export function rcptToHook(policy: RecipientPolicy): (session: Session, transaction: Transaction, recipient: Recipient) => Promise<HookResult> {
  const { directory, logger, metrics } = policy;

  return async (session, transaction, recipient) => {
    const address = envelopeAddress(recipient.address, policy.hostname);
    const sender = transaction.from === null ? '' : envelopeAddress(transaction.from, policy.hostname);
    const log = { session: session.id, ip: session.remote.address, user: session.user, from: sender, to: address };

    // Sanity checks.
    if (transaction.recipients.length >= policy.maxRecipients) return refuse('too_many_recipients', tooManyRecipients, 'too many recipients');

    try {
      // Where would it go? An address literal is somebody else's host.
      const resolution = isAddressLiteral(recipient.address.domain) ? remote : await resolve(directory, address);
      const trusted = mayRelay(session, policy.networks);

      // Other domains: only for trusted clients, unless this host keeps the domain's mail for its site.
      const held = resolution.kind === 'remote' && !isAddressLiteral(recipient.address.domain) && policy.holds?.(routingDomain(address)) === true;
      if (resolution.kind === 'remote' && !held) {
        if (!trusted) return refuse('relay_denied', relayDenied, 'relay access denied');
        return undefined;
      }

      // Ours: somebody must be there.
      if (!held && resolution.kind === 'unknown') {
        return refuse('unknown_user', reject(550, '5.1.1', `<${address}>: Recipient address rejected: User unknown`), 'user unknown');
      }

      // Greylisting, for strangers only.
      if (policy.greylist === null) return undefined;
      if (trusted) {
        metrics.greylist.inc({ outcome: 'exempt' });
        return undefined;
      }
      const outcome = await policy.greylist.check(session.remote.address, sender, address);
      metrics.greylist.inc({ outcome });
      if (outcome === 'new' || outcome === 'early') return refuse('greylisted', greylisted, `greylisted (${outcome})`);
      return undefined;
    } catch (error) {
      metrics.rejections.inc({ reason: 'lookup_failed' });
      logger.error({ ...log, err: error }, 'recipient deferred: lookup failed');
      return lookupFailed;
    }

    function refuse(reason: RejectionReason, verdict: HookResult, why: string): HookResult {
      metrics.rejections.inc({ reason });
      logger.info(log, `recipient refused: ${why}`);
      return verdict;
    }
  };
}

const remote: Resolution = { kind: 'remote' };

/** The directory's answer; a name it cannot even read is not one of its domains. */
async function resolve(directory: Directory, address: string): Promise<Resolution> {
  try {
    return await directory.resolve(address);
  } catch (error) {
    if (error instanceof DirectoryError) return remote;
    throw error;
  }
}
