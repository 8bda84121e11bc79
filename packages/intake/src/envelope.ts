/**
 * What an SMTP or LMTP transaction becomes in a job: the envelope with its DSN parameters
 * (RFC 3461 NOTIFY and ORCPT per recipient; RET, ENVID, BODY, SMTPUTF8, REQUIRETLS for the
 * message) and where it came from. Addresses are given as the agent writes them (the relay
 * qualifies a bare postmaster with its host name, the others take the path as it is).
 */
import type { Envelope, EnvelopeRecipient, Origin } from '@mailway/queue/jobs';
import type { Session, Transaction } from '@mailway/smtp/server';

/** The transaction's recipients at `addresses` (one per recipient, in order), with their DSN parameters. */
export function recipientsOf(transaction: Transaction, addresses: readonly string[]): EnvelopeRecipient[] {
  return transaction.recipients.map((r, i) => ({
    address: addresses[i] ?? '',
    notify: r.params.notify === null ? null : r.params.notify === 'NEVER' ? 'NEVER' : [...r.params.notify],
    orcpt: r.params.orcpt === null ? null : { type: r.params.orcpt.type, address: r.params.orcpt.address },
  }));
}

/** The envelope as accepted; `from` is '' for the null reverse-path. */
export function envelopeOf(transaction: Transaction, from: string, recipients: readonly string[]): Envelope {
  const params = transaction.mailParams;
  return {
    from,
    recipients: recipientsOf(transaction, recipients),
    body: params.body,
    smtputf8: params.smtputf8,
    ret: params.ret,
    envid: params.envid,
    requireTls: params.requireTls,
  };
}

/** Who handed the message to `agent`, and when. */
export function originOf(session: Session, agent: Origin['agent'], user: string | null, date: Date): Origin {
  return {
    agent,
    client: { address: session.remote.address, port: session.remote.port, helo: session.helo?.name ?? null },
    user,
    tls: session.tls === null ? null : { protocol: session.tls.protocol, cipher: session.tls.cipher },
    receivedAt: date.toISOString(),
  };
}
