/**
 * Answers a connection the admission gate refused: its one reply, then the close. No session
 * is made for it, and it is never closed without a word.
 *
 * Reads: the accepted socket (plain, or TLS once its handshake is done). Emits: the reply, a FIN,
 * and the descriptor's release as soon as the reply has been handed to the system; input the
 * client sends meanwhile is dropped. A peer that does not take the reply within a few seconds is
 * cut off.
 */
import type { Socket } from 'node:net';
import { formatReply } from '../../reply/format.js';
import type { Reply } from '../../reply/reply.js';

/** How long a refused peer has to take its reply. */
const lingerMs = 5_000;

const wireText = new WeakMap<Reply, string>();

/** Writes `r` to `socket` and closes it. */
export function refuseConnection(socket: Socket, r: Reply): void {
  let text = wireText.get(r);
  if (text === undefined) {
    text = formatReply(r);
    wireText.set(r, text);
  }
  socket.on('error', ignore);
  socket.setTimeout(lingerMs, () => socket.destroy());
  // The reply and the FIN are queued together; once they are written the descriptor can go.
  socket.end(text, () => socket.destroy());
}

function ignore(): void {}
