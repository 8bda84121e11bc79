/**
 * Protocol violations that end a session: input the server answers once and then closes on,
 * running nothing else that arrived with it.
 * - A command line ending in a bare LF or holding a bare CR: the framing is broken, so
 *   nothing after it can be trusted to mean what it seems (SMTP smuggling relies on servers
 *   that read on).
 * - A line of another protocol: an HTTP request line or header (a browser made to post to a
 *   mail port, the cross-protocol attack Postfix stops with `smtpd_forbidden_commands`). Its
 *   body may carry SMTP commands; none of them may run.
 * - Input before the greeting (an early talker).
 *
 * Reads: the verb of a command the command table does not know. Emits: the reply to send and
 * the violation to report to the application's onViolation hook.
 */
import { reply } from '../reply/reply.js';

export type ViolationKind = 'bare-lf' | 'bare-cr' | 'forbidden-command' | 'early-talker';

/** What the application hears about a violation (for its log line and metrics). */
export interface ProtocolViolation {
  readonly kind: ViolationKind;
  /** The forbidden-command list entry the line matched (`GET`, `Host:`); null for other kinds. */
  readonly command: string | null;
}

/**
 * Verbs and header names (with their colon) that never begin an SMTP command line: HTTP
 * request methods and the header fields every HTTP client sends.
 */
export const defaultForbiddenCommands: readonly string[] = [
  'CONNECT',
  'DELETE',
  'GET',
  'HEAD',
  'OPTIONS',
  'PATCH',
  'POST',
  'PUT',
  'TRACE',
  'Accept:',
  'Connection:',
  'Content-Length:',
  'Content-Type:',
  'Cookie:',
  'Host:',
  'Origin:',
  'Referer:',
  'Transfer-Encoding:',
  'Upgrade:',
  'User-Agent:',
];

export const bareLfReply = reply(500, '5.5.2', 'Bare <LF> received; lines must end with <CR><LF>');
export const bareCrReply = reply(500, '5.5.2', 'Bare <CR> received; lines must end with <CR><LF>');
export const forbiddenCommandReply = reply(554, '5.7.0', 'Not an SMTP command; closing connection');

/** Matches verbs against a forbidden-command list, case-insensitively. */
export class ForbiddenCommands {
  // Upper-cased entry → the entry as configured.
  private readonly entries: ReadonlyMap<string, string>;

  constructor(list: readonly string[]) {
    this.entries = new Map(list.map((entry) => [entry.toUpperCase(), entry]));
  }

  /**
   * The list entry `verb` matches, or null. A header line's verb may run into its value
   * (`Host:example.org`), so a verb with a colon also matches by the part up to it.
   */
  match(verb: string): string | null {
    if (this.entries.size === 0) return null;
    const upper = verb.toUpperCase();
    const colon = upper.indexOf(':');
    return this.entries.get(upper) ?? (colon > 0 ? this.entries.get(upper.slice(0, colon + 1)) : undefined) ?? null;
  }
}
