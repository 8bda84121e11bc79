/**
 * The command tables: each verb with its handler and its flags, one table for SMTP and one
 * for LMTP (RFC 2033 replaces HELO/EHLO with LHLO and changes nothing else here).
 */
import type { SessionControl } from '../session-control.js';
import { auth } from './auth.js';
import { bdat, data } from './data.js';
import { etrn, help, noop, quit, rset, vrfy } from './basic.js';
import { ehlo, helo, lhlo } from './hello.js';
import { mail } from './mail.js';
import { rcpt } from './rcpt.js';
import { starttls } from './starttls.js';

export interface CommandSpec {
  readonly handle: (connection: SessionControl, argument: string) => void | Promise<void>;
  /** Allowed while TLS is required but not yet up (RFC 3207 §4). */
  readonly beforeTls: boolean;
  /** Part of a mail transaction; other commands count towards the idle-command limit. */
  readonly transaction: boolean;
}

type SharedVerb = 'MAIL' | 'RCPT' | 'DATA' | 'BDAT' | 'RSET' | 'NOOP' | 'QUIT' | 'VRFY' | 'HELP' | 'STARTTLS' | 'AUTH' | 'ETRN';
type SmtpVerb = SharedVerb | 'EHLO' | 'HELO';
type LmtpVerb = SharedVerb | 'LHLO';

const shared = {
  MAIL: { handle: mail, beforeTls: false, transaction: true },
  RCPT: { handle: rcpt, beforeTls: false, transaction: true },
  DATA: { handle: data, beforeTls: false, transaction: true },
  BDAT: { handle: bdat, beforeTls: false, transaction: true },
  RSET: { handle: rset, beforeTls: true, transaction: false },
  NOOP: { handle: noop, beforeTls: true, transaction: false },
  QUIT: { handle: quit, beforeTls: true, transaction: false },
  VRFY: { handle: vrfy, beforeTls: false, transaction: false },
  HELP: { handle: help, beforeTls: true, transaction: false },
  STARTTLS: { handle: starttls, beforeTls: true, transaction: false },
  AUTH: { handle: auth, beforeTls: false, transaction: false },
  ETRN: { handle: etrn, beforeTls: false, transaction: false },
} satisfies Record<SharedVerb, CommandSpec>;

const smtpCommands = {
  ...shared,
  EHLO: { handle: ehlo, beforeTls: true, transaction: false },
  HELO: { handle: helo, beforeTls: true, transaction: false },
} satisfies Record<SmtpVerb, CommandSpec>;

const lmtpCommands = {
  ...shared,
  LHLO: { handle: lhlo, beforeTls: true, transaction: false },
} satisfies Record<LmtpVerb, CommandSpec>;

// Maps, not objects: a verb sliced from the input is a fresh string, and an object lookup by
// one first has to find its interned copy.
const smtpTable: ReadonlyMap<string, CommandSpec> = new Map(Object.entries(smtpCommands));
const lmtpTable: ReadonlyMap<string, CommandSpec> = new Map(Object.entries(lmtpCommands));

/** The table for the dialect in use, by upper-case verb. */
export function commandTable(lmtp: boolean): ReadonlyMap<string, CommandSpec> {
  return lmtp ? lmtpTable : smtpTable;
}
