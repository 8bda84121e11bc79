/**
 * The accept path of an implicit-TLS listener (port 465 style): each accepted TCP connection is
 * admitted by the gate at once, then wrapped in TLS; after the handshake an admitted one gets its
 * session and a refused one its 421, inside TLS, where the client can read it.
 *
 * Reads: accepted TCP sockets. Emits: TLS sockets to `serve` (with their ticket) or to
 * `refuseConnection`; handshake errors other than resets to `onError`. A handshake has a deadline;
 * a ticket is given back if the connection closes before its handshake is done (after it, the
 * session gives it back). At most `maxRefusalsInHandshake` refused connections wait for their
 * handshake at once; beyond that a refused connection is closed at once.
 */
import type { Socket } from 'node:net';
import { type SecureContext, TLSSocket, type TLSSocketOptions } from 'node:tls';
import { type AdmissionGate, type Ticket, isRefused } from './admission/gate.js';
import { refuseConnection } from './admission/refuse.js';

const maxRefusalsInHandshake = 64;

export interface ImplicitTlsOptions {
  readonly secureContext: SecureContext;
  readonly gate: AdmissionGate | null;
  readonly handshakeTimeout: number;
  readonly serve: (socket: TLSSocket, ticket: Ticket | null) => void;
  readonly onError: (error: Error) => void;
}

/** The connection listener of an implicit-TLS net.Server. */
export function implicitTlsAcceptor(options: ImplicitTlsOptions): (raw: Socket) => void {
  const { secureContext, gate, serve, onError } = options;
  let refusedInHandshake = 0;

  return (raw) => {
    // Admission first, so that handshakes in progress count against the limits.
    const admission = gate === null ? null : gate.admit(raw.remoteAddress ?? '');
    const refused = admission !== null && isRefused(admission) ? admission : null;
    const ticket = admission !== null && !isRefused(admission) ? admission : null;
    if (refused !== null && refusedInHandshake >= maxRefusalsInHandshake) {
      raw.destroy();
      return;
    }

    // The handshake, with a deadline.
    const secure = new TLSSocket(raw, { isServer: true, secureContext, allowHalfOpen: true } as TLSSocketOptions);
    if (refused !== null) refusedInHandshake += 1;
    let handshaking = true;
    const deadline = setTimeout(() => secure.destroy(), options.handshakeTimeout);
    const handshakeOver = (): void => {
      handshaking = false;
      clearTimeout(deadline);
      if (refused !== null) refusedInHandshake -= 1;
    };
    // Handshake failures are the client's problem: reported, never fatal.
    const handshakeFailed = (error: Error): void => {
      if (!isReset(error)) onError(error);
      secure.destroy();
    };
    secure.on('error', handshakeFailed);
    // A client that closes its side before the handshake is done is gone.
    secure.once('end', () => {
      if (handshaking) secure.destroy();
    });
    secure.once('close', () => {
      if (!handshaking) return;
      handshakeOver();
      if (ticket !== null) gate?.release(ticket);
    });

    // Hand off.
    secure.once('secure', () => {
      handshakeOver();
      secure.off('error', handshakeFailed);
      if (refused !== null) refuseConnection(secure, refused.reply);
      else serve(secure, ticket);
    });
  };
}

/** Resets and broken pipes are everyday events for a mail server, not faults. */
function isReset(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}
