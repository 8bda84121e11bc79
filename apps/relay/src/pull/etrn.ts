/**
 * ETRN (RFC 1985) on port 25: a site asks for the mail held for it. The node names one held
 * domain (`example.com`), or a domain and every domain below it (`@example.com`); queue names
 * (`#queue`) are not supported. Only a trusted client may ask (RELAY_NETWORKS,
 * RELAY_ETRN_NETWORKS, or authenticated); the reply comes at once and delivery runs behind it,
 * through the outbound worker: the domain's deferred and held mail is moved to the front.
 *
 *   253 2.0.0 OK, <n> pending messages for node <x> started
 *   251 2.0.0 OK, no messages waiting for node <x>
 *   250 2.0.0 OK, queuing for node <x> started         (many messages: still being moved on)
 *   458 4.3.0 Unable to queue messages for node <x>      (being pulled by ODMR, or Redis trouble)
 *   459 4.7.1 Node <x> not allowed: <reason>             (stranger, domain not held, #queue)
 *
 * Reads: the queues (through the queue admin), the pull locks. Emits: promoted outbound jobs,
 * one log line per request, relay_etrn_total by outcome.
 */
import type { QueueAdmin } from '@mailway/queue/admin';
import type { Logger } from '@mailway/runtime';
import { type HookResult, type Session, accept, defer } from '@mailway/smtp/server';
import type { RelayNetworks } from '../policy/networks.js';
import { type HoldDomains, nodeMatcher } from './domains.js';
import type { PullLocks } from './locks.js';

export type EtrnOutcome = 'started' | 'none' | 'refused' | 'locked' | 'failed';

export interface EtrnPolicy {
  readonly holds: HoldDomains;
  /** Clients that may relay, and those that may only ask for held mail. */
  readonly networks: RelayNetworks;
  readonly etrnNetworks: RelayNetworks;
  readonly admin: Pick<QueueAdmin, 'retryAll'>;
  readonly locks: PullLocks;
  readonly logger: Logger;
  readonly requests: { inc(labels: { outcome: EtrnOutcome }): void };
  /** How long the reply waits for the mail to be moved on before it says only "started" (ms). */
  readonly replyWithin?: number;
}

/** Moving on a few hundred messages fits in this; more go on after a 250. */
const defaultReplyWithin = 1_000;

/** The onEtrn hook. */
export function etrnHook(policy: EtrnPolicy): (session: Session, node: string) => Promise<HookResult> {
  const { holds, logger } = policy;

  return async (session, node) => {
    const log = { session: session.id, ip: session.remote.address, user: session.user, node };
    const answer = (outcome: EtrnOutcome, verdict: HookResult, fields: object = {}): HookResult => {
      policy.requests.inc({ outcome });
      logger.info({ ...log, outcome, ...fields }, 'etrn');
      return verdict;
    };

    // Who asks, and for what.
    if (node.startsWith('#')) return answer('refused', defer(459, '4.3.0', `Node ${node} not allowed: queue names are not supported`), { reason: 'queue name' });
    const trusted = session.user !== null || policy.networks.contains(session.remote.address) || policy.etrnNetworks.contains(session.remote.address);
    if (!trusted) return answer('refused', defer(459, '4.7.1', `Node ${node} not allowed: unauthorized client`), { reason: 'client not allowed' });
    const name = node.replace(/^@/, '').toLowerCase();
    if (!node.startsWith('@') && !holds.holds(name)) return answer('refused', defer(459, '4.3.0', `Node ${node} not allowed: no mail is held for it`), { reason: 'domain not held' });

    // Start: the matching held domains' mail. A domain a site is pulling by ODMR now is the
    // puller's (the outbound worker leaves it alone meanwhile).
    try {
      if (!node.startsWith('@') && (await policy.locks.held(name))) return answer('locked', defer(458, '4.3.0', `Unable to queue messages for node ${node}`), { reason: 'being pulled' });
      const matches = nodeMatcher(node);
      const moving = policy.admin.retryAll({ match: (domain) => matches(domain) && holds.holds(domain) }).then(({ promoted }) => ({
        messages: new Set(promoted.map((p) => p.queueId)).size,
        domains: [...new Set(promoted.map((p) => p.domain))],
      }));
      // The reply comes at once (RFC 1985): with the count when the mail is moved on quickly, else
      // as "started" while the rest is moved on behind it.
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), policy.replyWithin ?? defaultReplyWithin)));
      const moved = await Promise.race([moving, late]).finally(() => clearTimeout(timer));
      if (moved === null) {
        moving.then(
          (done) => logger.info({ ...log, ...done }, 'etrn: mail moved on'),
          (error: unknown) => logger.error({ ...log, err: error }, 'etrn failed after its reply: the rest waits for the next request'),
        );
        return answer('started', accept(`OK, queuing for node ${node} started`, 250));
      }
      if (moved.messages === 0) return answer('none', accept(`OK, no messages waiting for node ${node}`, 251));
      return answer('started', accept(`OK, ${moved.messages} pending messages for node ${node} started`, 253), moved);
    } catch (error) {
      logger.error({ ...log, err: error }, 'etrn failed');
      policy.requests.inc({ outcome: 'failed' });
      return defer(458, '4.3.0', `Unable to queue messages for node ${node}`);
    }
  };
}
