/**
 * The relay's part of end of data on port 25 (the intake, `@mailway/intake`, does the rest:
 * header block, loop check, hand-off, reply): Authentication-Results fields that claim this
 * site's checks are dropped unless the client is in the relay networks; sender authentication
 * (policy/authentication) refuses, defers or quarantines what the sending domain's DMARC policy
 * says; the Received field (and, when checked, Authentication-Results) goes in front.
 */
import { type HandoffTargets, type InflowGate, type Incoming, type Prepared, headerThenRest, queueIntake, readWhole, receivedFor } from '@mailway/intake';
import type { Logger } from '@mailway/runtime';
import { prependFields, removeAuthResults } from '@mailway/smtp/message';
import type { HookResult, MessageBody, Session, Transaction } from '@mailway/smtp/server';
import { envelopeAddress } from './address.js';
import type { DataOutcome, SenderAuthentication } from './policy/authentication/sender.js';
import type { RelayMetrics } from './metrics.js';
import type { RelayNetworks } from './policy/networks.js';

export interface DataPolicy {
  readonly hostname: string;
  /** Most Received fields a message may carry, this hop's own included (MAILWAY_HOPCOUNT_LIMIT). */
  readonly hopCountLimit: number;
  /** This site's authserv-ids: the host name and MAILWAY_AUTHSERV_IDS. */
  readonly authservIds: readonly string[];
  /** The MTAs inside the trust boundary (RELAY_NETWORKS), whose Authentication-Results fields stay. */
  readonly networks: RelayNetworks;
  readonly targets: HandoffTargets;
  /** Waits while delivery is behind (MAILWAY_IN_FLOW_DELAY); none: never. */
  readonly inflow?: InflowGate;
  /** SPF, DKIM, ARC and DMARC (RELAY_DMARC, RELAY_VERIFY). */
  readonly authentication: SenderAuthentication;
  readonly logger: Logger;
  readonly metrics: RelayMetrics;
}

/** The onData hook. */
export function dataHook(policy: DataPolicy): (session: Session, transaction: Transaction, body: MessageBody) => Promise<HookResult> {
  const { hostname, logger } = policy;
  return queueIntake(
    { agent: 'relay', hopCountLimit: policy.hopCountLimit, targets: policy.targets, ...(policy.inflow === undefined ? {} : { inflow: policy.inflow }), logger, metrics: policy.metrics },
    {
      addresses: (_session, transaction) => ({
        from: transaction.from === null ? '' : envelopeAddress(transaction.from, hostname),
        recipients: transaction.recipients.map((r) => envelopeAddress(r.address, hostname)),
      }),
      logFields: (session) => ({ ip: session.remote.address, helo: session.helo?.name ?? null, user: session.user }),
      prepare,
    },
  );

  async function prepare(message: Incoming): Promise<Prepared> {
    const { session, header, log } = message;
    const received = receivedFor(session, { hostname, queueId: message.queueId, recipients: message.recipients, utf8: message.transaction.mailParams.smtputf8, date: message.date });

    // Fields claiming this site's checks are forged unless an MTA inside the trust boundary
    // passed them on; a login does not make a client such an MTA.
    const stripped = policy.networks.contains(session.remote.address) ? { header, removed: 0 } : removeAuthResults(header, policy.authservIds);

    // Authentication needs the whole message as it came (a signature may cover any field); otherwise it streams through.
    let rest: AsyncIterable<Uint8Array> | Iterable<Uint8Array> = headerThenRest(stripped.header, message.rest);
    let outcome: DataOutcome = { kind: 'unchecked' };
    if (policy.authentication.scope(session).check) {
      const body = await readWhole(message.rest);
      outcome = await policy.authentication.atData(Buffer.concat([header, body]), session, message.transaction, message.from, log);
      rest = [stripped.header, body];
    }
    if (outcome.kind === 'refused') return { kind: 'refused', reason: outcome.reason, reply: outcome.reply };
    const results = outcome.kind === 'unchecked' ? [] : outcome.fields;
    return {
      kind: 'queue',
      content: prependFields([...results, received], rest),
      messageId: message.field('message-id'),
      user: session.user,
      quarantine: outcome.kind === 'quarantine',
      logFields: outcome.kind === 'unchecked' ? { authResults: null } : { ...outcome.logFields, ...(outcome.kind === 'quarantine' ? { quarantine: true } : {}) },
      queued: () => {
        if (stripped.removed > 0) logger.warn({ ...log, fields: stripped.removed }, 'removed Authentication-Results fields claiming this site from a client outside the trust boundary');
      },
    };
  }
}
