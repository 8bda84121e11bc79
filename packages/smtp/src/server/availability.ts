/**
 * withAvailability: gates a server's hooks on a store its work depends on (for Mailway's agents,
 * Redis), so that a client learns at once, not after sending a message, that nothing can be
 * stored now.
 *
 *   not open yet (the store never reached) → each new session: 421 4.3.2 "<host> Service not
 *                                            available, try again later", then close
 *   open, store away                       → RCPT: 451 4.3.0 "Temporary local problem, try
 *                                            again later" (the client keeps its session and
 *                                            never gets as far as DATA)
 *   open, store up                         → the hooks as given
 *
 * RFC 3463: X.3.2 is "system not accepting network messages", X.3.0 "other or undefined mail
 * system status". Reads the two predicates; emits verdicts only.
 */
import type { ServerHooks } from './hooks.js';
import { defer, disconnect } from './verdict.js';

export interface Availability {
  /** Start-up is complete: the store has been reached and checked. */
  readonly open: () => boolean;
  /** The store answers now. */
  readonly up: () => boolean;
}

const unavailable = defer(451, '4.3.0', 'Temporary local problem, try again later');

/** `hooks` behind the gate of `availability`; `hostname` heads the 421 reply (RFC 5321 §4.2). */
export function withAvailability(hooks: ServerHooks, availability: Availability, hostname: string): ServerHooks {
  const notAccepting = disconnect(421, '4.3.2', `${hostname} Service not available, try again later`);
  return {
    ...hooks,
    onConnect: (session) => (availability.open() ? hooks.onConnect?.(session) : notAccepting),
    onRcptTo: (session, transaction, recipient) => (availability.up() ? hooks.onRcptTo?.(session, transaction, recipient) : unavailable),
  };
}
