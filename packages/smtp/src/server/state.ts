/**
 * The mutable session and transaction records behind the read-only `Session` and
 * `Transaction` views that hooks receive.
 */
import type { Socket } from 'node:net';
import type { Address, MailParams } from '../address/index.js';
import type { Endpoint, Recipient, Session, TlsInfo, Transaction } from './types.js';

export class SessionState implements Session {
  readonly remote: Endpoint;
  readonly local: Endpoint;
  tls: TlsInfo | null = null;
  helo: { verb: 'HELO' | 'EHLO' | 'LHLO'; name: string } | null = null;
  user: string | null = null;
  transactions = 0;
  readonly locals: Record<string, unknown> = {};

  constructor(
    readonly id: string,
    socket: Socket,
    readonly lmtp: boolean,
  ) {
    this.remote = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    this.local = { address: socket.localAddress ?? '', port: socket.localPort ?? 0 };
  }

  /** EHLO or LHLO: service extensions are in force. */
  get extended(): boolean {
    return this.helo !== null && this.helo.verb !== 'HELO';
  }
}

export class TransactionState implements Transaction {
  readonly recipients: Recipient[] = [];
  readonly locals: Record<string, unknown> = {};

  constructor(
    readonly from: Address | null,
    readonly mailParams: MailParams,
  ) {}

  /** RCPT accepted: the recipient joins the envelope. */
  addRecipient(recipient: Recipient): void {
    this.recipients.push(recipient);
  }
}
