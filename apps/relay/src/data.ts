/**
 * The relay's part of end of data on port 25 (the intake, `@mailway/intake`, does the rest:
 * header block, loop check, hand-off, reply): Authentication-Results fields that claim this
 * site's checks are dropped unless the client is in the relay networks; the Received field
 * (and, when verification is on, Authentication-Results) goes in front of the message.
 */
import { type HandoffTargets, type Incoming, type Prepared, headerThenRest, queueIntake, readWhole, receivedFor } from '@mailway/intake';
import type { Logger } from '@mailway/runtime';
import { unmappedAddress } from '@mailway/smtp/address';
import { prependFields, removeAuthResults } from '@mailway/smtp/message';
import type { HookResult, MessageBody, Session, Transaction } from '@mailway/smtp/server';
import { envelopeAddress } from './address.js';
import type { Verifier } from './message/verify.js';
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
  /** null when RELAY_VERIFY is off. */
  readonly verifier: Verifier | null;
  readonly logger: Logger;
  readonly metrics: RelayMetrics;
}

/** The onData hook. */
export function dataHook(policy: DataPolicy): (session: Session, transaction: Transaction, body: MessageBody) => Promise<HookResult> {
  const { hostname, logger } = policy;
  return queueIntake(
    { agent: 'relay', hopCountLimit: policy.hopCountLimit, targets: policy.targets, logger, metrics: policy.metrics },
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

    // Verification needs the whole message as it came (a signature may cover any field); otherwise it streams through.
    let rest: AsyncIterable<Uint8Array> | Iterable<Uint8Array> = headerThenRest(stripped.header, message.rest);
    let verdicts: string | null = null;
    if (policy.verifier !== null) {
      const body = await readWhole(message.rest);
      verdicts = await verify(policy.verifier, Buffer.concat([header, body]), { ip: unmappedAddress(session.remote.address), helo: session.helo?.name ?? '', sender: message.from, hostname });
      rest = [stripped.header, body];
    }
    return {
      kind: 'queue',
      content: prependFields(verdicts === null ? [received] : [verdicts, received], rest),
      messageId: message.field('message-id'),
      user: session.user,
      logFields: { authResults: verdicts === null ? null : summary(verdicts) },
      queued: () => {
        if (stripped.removed > 0) logger.warn({ ...log, fields: stripped.removed }, 'removed Authentication-Results fields claiming this site from a client outside the trust boundary');
      },
    };
  }

  /** The Authentication-Results field, or null when the checks could not be run. */
  async function verify(verifier: Verifier, message: Buffer, facts: Parameters<Verifier>[1]): Promise<string | null> {
    try {
      return await verifier(message, facts);
    } catch (error) {
      logger.warn({ err: error, ip: facts.ip }, 'sender authentication not checked');
      return null;
    }
  }
}

/** `dkim=pass spf=pass dmarc=pass` from an Authentication-Results field, for the log. */
function summary(field: string): string {
  return [...field.matchAll(/\b(dkim|spf|dmarc)=(\w+)/g)].map((m) => `${m[1]}=${m[2]}`).join(' ');
}
