/**
 * What the submission agent keeps on a session: the authenticated user's canonical address.
 * Kept in the session's `locals`, so it lasts across transactions and goes with the session.
 */
import type { Session } from '@mailway/smtp/server';

/** Record who logged in on this session. */
export function setSessionUser(session: Session, address: string): void {
  session.locals.user = address;
}

/** The canonical address of the user logged in on this session, or null. */
export function sessionUser(session: Session): string | null {
  const user = session.locals.user;
  return typeof user === 'string' ? user : null;
}
