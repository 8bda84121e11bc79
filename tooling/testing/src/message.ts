/**
 * A small RFC 5322 message for tests: From, To, Subject, any extra header lines, and a body,
 * with CRLF line ends; each agent's harness gives its own defaults.
 */

export interface MessageParts {
  readonly from?: string;
  readonly to?: string;
  readonly subject?: string;
  /** Header lines as they are written, CRLF between them. */
  readonly extraHeaders?: string;
  readonly body?: string;
}

/** The message of `parts`, each missing one taken from `defaults` (subject "hello"). */
export function smallMessage(defaults: { readonly from: string; readonly to: string; readonly body: string }, parts: MessageParts = {}): string {
  return [
    `From: ${parts.from ?? defaults.from}`,
    `To: ${parts.to ?? defaults.to}`,
    `Subject: ${parts.subject ?? 'hello'}`,
    ...(parts.extraHeaders ? [parts.extraHeaders] : []),
    '',
    parts.body ?? defaults.body,
    '',
  ].join('\r\n');
}
