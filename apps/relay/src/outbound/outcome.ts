/**
 * The outbound side's one error policy: what a remote server's answer, or a failure to get
 * one, means for the recipients of a delivery attempt. Like Postfix's smtp_trouble.c, the only
 * place that decides between "try the next host", "defer", and "fail these recipients".
 *
 * Reads: the SMTP client's per-recipient results and its errors (phase, kind, reply,
 * temporary, status). Emits: a verdict per recipient (delivered, deferred, failed) with the
 * RFC 3463 status and the diagnostic a DSN reports, or the decision to move on to the next
 * host. Unknown errors count as temporary: nothing is bounced on a guess.
 */
import type { RecipientResult } from '@mailway/smtp/client';
import { SmtpClientError, SmtpSendError } from '@mailway/smtp/client';
import { type Reply, describeReply } from '@mailway/smtp/reply';

export type RecipientState = 'delivered' | 'deferred' | 'failed';

/** How one recipient fared, as a DSN and an operator see it. */
export interface Verdict {
  readonly state: RecipientState;
  /** RFC 3463 status, e.g. 2.0.0, 4.4.1, 5.1.1. */
  readonly status: string;
  /** The remote reply (`550 5.1.1 No such user`) or Mailway's own diagnostic. */
  readonly diagnostic: string;
  /** True when the diagnostic is the remote server's reply (a DSN's `smtp;` Diagnostic-Code). */
  readonly remote: boolean;
}

/** What an error during a session means for the attempt as a whole. */
export type SessionVerdict =
  /** This host cannot take the message now: try the next one; when none is left, this is the verdict for every recipient. */
  | {
      readonly kind: 'next-host';
      readonly verdict: Verdict;
      readonly tlsFailed: boolean;
      /** The host turned the session away as one too many (see `isCongestion`): fewer at once will do. */
      readonly congested?: boolean;
    }
  /** The message itself was refused (sender, size, content, an extension it needs): decided for every recipient. */
  | { readonly kind: 'all-recipients'; readonly verdict: Verdict };

/** A recipient's own result, from the reply to its RCPT or to the end of data. */
export function recipientVerdict(result: RecipientResult): Verdict {
  const reply = result.reply;
  const state: RecipientState = result.status === 'delivered' ? 'delivered' : result.status === 'temporary' ? 'deferred' : 'failed';
  return { state, status: reply.enhanced ?? `${String(reply.code)[0]}.0.0`, diagnostic: remoteDiagnostic(reply), remote: true };
}

/**
 * What a failed session or transaction means. An SmtpSendError that got as far as the
 * recipients is not handled here: its per-recipient results decide (see `recipientVerdict`).
 */
export function sessionVerdict(error: unknown): SessionVerdict {
  if (!(error instanceof SmtpClientError)) {
    const text = error instanceof Error ? error.message : String(error);
    return { kind: 'next-host', verdict: deferred('4.4.0', `delivery failed: ${text}`), tlsFailed: false };
  }
  const reply = error.reply;
  const verdict: Verdict = reply
    ? { state: error.temporary ? 'deferred' : 'failed', status: reply.enhanced ?? `${error.temporary ? 4 : 5}.0.0`, diagnostic: remoteDiagnostic(reply), remote: true }
    : { state: error.temporary ? 'deferred' : 'failed', status: error.status ?? defaultStatus(error), diagnostic: error.message, remote: false };

  // A login refused (or not attempted without TLS) is this host's configuration, not the
  // message's fault: defer, as Postfix's smtp_sasl_auth_soft_bounce does, so that a wrong or
  // expired smart host password never returns every message.
  if (error.phase === 'auth') return { kind: 'next-host', verdict: { ...verdict, state: 'deferred', status: reply?.enhanced ? `4${reply.enhanced.slice(1)}` : '4.7.0' }, tlsFailed: false };

  // A host that greets with 5xx refuses this client, not the message (often a listing of the
  // sending address): the next host is tried, and if none takes it the message waits, as with
  // Postfix's smtp_skip_5xx_greeting.
  if (error.phase === 'greeting' && reply !== null && error.permanent) return { kind: 'next-host', verdict: { ...verdict, state: 'deferred', status: `4${verdict.status.slice(1)}` }, tlsFailed: false };

  // RFC 8689 §4.2.1: a host that cannot take a REQUIRETLS message is left for the next one; only
  // when none can is the message refused.
  if (error.kind === 'policy' && error.status === '5.7.30') return { kind: 'next-host', verdict, tlsFailed: false };

  // Refusals of the message itself: no other host of the same domain would answer otherwise.
  if (error.kind === 'policy' && error.permanent && error.phase === 'mail') return { kind: 'all-recipients', verdict };
  if (error.kind === 'reply' && error.permanent && (error.phase === 'mail' || error.phase === 'data')) return { kind: 'all-recipients', verdict };

  // Everything else is about this host (it is down, busy, refuses to talk, or broke off).
  return { kind: 'next-host', verdict, tlsFailed: error.kind === 'tls' && error.phase === 'starttls', congested: isCongestion(error) };
}

/** Words with which servers turn away a connection over their limit ("Too many connections"). */
const tooManyWords = /too many|concurren|connection limit|max(imum)? (number of )?(connections|clients|sessions)/i;

/**
 * Whether a failed session says the host has more sessions from here than it wants, the signal
 * the destination's concurrency window is lowered on (as Postfix's negative concurrency feedback):
 * a 421 or a "too many connections" 4xx before any mail was offered, or a connection closed
 * before the greeting (how many servers drop one over their limit). A host that is down
 * (refused, timed out) is not busy: that is for the down marking.
 */
export function isCongestion(error: SmtpClientError): boolean {
  if (error.phase !== 'greeting' && error.phase !== 'ehlo') return false;
  const reply = error.reply;
  if (reply !== null) return error.temporary && (reply.code === 421 || tooManyWords.test(reply.lines.join(' ')));
  return error.kind === 'network' && error.phase === 'greeting';
}

/** True when an SmtpSendError carries results to decide each recipient by. */
export function hasRecipientResults(error: unknown): error is SmtpSendError {
  return error instanceof SmtpSendError && error.phase !== 'mail' && error.result.recipients.length > 0;
}

/** A verdict for a recipient no host could be tried for (DNS said so, or none answered). */
export function deferred(status: string, diagnostic: string): Verdict {
  return { state: 'deferred', status, diagnostic, remote: false };
}

export function failed(status: string, diagnostic: string): Verdict {
  return { state: 'failed', status, diagnostic, remote: false };
}

/** Longest diagnostic kept from a remote reply: a DSN line quoting it stays within 998 octets. */
const diagnosticLimit = 700;

/**
 * A remote reply as recorded and quoted in a DSN. A peer may send a thousand 4 KiB lines with
 * any octet but LF in them: control characters (a bare CR would break the DSN's header syntax)
 * become spaces, and the text is cut short, so the job record stays small and the notice valid.
 */
function remoteDiagnostic(reply: Reply): string {
  const text = describeReply(reply).replace(/[\x00-\x1f\x7f]+/g, ' ');
  return text.length <= diagnosticLimit ? text : `${text.slice(0, diagnosticLimit - 3)}...`;
}

/** RFC 3463 codes for failures that came with no reply. */
function defaultStatus(error: SmtpClientError): string {
  switch (error.kind) {
    case 'timeout':
      return '4.4.2';
    case 'network':
      return error.phase === 'connect' ? '4.4.1' : '4.4.2';
    case 'tls':
      return '4.7.5';
    case 'protocol':
      return '4.5.0';
    case 'policy':
      // STARTTLS required but not offered (RFC 3463 X.7.4: security features not supported).
      if (error.phase === 'starttls') return '4.7.4';
      return error.temporary ? '4.0.0' : '5.0.0';
    default:
      return error.temporary ? '4.0.0' : '5.0.0';
  }
}
